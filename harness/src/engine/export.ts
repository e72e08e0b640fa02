// Exports a model's seeded synthetic weights as a checkpoint folder (config.json + model.safetensors), so a peer that
// cannot run our engine — HF transformers in Python, a Djinn server started with a model folder — loads exactly the
// tensors the engine builds from `syntheticWeights(seed)`. The tensor list comes from the model itself: it is built
// once against a GPU device that records nothing, with a weight source that records every tensor asked for.
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import type { BufferId, GpuDevice } from "@djinn/gpu"
import { directMemory, loadCausalLM, type TensorOut, type WeightSource, writeSafetensors } from "@djinn/engine"
import { resolveSource } from "./host.ts"
import type { ModelSource } from "./work.ts"

/** A GPU that accepts every call and does nothing: enough to construct a model (constructors only upload). */
const nullGpu = (): GpuDevice => {
  let next = 1 as BufferId
  return {
    adapter: {
      vendor: "", architecture: "", device: "null", description: "", backend: "null", features: [], limits: {},
      f16: false, subgroups: false, timestamps: false, subgroupMatrix: false,
    },
    createBuffer: () => next++,
    writeBuffer: () => {},
    destroyBuffer: () => {},
    pipeline: () => 0,
    dispatch: () => {},
    copy: () => {},
    submit: () => {},
    read: async (_b, _o, size) => new Uint8Array(size),
    finish: async () => ({ gpuMs: 0 }),
    checkErrors: async () => {},
    destroy: () => {},
  }
}

/** HF `architectures` for the config.json we write, so `from_pretrained` picks the right head. */
const ARCHITECTURES: Record<string, string> = { gpt2: "GPT2LMHeadModel", llama: "LlamaForCausalLM" }

/** Parameters of a model config, counted by building it on the null GPU (for the size limit of an export). */
export const exportTensors = (source: Extract<ModelSource, { kind: "synthetic" }>): Record<string, TensorOut> => {
  const model = resolveSource(source)
  const tensors: Record<string, TensorOut> = {}
  const recording: WeightSource = {
    kind: model.weights.kind,
    has: (name) => model.weights.has(name),
    get: (name, shape) => {
      const data = model.weights.get(name, shape)
      tensors[name] = { dtype: "F32", shape: [...shape], data }
      return data
    },
  }
  const gpu = nullGpu()
  loadCausalLM(gpu, directMemory(gpu), { ...model, weights: recording }, "f32")
  return tensors
}

/** Writes `dir/config.json` and `dir/model.safetensors` (F32) for a synthetic model; returns the tensor count. */
export const exportSynthetic = (source: Extract<ModelSource, { kind: "synthetic" }>, dir: string): number => {
  const tensors = exportTensors(source)
  mkdirSync(dir, { recursive: true })
  const modelType = String(source.config.model_type)
  const config = { architectures: ARCHITECTURES[modelType] ? [ARCHITECTURES[modelType]] : undefined, ...source.config }
  writeFileSync(join(dir, "config.json"), `${JSON.stringify(config, null, 2)}\n`)
  writeSafetensors(join(dir, "model.safetensors"), tensors)
  return Object.keys(tensors).length
}

const num = (c: Record<string, unknown>, k: string, d = 0): number => (typeof c[k] === "number" ? (c[k] as number) : d)

/** Parameter count from an HF config (gpt2, llama); Infinity when unknown. Decides whether an export is sensible. */
export const paramCount = (c: Record<string, unknown>): number => {
  switch (c.model_type) {
    case "gpt2": {
      const D = num(c, "n_embd"), L = num(c, "n_layer"), F = num(c, "n_inner", 4 * D) || 4 * D
      return num(c, "vocab_size") * D + num(c, "n_positions") * D + L * (4 * D * D + D * F * 2 + 9 * D + F) + 2 * D
    }
    case "llama": {
      const H = num(c, "hidden_size"), L = num(c, "num_hidden_layers"), I = num(c, "intermediate_size")
      const heads = num(c, "num_attention_heads", 1), kv = num(c, "num_key_value_heads", heads)
      const kvDim = (H / heads) * kv
      const embed = num(c, "vocab_size") * H * (c.tie_word_embeddings === true ? 1 : 2)
      return embed + L * (2 * H * H + 2 * H * kvDim + 3 * H * I + 2 * H) + H
    }
    default:
      return Infinity
  }
}

/** Synthetic models up to this many parameters are exported for peers (1 GB as f32); larger ones are not. */
export const EXPORT_LIMIT_PARAMS = 250_000_000
