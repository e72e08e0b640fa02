import type { Priority } from "@djinn/protocol"
import { Context, Deferred, Effect, Layer } from "effect"
import { Settings } from "./config.ts"
import { serverError, type ServerError } from "./errors.ts"
import { Executor } from "./executor.ts"
import { QosCore, type ClassStats } from "./qos-core.ts"

export interface QosStats {
  readonly classes: Readonly<Record<Priority, ClassStats>>
  readonly gpusBusy: ReadonlyArray<boolean>
}

/**
 * Admission and the QoS queue: priority classes (realtime > interactive > batch) with per-class concurrency limits
 * and queue bounds, FIFO within a class, and one executor turn per GPU — so GPU work is serialised per GPU.
 */
export class Qos extends Context.Service<Qos, {
  /** Waits for a turn on `gpu`, runs `effect` holding it, and reports how long the request waited. */
  readonly run: <A, E, R>(priority: Priority, gpu: number, effect: Effect.Effect<A, E, R>) => Effect.Effect<{ readonly value: A; readonly queueMs: number }, E | ServerError, R>
  readonly stats: () => QosStats
}>()("djinn/server/Qos") {
  static readonly layer = Layer.effect(
    Qos,
    Effect.gen(function* () {
      const settings = yield* Settings
      const executor = yield* Executor
      const gpus = executor.slots.length
      const perGpu = (l: { concurrency: number; maxQueued: number }) => ({ concurrency: l.concurrency === 0 ? gpus : l.concurrency, maxQueued: l.maxQueued })
      const core = new QosCore(gpus, { realtime: perGpu(settings.qos.realtime), interactive: perGpu(settings.qos.interactive), batch: perGpu(settings.qos.batch) })

      const run = <A, E, R>(priority: Priority, gpu: number, effect: Effect.Effect<A, E, R>): Effect.Effect<{ readonly value: A; readonly queueMs: number }, E | ServerError, R> =>
        Effect.uninterruptibleMask((restore): Effect.Effect<{ readonly value: A; readonly queueMs: number }, E | ServerError, R> => {
          const enqueuedAt = performance.now()
          // Granted during enqueue (the GPU was free and the class under its limit): no wait, so nothing to interrupt.
          const turn: { granted: boolean; deferred: Deferred.Deferred<void> | undefined } = { granted: false, deferred: undefined }
          const waiter = core.enqueue(priority, gpu, () => {
            if (turn.deferred !== undefined) Deferred.doneUnsafe(turn.deferred, Effect.void)
            else turn.granted = true
          }, enqueuedAt)
          if (waiter === undefined) {
            return Effect.fail(serverError("Overloaded", `the ${priority} queue is full (${settings.qos[priority].maxQueued} waiting)`))
          }
          const release = Effect.sync(() => core.done(priority, gpu))
          if (turn.granted) {
            // The time spent queueing ends here, before the job runs (not after it: that would count its execution).
            const queueMs = performance.now() - enqueuedAt
            return restore(effect).pipe(Effect.map((value) => ({ value, queueMs })), Effect.ensuring(release))
          }
          const granted = (turn.deferred = Deferred.makeUnsafe<void>())
          return restore(Deferred.await(granted)).pipe(
            // Interrupted while waiting: leave the queue, or hand back a turn granted in the meantime.
            Effect.onInterrupt(() => Effect.sync(() => { if (!core.cancel(waiter)) core.done(priority, gpu) })),
            Effect.flatMap(() => {
              const queueMs = performance.now() - enqueuedAt
              return restore(effect).pipe(Effect.map((value) => ({ value, queueMs })), Effect.ensuring(release))
            }),
          )
        })

      return Qos.of({ run, stats: () => ({ classes: core.stats(), gpusBusy: [...core.gpuBusy()] }) })
    }),
  )
}
