import type { DType, GpuDevice } from "@djinn/gpu"
import { Schema } from "effect"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { engineError } from "./errors.ts"
import type { Memory } from "./memory.ts"
import { Gpt2, Gpt2Config } from "./models/gpt2.ts"
import { Llama, LlamaConfig } from "./models/llama.ts"
import { Bert, BertConfig } from "./models/bert.ts"
import { ResNet, ResNetConfig, type ResNetOptions } from "./models/resnet.ts"
import type { CausalLM } from "./models/causal-lm.ts"
import { SafetensorsCheckpoint } from "./safetensors.ts"
import { checkpointWeights, syntheticWeights, type WeightSource } from "./weights.ts"

const bundled = (globalThis as { __DJINN_BUNDLED__?: boolean }).__DJINN_BUNDLED__ === true

/** Folder of known model configs (`configs/models/owner--name/config.json`). */
export const knownModelsDir = (): string =>
  fileURLToPath(bundled ? new URL("./configs/models/", import.meta.url) : new URL("../../../configs/models/", import.meta.url))

export interface ModelSpec {
  /** A checkpoint folder: config.json + model.safetensors (or a sharded index). */
  readonly modelDir?: string
  /** A known model id (`sshleifer/tiny-gpt2`, `meta-llama/Llama-2-7b-hf`…): synthetic weights of its shape. */
  readonly modelId?: string
  readonly seed?: number
}

export interface ResolvedModel {
  readonly id: string
  readonly config: Record<string, unknown> & { model_type: string }
  readonly weights: WeightSource
  readonly weightsSource: "checkpoint" | "synthetic"
}

const readConfig = (path: string): Record<string, unknown> & { model_type: string } => {
  if (!existsSync(path)) throw engineError("Config", `${path}: no such file`)
  let parsed: unknown
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"))
  } catch (cause) {
    throw engineError("Config", `${path}: not valid JSON (${(cause as Error).message})`)
  }
  // torchvision checkpoints come with a small descriptor instead of an HF config.
  const arch = (parsed as { architecture?: unknown } | null)?.architecture
  if (typeof arch === "string" && /^torchvision\.models\.resnet\d+$/.test(arch) && (parsed as { model_type?: unknown }).model_type === undefined) {
    return { ...(parsed as Record<string, unknown>), model_type: "resnet" }
  }
  if (typeof parsed !== "object" || parsed === null || typeof (parsed as { model_type?: unknown }).model_type !== "string") {
    throw engineError("Config", `${path}: no model_type`)
  }
  return parsed as Record<string, unknown> & { model_type: string }
}

/** Finds a known model's folder by full id (`owner/name`) or by name alone. */
export const findKnownModel = (id: string, dir = knownModelsDir()): string | undefined => {
  const exact = join(dir, id.replace("/", "--"))
  if (existsSync(join(exact, "config.json"))) return exact
  const byName = readdirSync(dir).filter((d) => d.split("--")[1] === id)
  return byName.length === 1 ? join(dir, byName[0]) : undefined
}

export const resolveModel = (spec: ModelSpec): ResolvedModel => {
  if (spec.modelDir !== undefined) {
    const config = readConfig(join(spec.modelDir, "config.json"))
    return { id: spec.modelDir, config, weights: checkpointWeights(SafetensorsCheckpoint.open(spec.modelDir)), weightsSource: "checkpoint" }
  }
  if (spec.modelId !== undefined) {
    const dir = findKnownModel(spec.modelId)
    if (dir === undefined) throw engineError("Config", `unknown model id '${spec.modelId}' (known: ${readdirSync(knownModelsDir()).filter((d) => d.includes("--")).map((d) => d.replace("--", "/")).join(", ")})`)
    const config = readConfig(join(dir, "config.json"))
    if (existsSync(join(dir, "model.safetensors")) || existsSync(join(dir, "model.safetensors.index.json"))) {
      return { id: spec.modelId, config, weights: checkpointWeights(SafetensorsCheckpoint.open(dir)), weightsSource: "checkpoint" }
    }
    return { id: spec.modelId, config, weights: syntheticWeights(spec.seed ?? 0), weightsSource: "synthetic" }
  }
  throw engineError("Config", "a model needs a model directory or a known model id")
}

const decodeConfig = <A>(schema: Schema.Decoder<A>, config: unknown, id: string): A => {
  try {
    return Schema.decodeUnknownSync(schema)(config)
  } catch (cause) {
    throw engineError("Config", `${id}: invalid config.json: ${(cause as Error).message}`)
  }
}

/** Builds a causal LM on the GPU from a resolved model (weights go to the text segment). */
export const loadCausalLM = (gpu: GpuDevice, mem: Memory, model: ResolvedModel, dtype: DType): CausalLM => {
  switch (model.config.model_type) {
    case "gpt2":
      return new Gpt2(gpu, mem, decodeConfig(Gpt2Config, model.config, model.id), model.weights, dtype)
    case "llama":
      return new Llama(gpu, mem, decodeConfig(LlamaConfig, model.config, model.id), model.weights, dtype)
    default:
      throw engineError("Unsupported", `${model.id}: model_type '${model.config.model_type}' is not a supported causal LM`)
  }
}

/** Builds a text encoder (BERT) from a resolved model. */
export const loadEncoder = (gpu: GpuDevice, mem: Memory, model: ResolvedModel, dtype: DType): Bert => {
  switch (model.config.model_type) {
    case "bert":
      return new Bert(gpu, mem, decodeConfig(BertConfig, model.config, model.id), model.weights, dtype)
    default:
      throw engineError("Unsupported", `${model.id}: model_type '${model.config.model_type}' is not a supported encoder`)
  }
}

/** Builds an image classifier (ResNet, HF or torchvision names) from a resolved model. */
export const loadVision = (gpu: GpuDevice, mem: Memory, model: ResolvedModel, dtype: DType, options: ResNetOptions = {}): ResNet => {
  switch (model.config.model_type) {
    case "resnet":
      return new ResNet(gpu, mem, decodeConfig(ResNetConfig, model.config, model.id), model.weights, dtype, options)
    default:
      throw engineError("Unsupported", `${model.id}: model_type '${model.config.model_type}' is not a supported vision model`)
  }
}

export type ModelKind = "causal-lm" | "encoder" | "vision"

export type LoadedModel =
  | { readonly kind: "causal-lm"; readonly model: CausalLM }
  | { readonly kind: "encoder"; readonly model: Bert }
  | { readonly kind: "vision"; readonly model: ResNet }

/** Which loader a model_type needs. */
export const modelKind = (modelType: string): ModelKind | undefined =>
  modelType === "gpt2" || modelType === "llama" ? "causal-lm" : modelType === "bert" ? "encoder" : modelType === "resnet" ? "vision" : undefined

/** Builds any supported model, tagged with its kind. */
export const loadModel = (gpu: GpuDevice, mem: Memory, model: ResolvedModel, dtype: DType): LoadedModel => {
  switch (modelKind(model.config.model_type)) {
    case "causal-lm":
      return { kind: "causal-lm", model: loadCausalLM(gpu, mem, model, dtype) }
    case "encoder":
      return { kind: "encoder", model: loadEncoder(gpu, mem, model, dtype) }
    case "vision":
      return { kind: "vision", model: loadVision(gpu, mem, model, dtype) }
    default:
      throw engineError("Unsupported", `${model.id}: model_type '${model.config.model_type}' is not supported`)
  }
}
