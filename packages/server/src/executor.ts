import { adapterName, openGpu, type AdapterDescription, type GpuConfig, type GpuDevice } from "@djinn/gpu"
import { registry } from "@djinn/kernels"
import { Context, Effect, Layer, type Scope } from "effect"
import { Settings } from "./config.ts"
import { toServerError, type ServerError } from "./errors.ts"

/** One GPU the server drives: its device (weights, arenas, stacks live here) and counters. */
export interface GpuSlot {
  readonly index: number
  readonly device: GpuDevice
  readonly adapter: AdapterDescription
  readonly name: string
  readonly config: GpuConfig
  jobs: number
  busyMs: number
  gpuMs: number
}

export interface Execution<A> {
  readonly value: A
  readonly wallMs: number
  /** performance.now() when the job started and when its work resolved (before the error check). */
  readonly startedAt: number
  readonly workEndedAt: number
  /** GPU time from timestamp queries, when the adapter has them and profiling is on. */
  readonly gpuMs: number | undefined
}

export interface RunOptions {
  readonly errorsChecked?: boolean
}

const openDevice = (config: GpuConfig): Effect.Effect<GpuDevice, ServerError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.tryPromise({ try: () => openGpu(registry, config), catch: toServerError }),
    (device) => Effect.sync(() => device.destroy()),
  )

/**
 * The executor: the engine and the GPU, one device per GPU. Jobs run to completion (GPU work cannot stop halfway);
 * the QoS queue decides whose job runs, and holds one turn per GPU, so GPU work is serialised per GPU.
 */
export class Executor extends Context.Service<Executor, {
  readonly slots: ReadonlyArray<GpuSlot>
  readonly profiling: boolean
  /**
   * Runs a job. After its work the device's errors are checked (and charged to the job), unless `errorsChecked`: the
   * work awaited `device.checkErrors()` itself after its last submit (beside its readbacks, so both wait on one poll
   * of the device rather than two in a row).
   */
  readonly run: <A>(gpu: number, work: (device: GpuDevice) => Promise<A>, device?: GpuDevice, options?: RunOptions) => Effect.Effect<Execution<A>, ServerError>
  /** A separate device on a GPU's adapter: a blind client's namespace of buffers and pipelines. */
  readonly openNamespace: (gpu: number) => Effect.Effect<GpuDevice, ServerError, Scope.Scope>
}>()("djinn/server/Executor") {
  static readonly layer = Layer.effect(
    Executor,
    Effect.gen(function* () {
      const settings = yield* Settings
      const adapters = settings.adapters.length === 0 ? [undefined] : settings.adapters
      const slots: GpuSlot[] = []
      for (const [index, adapterName_] of adapters.entries()) {
        const config: GpuConfig = {
          profiling: settings.profiling,
          ...(adapterName_ !== undefined ? { adapterName: adapterName_ } : {}),
          ...(settings.backend !== undefined ? { backend: settings.backend } : {}),
        }
        const device = yield* openDevice(config)
        slots.push({ index, device, adapter: device.adapter, name: adapterName(device.adapter), config, jobs: 0, busyMs: 0, gpuMs: 0 })
      }

      const run = <A>(gpu: number, work: (device: GpuDevice) => Promise<A>, on?: GpuDevice, options?: RunOptions): Effect.Effect<Execution<A>, ServerError> =>
        Effect.tryPromise({
          try: async () => {
            const slot = slots[gpu]
            const device = on ?? slot.device
            const started = performance.now()
            try {
              const value = await work(device)
              const workEndedAt = performance.now()
              // With profiling, finish() sums the timestamps of this job's submits; checkErrors() raises what the GPU
              // reported asynchronously, so a validation error is charged to the job that caused it.
              const timing = settings.profiling && device.adapter.timestamps ? await device.finish() : undefined
              if (options?.errorsChecked !== true) await device.checkErrors()
              const wallMs = performance.now() - started
              slot.jobs++
              slot.busyMs += wallMs
              if (timing !== undefined) slot.gpuMs += timing.gpuMs
              return { value, wallMs, startedAt: started, workEndedAt, gpuMs: timing?.gpuMs }
            } catch (cause) {
              // A job that failed halfway may leave commands recorded: submit them now (they only touch this job's
              // buffers) and drain the errors they raise, so the next job starts clean.
              try { device.submit() } catch { /* the device may be lost */ }
              await device.finish().catch(() => undefined)
              await device.checkErrors().catch(() => undefined)
              throw cause
            }
          },
          catch: toServerError,
        }).pipe(Effect.uninterruptible)

      const openNamespace = (gpu: number) => openDevice(slots[gpu].config)

      return Executor.of({ slots, profiling: settings.profiling, run, openNamespace })
    }),
  )
}
