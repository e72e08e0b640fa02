import { Context, Effect, Layer } from "effect"
import { Settings } from "./config.ts"
import { Executor } from "./executor.ts"
import { Models } from "./models.ts"
import { Planner } from "./planner.ts"
import { Profiler } from "./profiler.ts"
import { Qos } from "./qos.ts"
import { Sessions } from "./sessions.ts"
import { Vmu } from "./vmu.ts"

export interface ConnectionStats {
  readonly id: string
  readonly remote: string
  readonly sessions: number
  readonly blind: boolean
  readonly messagesIn: number
  readonly bytesIn: number
  readonly bytesOut: number
  readonly ageMs: number
}

/**
 * The server's state as one JSON document (StatsReply, `djinn server-stats`): the adapter, sessions, VMU segment use,
 * models, QoS queues, the plan cache and per-kind phase times.
 */
export class ServerStats extends Context.Service<ServerStats, {
  readonly setAddress: (kind: "tcp" | "http", address: string) => void
  readonly snapshot: (connections: ReadonlyArray<ConnectionStats>) => Record<string, unknown>
}>()("djinn/server/ServerStats") {
  static readonly layer = Layer.effect(
    ServerStats,
    Effect.gen(function* () {
      const settings = yield* Settings
      const executor = yield* Executor
      const vmu = yield* Vmu
      const models = yield* Models
      const sessions = yield* Sessions
      const qos = yield* Qos
      const planner = yield* Planner
      const profiler = yield* Profiler
      const addresses: Record<string, string> = {}
      const started = Date.now()

      const snapshot = (connections: ReadonlyArray<ConnectionStats>) => ({
        server: {
          name: settings.serverName,
          addresses,
          uptimeS: (Date.now() - started) / 1000,
          dtype: settings.dtype,
          profiling: settings.profiling,
          defaultArenaBytes: settings.arenaBytes,
          pid: process.pid,
          // The process's CPU time so far (user, system): a benchmark's per-request CPU cost, robust to a busy host.
          cpuMs: (({ user, system }) => ({ user: user / 1000, system: system / 1000 }))(process.cpuUsage()),
        },
        gpus: executor.slots.map((s) => ({ index: s.index, name: s.name, jobs: s.jobs, busyMs: s.busyMs, gpuMs: s.gpuMs, adapter: s.adapter })),
        sessions: sessions.list(),
        vmu: { ...vmu.stats(), sessions: sessions.count(), models: models.list().length },
        models: models.stats(),
        connections,
        qos: qos.stats(),
        planner: planner.stats(),
        requests: profiler.stats(),
      })

      return ServerStats.of({ setAddress: (kind, address) => { addresses[kind] = address }, snapshot })
    }),
  )
}
