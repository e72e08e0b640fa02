// The engine hosted in a harness-owned process (the native worker, the rpc server): open the GPU, load one model,
// run inputs. Promise-based on purpose: the hot path stays out of Effect, as in the engine's own CLI.
import { type AdapterDescription, adapterName, type DType, type GpuDevice, openGpu } from "@djinn/gpu"
import {
  type CausalLM, directMemory, forwardLogits, generate, loadCausalLM, type Memory, resolveModel, type ResolvedModel,
  syntheticWeights,
} from "@djinn/engine"
import { registry } from "@djinn/kernels"
import type { ModelJob, ModelSource, WorkInput, WorkOutput } from "./work.ts"

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
  /** Runs one input; `ms` is the engine's wall time from upload to outputs read back. */
  run(input: WorkInput): Promise<{ readonly output: WorkOutput; readonly ms: number }>
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

/** Runs one input on a loaded model: the same call the native worker and the rpc server make. */
export const runInput = async (gpu: GpuDevice, mem: Memory, lm: CausalLM, input: WorkInput): Promise<WorkOutput> => {
  if (input.kind === "generate") {
    const out = await generate(gpu, mem, lm, input.ids, { maxNewTokens: input.newTokens })
    for (const t of [...out.cache.keys, ...out.cache.values]) mem.release({ buffer: t.buffer, offset: t.offset, size: 0 })
    return { kind: "tokens", tokens: out.tokens }
  }
  const all = await forwardLogits(gpu, mem, lm, input.ids)
  const V = lm.vocabSize
  return { kind: "values", shape: [1, V], values: all.slice(all.length - V) }
}

export const openHost = async (job: ModelJob): Promise<EngineHost> => {
  const model = resolveSource(job.model)
  const gpu = await openGpu(registry, {})
  try {
    const mem = directMemory(gpu)
    const dtype = pickDtype(gpu, job.dtype)
    const lm = loadCausalLM(gpu, mem, model, dtype)
    await gpu.checkErrors()
    return {
      info: { adapter: gpu.adapter, gpu: adapterName(gpu.adapter), dtype, weightsSource: model.weightsSource, weightBytes: lm.weightBytes },
      run: async (input) => {
        const started = performance.now()
        const output = await runInput(gpu, mem, lm, input)
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
