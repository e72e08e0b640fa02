// The engine hosted in a harness-owned process (the native worker, the rpc server) or on a RemoteGpu (the blind
// client): open the GPU, load one model, run inputs. Promise-based on purpose: the hot path stays out of Effect, as in
// the engine's own CLI.
import { type AdapterDescription, adapterName, type DType, type GpuDevice, openGpu } from "@djinn/gpu"
import {
  forwardEncoder, forwardLastLogits, pooledMemory, forwardVision, generate, type LoadedModel, loadModel, type Memory,
  resolveModel, type ResolvedModel, syntheticWeights,
} from "@djinn/engine"
import { registry } from "@djinn/kernels"
import { type ModelJob, type ModelSource, pixels, type WorkInput, type WorkOutput } from "./work.ts"

export interface HostInfo {
  readonly adapter: AdapterDescription
  readonly gpu: string
  /** The arithmetic actually used (float16 asks for f16 storage where the adapter has shader-f16). */
  readonly dtype: DType
  readonly weightsSource: "checkpoint" | "synthetic"
  readonly weightBytes: number
}

export interface EngineHost {
  readonly info: HostInfo
  /** Runs one input (a classify input's pixels given, or made from its seed); `ms` is the engine's wall time. */
  run(input: WorkInput, images?: Float32Array): Promise<{ readonly output: WorkOutput; readonly ms: number }>
  close(): void
}

export const resolveSource = (source: ModelSource): ResolvedModel => {
  if (source.kind === "checkpoint") return resolveModel({ modelDir: source.dir })
  const config = source.config as Record<string, unknown> & { model_type: string }
  if (typeof config.model_type !== "string") throw new Error(`${source.id}: model_config has no model_type`)
  return { id: source.id, config, weights: syntheticWeights(source.seed), weightsSource: "synthetic" }
}

export const pickDtype = (gpu: GpuDevice, requested: ModelJob["dtype"]): DType =>
  requested === "float16" && gpu.adapter.f16 ? "f16" : "f32"

const mismatch = (model: LoadedModel, input: WorkInput) => new Error(`a ${model.kind} model cannot run a '${input.kind}' input`)

/**
 * Runs one input on a loaded model: the same calls the native worker, the rpc server and the blind client make.
 * `images` are a classify input's pixels when the caller made them already (outside its timing).
 */
export const runInput = async (gpu: GpuDevice, mem: Memory, model: LoadedModel, input: WorkInput, images?: Float32Array): Promise<WorkOutput> => {
  switch (input.kind) {
    case "generate": {
      if (model.kind !== "causal-lm") throw mismatch(model, input)
      const out = await generate(gpu, mem, model.model, input.ids, { maxNewTokens: input.newTokens })
      for (const t of [...out.cache.keys, ...out.cache.values]) mem.release({ buffer: t.buffer, offset: t.offset, size: 0 })
      return { kind: "tokens", tokens: out.tokens }
    }
    case "forward": {
      if (model.kind !== "causal-lm") throw mismatch(model, input)
      // Only the last position's logits are compared (as the PyTorch peers return): no [T, V] readback.
      const last = await forwardLastLogits(gpu, mem, model.model, input.ids)
      return { kind: "values", shape: [1, model.model.vocabSize], values: last }
    }
    case "encode": {
      if (model.kind !== "encoder") throw mismatch(model, input)
      const out = await forwardEncoder(gpu, mem, model.model, { inputIds: Int32Array.from(input.ids), B: input.batch, S: input.seq })
      return { kind: "values", shape: [input.batch, input.seq, out.lastHiddenState.length / (input.batch * input.seq)], values: out.lastHiddenState }
    }
    case "classify": {
      if (model.kind !== "vision") throw mismatch(model, input)
      const logits = await forwardVision(gpu, mem, model.model, images ?? pixels(input), input.shape)
      return { kind: "values", shape: [input.shape[0], logits.length / input.shape[0]], values: logits }
    }
  }
}

export const openHost = async (job: ModelJob): Promise<EngineHost> => {
  const model = resolveSource(job.model)
  const gpu = await openGpu(registry, {})
  try {
    const mem = pooledMemory(gpu) // a caching allocator, as a framework (PyTorch) has: no buffer creation per request
    const dtype = pickDtype(gpu, job.dtype)
    const loaded = loadModel(gpu, mem, model, dtype)
    await gpu.checkErrors()
    return {
      info: { adapter: gpu.adapter, gpu: adapterName(gpu.adapter), dtype, weightsSource: model.weightsSource, weightBytes: loaded.model.weightBytes },
      run: async (input, given) => {
        // Inputs made from a seed (images) are made before the clock starts: only the engine call is timed.
        const images = given ?? (input.kind === "classify" ? pixels(input) : undefined)
        const started = performance.now()
        const output = await runInput(gpu, mem, loaded, input, images)
        const ms = performance.now() - started
        await gpu.checkErrors()
        return { output, ms }
      },
      close: () => gpu.destroy(),
    }
  } catch (e) {
    gpu.destroy()
    throw e
  }
}
