import { adapterName, GpuError, openGpu, type DType, type GpuConfig, type GpuDevice } from "@djinn/gpu"
import { EngineError } from "@djinn/engine"
import { registry } from "@djinn/kernels"
import { Data, Effect } from "effect"

/** A user-facing failure: printed as one line on stderr, exit code 1. */
export class CliFailure extends Data.TaggedError("CliFailure")<{ readonly message: string }> {}

const describe = (cause: unknown): string => {
  if (cause instanceof EngineError || cause instanceof GpuError) return `${cause.reason}: ${cause.message}`
  if (cause instanceof CliFailure) return cause.message
  return cause instanceof Error ? cause.message : String(cause)
}

/** Runs engine work (Promise-based, hot loops stay out of Effect) with a scoped GPU device. */
export const withGpu = <A>(config: GpuConfig, f: (gpu: GpuDevice) => Promise<A>): Effect.Effect<A, CliFailure> =>
  Effect.acquireUseRelease(
    Effect.tryPromise({ try: () => openGpu(registry, config), catch: (e) => new CliFailure({ message: describe(e) }) }),
    (gpu) => Effect.tryPromise({ try: () => f(gpu), catch: (e) => new CliFailure({ message: describe(e) }) }),
    (gpu) => Effect.sync(() => gpu.destroy()),
  )

export const attempt = <A>(f: () => A): Effect.Effect<A, CliFailure> =>
  Effect.try({ try: f, catch: (e) => new CliFailure({ message: describe(e) }) })

/** The dtype to compute in: f16 only where the adapter has shader-f16. */
export const pickDtype = (gpu: GpuDevice, requested: "auto" | DType): DType => {
  if (requested === "f16" && !gpu.adapter.f16) throw new CliFailure({ message: `--dtype f16: ${adapterName(gpu.adapter)} has no shader-f16` })
  return requested === "auto" ? "f32" : requested
}

export const parseIds = (text: string): number[] => {
  const parts = text.split(",").map((s) => s.trim()).filter((s) => s !== "")
  const ids = parts.map(Number)
  if (ids.length === 0 || ids.some((x) => !Number.isInteger(x) || x < 0)) throw new CliFailure({ message: `--input-ids: expected comma-separated non-negative integers, got '${text}'` })
  return ids
}
