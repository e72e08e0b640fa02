import { Context, Effect, Layer } from "effect"
import { GpuError, gpuError } from "./errors.ts"
import { openGpu, type GpuConfig } from "./open.ts"
import type { GpuDevice, KernelRegistry } from "./types.ts"

/** The GPU device as an Effect service: acquired once per scope, destroyed when the scope closes. */
export class Gpu extends Context.Service<Gpu, GpuDevice>()("djinn/gpu/Gpu") {
  static readonly layer = (kernels: KernelRegistry, config: GpuConfig = {}): Layer.Layer<Gpu, GpuError> =>
    Layer.effect(
      Gpu,
      Effect.acquireRelease(
        Effect.tryPromise({
          try: () => openGpu(kernels, config),
          catch: (cause) => (cause instanceof GpuError ? cause : gpuError("Internal", String(cause))),
        }),
        (device) => Effect.sync(() => device.destroy()),
      ),
    )
}
