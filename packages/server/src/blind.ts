import type { BufferId, Dispatch, DType, GpuDevice, PipelineId, Variant } from "@djinn/gpu"
import type { GpuCall } from "@djinn/protocol"
import { Context, Effect, Layer, Scope } from "effect"
import { serverError, toServerError, type ServerError } from "./errors.ts"
import { Executor } from "./executor.ts"
import { Planner } from "./planner.ts"
import { Qos } from "./qos.ts"
import type { RequestClock } from "./profiler.ts"
import { Vmu } from "./vmu.ts"

/** `kernel|dtype|defines|constants` (the GPU package's variant key) → the variant it was made from. */
export const parseVariantKey = (kernelId: string, key: string): Variant => {
  const parts = key.split("|")
  if (parts.length !== 4 || parts[0] !== kernelId) throw serverError("BadRequest", `variant key '${key}' is not of the form ${kernelId}|dtype|defines|constants`)
  const [, dtype, defines, constants] = parts
  if (dtype !== "f32" && dtype !== "f16") throw serverError("BadRequest", `variant key '${key}': dtype ${dtype}`)
  const variant: { dtype: DType; defines?: string[]; constants?: Record<string, number> } = { dtype }
  if (defines !== "") variant.defines = defines.split(",")
  if (constants !== "") {
    variant.constants = {}
    for (const kv of constants.split(",")) {
      const [k, v] = kv.split("=")
      const n = Number(v)
      if (k === "" || v === undefined || !Number.isFinite(n)) throw serverError("BadRequest", `variant key '${key}': constant '${kv}'`)
      variant.constants[k] = n
    }
  }
  return variant
}

/**
 * A blind client's namespace: a device of its own on the server's GPU (its buffers, pipelines and errors stay apart
 * from everyone else's), with the client's buffer and pipeline ids mapped to the device's. Freed on disconnect.
 */
export class BlindNamespace {
  readonly device: GpuDevice
  readonly gpu: number
  private readonly buffers = new Map<number, { id: BufferId; size: number }>()
  private readonly pipelines = new Map<number, PipelineId>()
  bytes = 0
  submits = 0

  constructor(device: GpuDevice, gpu: number) {
    this.device = device
    this.gpu = gpu
  }

  private buffer(id: number): BufferId {
    const b = this.buffers.get(id)
    if (b === undefined) throw serverError("BadRequest", `unknown buffer id ${id}`)
    return b.id
  }

  /** Runs a batch of calls as one submit; returns the bytes of its reads, in order. */
  async execute(calls: ReadonlyArray<GpuCall>): Promise<Uint8Array[]> {
    const reads: Uint8Array[] = []
    const device = this.device
    for (const call of calls) {
      switch (call._tag) {
        case "CreateBuffer": {
          if (this.buffers.has(call.bufferId)) throw serverError("BadRequest", `buffer id ${call.bufferId} is in use`)
          this.buffers.set(call.bufferId, { id: device.createBuffer(call.size), size: call.size })
          this.bytes += call.size
          break
        }
        case "WriteBuffer":
          device.writeBuffer(this.buffer(call.bufferId), call.offset, call.data)
          break
        case "ReadBuffer":
          reads.push(await device.read(this.buffer(call.bufferId), call.offset, call.size))
          break
        case "DestroyBuffer": {
          const b = this.buffers.get(call.bufferId)
          if (b === undefined) break
          device.destroyBuffer(b.id)
          this.buffers.delete(call.bufferId)
          this.bytes -= b.size
          break
        }
        case "CreatePipeline":
          this.pipelines.set(call.pipelineId, device.pipeline(call.kernelId, parseVariantKey(call.kernelId, call.variantKey)))
          break
        case "Dispatch": {
          const pipeline = this.pipelines.get(call.pipelineId)
          if (pipeline === undefined) throw serverError("BadRequest", `unknown pipeline id ${call.pipelineId}`)
          const bindings = new Array<Dispatch["bindings"][number]>(call.bindings.length)
          for (const b of call.bindings) {
            if (b.slot >= bindings.length || bindings[b.slot] !== undefined) throw serverError("BadRequest", `binding slots must be 0…${bindings.length - 1}, once each`)
            bindings[b.slot] = b.size === 0 ? { buffer: this.buffer(b.bufferId), offset: b.offset } : { buffer: this.buffer(b.bufferId), offset: b.offset, size: b.size }
          }
          device.dispatch({
            pipeline,
            bindings,
            ...(call.uniforms.byteLength > 0 ? { uniforms: call.uniforms } : {}),
            workgroups: call.workgroups,
          })
          break
        }
      }
    }
    device.submit()
    this.submits++
    return reads
  }
}

/**
 * Semantic-blind execution: GpuSubmit batches run on the caller's namespace, one executor turn per batch (QoS class
 * interactive — a blind client has no hints). An empty batch is the client's `finish()`: it returns once the GPU is
 * idle, with the GPU time of the submits since the last one.
 */
export class Blind extends Context.Service<Blind, {
  readonly open: (scope: Scope.Scope) => Effect.Effect<BlindNamespace, ServerError>
  readonly submit: (ns: BlindNamespace, calls: ReadonlyArray<GpuCall>, clock: RequestClock) => Effect.Effect<Uint8Array[], ServerError>
}>()("djinn/server/Blind") {
  static readonly layer = Layer.effect(
    Blind,
    Effect.gen(function* () {
      const executor = yield* Executor
      const qos = yield* Qos
      const vmu = yield* Vmu
      const planner = yield* Planner

      const open = (scope: Scope.Scope) =>
        Effect.gen(function* () {
          // A blind client has no hints: it goes where the planner would put a default session.
          const gpu = planner.place({ phase: "auto", priority: "interactive", expectedTokens: 0, kvBudgetBytes: 0, finalize: false })
          const device = yield* executor.openNamespace(gpu)
          yield* Effect.acquireRelease(Effect.sync(() => vmu.blindNamespace(gpu, 1)), () => Effect.sync(() => vmu.blindNamespace(gpu, -1)))
          return new BlindNamespace(device, gpu)
        }).pipe(Scope.provide(scope))

      const submit = (ns: BlindNamespace, calls: ReadonlyArray<GpuCall>, clock: RequestClock) =>
        qos.run("interactive", ns.gpu, Effect.tryPromise({
          try: async () => {
            const started = performance.now()
            if (calls.length === 0) {
              const { gpuMs } = await ns.device.finish()
              await ns.device.checkErrors()
              clock.executionWallMs = performance.now() - started
              clock.executionMs = executor.profiling && ns.device.adapter.timestamps ? gpuMs : clock.executionWallMs
              return []
            }
            const reads = await ns.execute(calls)
            if (reads.length > 0) await ns.device.checkErrors()
            clock.executionMs = clock.executionWallMs = performance.now() - started
            return reads
          },
          catch: toServerError,
        }).pipe(Effect.uninterruptible)).pipe(
          Effect.map(({ value, queueMs }) => {
            clock.queueMs = queueMs
            return value
          }),
        )

      return Blind.of({ open, submit })
    }),
  )
}
