import { adapterName } from "@djinn/gpu"
import { Console, Effect, Fiber, Layer } from "effect"
import { Blind } from "./blind.ts"
import { Settings, type ServerConfig } from "./config.ts"
import { Connections } from "./connection.ts"
import { toServerError, type ServerError } from "./errors.ts"
import { Executor } from "./executor.ts"
import { Http } from "./http.ts"
import { Inference } from "./inference.ts"
import { Listener } from "./listener.ts"
import { Models } from "./models.ts"
import { Planner } from "./planner.ts"
import { Profiler } from "./profiler.ts"
import { Qos } from "./qos.ts"
import { Sessions } from "./sessions.ts"
import { Skeletonizer } from "./skeletonizer.ts"
import { ServerStats } from "./stats.ts"
import { Vmu } from "./vmu.ts"

/** Models named by --preload are loaded before the listener opens, so the first client finds them resident. */
const Preload = Layer.effectDiscard(Effect.gen(function* () {
  const settings = yield* Settings
  const models = yield* Models
  for (const spec of settings.preload) {
    const m = yield* models.preload(spec)
    yield* Console.error(`preloaded ${m.key.id} (handle ${m.handle}, ${m.paramBytes} bytes, ${m.key.fingerprint.slice(0, 12)}…)`)
  }
}))

/** The whole server as one layer: each stage a service, built in dependency order and torn down in reverse. */
export const serverLayer = (config: ServerConfig) => {
  const gpu = Executor.layer.pipe(Layer.provideMerge(Settings.layer(config)))
  const memory = Layer.mergeAll(Vmu.layer, Qos.layer, Profiler.layer).pipe(Layer.provideMerge(gpu))
  const stages = Layer.mergeAll(Models.layer, Planner.layer, Skeletonizer.layer).pipe(Layer.provideMerge(memory))
  const registry = Sessions.layer.pipe(Layer.provideMerge(stages))
  const pipeline = Layer.mergeAll(Inference.layer, Blind.layer, ServerStats.layer, Preload).pipe(Layer.provideMerge(registry))
  const connections = Connections.layer.pipe(Layer.provideMerge(pipeline))
  return Layer.mergeAll(Listener.layer, Http.layer).pipe(Layer.provideMerge(connections))
}

export interface RunningServer {
  readonly host: string
  readonly port: number
  readonly httpPort: number | undefined
  readonly adapter: string
}

const announce = Effect.gen(function* () {
  const listener = yield* Listener
  const http = yield* Http
  const executor = yield* Executor
  return { host: listener.host, port: listener.port, httpPort: http.port, adapter: executor.slots.map((s) => adapterName(s.adapter)).join("; ") } satisfies RunningServer
})

/** Runs the server until interrupted (SIGINT/SIGTERM under NodeRuntime.runMain); prints one line once it listens. */
export const runServer = (config: ServerConfig): Effect.Effect<never, ServerError> =>
  Effect.gen(function* () {
    const s = yield* announce
    yield* Console.log(`djinn server listening on ${s.host}:${s.port}${s.httpPort === undefined ? "" : ` (http ${s.host}:${s.httpPort})`} — ${s.adapter}`)
    return yield* Effect.never
  }).pipe(Effect.provide(serverLayer(config)), Effect.mapError(toServerError))

/** An in-process server (benchmarks, embedding): resolves once it listens; `stop()` closes everything. */
export const startServer = (config: ServerConfig): Promise<RunningServer & { readonly stop: () => Promise<void> }> =>
  new Promise((resolve, reject) => {
    const fiber = Effect.runFork(Effect.gen(function* () {
      const s = yield* announce
      resolve({ ...s, stop: () => Effect.runPromise(Fiber.interrupt(fiber)).then(() => undefined) })
      return yield* Effect.never
    }).pipe(Effect.provide(serverLayer(config)), Effect.catchCause((cause) => Effect.sync(() => reject(cause)))))
  })
