// Exports a model's seeded synthetic weights as a checkpoint folder (config.json + model.safetensors), so a peer that
// cannot run our engine — HF transformers in Python, a Djinn server started with a model folder — loads exactly the
// tensors the engine builds from `syntheticWeights(seed)`. The tensor list comes from the model itself: it is built
// once against a GPU device that records nothing, with a weight source that records every tensor asked for.
//
// ResNets need more: the engine folds BatchNorm into each convolution at load, and its synthetic ResNet fills the
// FOLDED weight and bias directly (conv weight ← the conv's generator, bias ← the BatchNorm bias's). So the export
// writes each BatchNorm as the identity plus that bias — gamma 1, beta = the bias, running_mean 0, running_var 1 − eps
// — which folds back to exactly the same conv (scale 1/√(1 − eps + eps) rounds to 1 in f32). A torchvision-named
// model is written under HF names (`ResNetForImageClassification`, same topology), which transformers loads directly.
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import type { BufferId, GpuDevice } from "@djinn/gpu"
import {
  type BertConfig, bertTensors, directMemory, loadModel, paramCount as engineParamCount, type ResNetConfig, resnetPlan, type ResNetPlan,
  resnetTensors, type TensorOut, type WeightSource, writeSafetensors,
} from "@djinn/engine"
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
const ARCHITECTURES: Record<string, string> = {
  gpt2: "GPT2LMHeadModel", llama: "LlamaForCausalLM", bert: "BertModel", resnet: "ResNetForImageClassification",
}

/** BatchNorm eps of the engine's fold and of torch's BatchNorm2d. */
const BN_EPS = 1e-5

/** A checkpoint to write: its config and tensors. */
export interface Export {
  readonly config: Record<string, unknown>
  readonly tensors: Record<string, TensorOut>
}

/** BatchNorm parameters that fold to the identity scale (see the top of the file); undefined for other tensors. */
const identityBatchNorm = (plan: ResNetPlan, weights: WeightSource) => {
  const norms = new Set(resnetTensors(plan).filter((t) => t.name.endsWith("running_mean")).map((t) => t.name.slice(0, -"running_mean".length)))
  return (name: string, shape: readonly number[]): Float32Array | undefined => {
    const dot = name.lastIndexOf(".") + 1
    if (!norms.has(name.slice(0, dot))) return undefined
    const n = shape.reduce((a, b) => a * b, 1)
    switch (name.slice(dot)) {
      case "weight": return new Float32Array(n).fill(1)
      case "bias": return weights.get(name, shape)
      case "running_mean": return new Float32Array(n)
      case "running_var": return new Float32Array(n).fill(1 - BN_EPS)
      default: return undefined
    }
  }
}

/** The HF config of a torchvision ResNet plan (bottleneck v1.5, stride on the 3×3: the same network). */
const hfResNetConfig = (plan: ResNetPlan): Record<string, unknown> => {
  const base = plan.stem.cout
  const depths = [1, 2, 3, 4].map((s) => plan.blocks.filter((b) => b.conv1.conv.startsWith(`layer${s}.`)).length)
  return {
    model_type: "resnet", num_channels: plan.inChannels, embedding_size: base, hidden_sizes: [4, 8, 16, 32].map((m) => base * m), depths,
    layer_type: "bottleneck", hidden_act: "relu", downsample_in_first_stage: false, downsample_in_bottleneck: false, num_labels: plan.fc.classes,
  }
}

/** Renames a torchvision ResNet's tensors to HF's: both plans list the same layers in the same order. */
const toHfNames = (plan: ResNetPlan, tensors: Record<string, TensorOut>, hfConfig: Record<string, unknown>): Record<string, TensorOut> => {
  const from = resnetTensors(plan)
  const to = resnetTensors(resnetPlan(hfConfig as unknown as ResNetConfig))
  if (from.length !== to.length || from.some((t, i) => t.shape.join() !== to[i].shape.join())) throw new Error("resnet: the torchvision and HF plans differ")
  return Object.fromEntries(from.map((t, i) => [to[i].name, tensors[t.name]]))
}

/** A synthetic model's checkpoint: every tensor the engine asks for when building it, under the names a peer loads. */
export const exportTensors = (source: Extract<ModelSource, { kind: "synthetic" }>): Export => {
  const model = resolveSource(source)
  const plan = model.config.model_type === "resnet" ? resnetPlan(model.config as unknown as ResNetConfig, model.weights) : undefined
  const override = plan === undefined ? undefined : identityBatchNorm(plan, model.weights)
  const tensors: Record<string, TensorOut> = {}
  const recording: WeightSource = {
    kind: model.weights.kind,
    has: (name) => model.weights.has(name),
    get: (name, shape) => {
      const data = override?.(name, shape) ?? model.weights.get(name, shape)
      tensors[name] = { dtype: "F32", shape: [...shape], data }
      return data
    },
  }
  const gpu = nullGpu()
  loadModel(gpu, directMemory(gpu), { ...model, weights: recording }, "f32")
  const architecture = ARCHITECTURES[model.config.model_type]
  const architectures = architecture === undefined ? undefined : [architecture]
  if (plan?.naming === "torchvision") {
    const config = hfResNetConfig(plan)
    return { config: { architectures, ...config }, tensors: toHfNames(plan, tensors, config) }
  }
  return { config: { architectures, ...source.config }, tensors }
}

/** Writes `dir/config.json` and `dir/model.safetensors` (F32) for a synthetic model; returns the tensor count. */
export const exportSynthetic = (source: Extract<ModelSource, { kind: "synthetic" }>, dir: string): number => {
  const { config, tensors } = exportTensors(source)
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, "config.json"), `${JSON.stringify(config, null, 2)}\n`)
  writeSafetensors(join(dir, "model.safetensors"), tensors)
  return Object.keys(tensors).length
}

const num = (c: Record<string, unknown>, k: string, d = 0): number => (typeof c[k] === "number" ? (c[k] as number) : d)

/** Parameter count from an HF config (gpt2, llama, bert, resnet); Infinity when unknown. Decides whether an export is sensible. */
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
    case "bert":
      return engineParamCount(bertTensors(c as unknown as BertConfig))
    case "resnet":
      return engineParamCount(resnetTensors(resnetPlan(c as unknown as ResNetConfig)))
    default:
      return Infinity
  }
}

/** Synthetic models up to this many parameters are exported for peers (1 GB as f32); larger ones are not. */
export const EXPORT_LIMIT_PARAMS = 250_000_000
