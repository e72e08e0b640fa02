import { Console, Effect, Option, Result } from "effect"
import { Command, Flag } from "effect/cli"
import { DEFAULTS, ENV, resolveConfig, type ConfigInput } from "./config.ts"
import { runServer } from "./server.ts"

const env = (key: keyof ConfigInput) => ENV[key].join(" or ")
const described = <A>(flag: Flag.Flag<A>, what: string, key: keyof ConfigInput, fallback?: string | number) =>
  flag.pipe(Flag.withDescription(`${what} [env ${env(key)}${fallback === undefined ? "" : `; default ${fallback}`}]`), Flag.optional)

const flags = {
  host: described(Flag.String("host"), "address to listen on", "host", DEFAULTS.host),
  port: described(Flag.Int("port"), "TCP port of the djinn protocol (0 = any free port)", "port", DEFAULTS.port),
  httpPort: described(Flag.Int("http-port"), "port of the OpenAI-compatible HTTP endpoint (off when unset)", "httpPort"),
  adapter: described(Flag.String("adapter"), "GPU adapter name substring; comma-separated for several GPUs", "adapter"),
  backend: described(Flag.String("backend"), "Dawn backend (vulkan, metal, d3d12)", "backend"),
  arenaMb: described(Flag.Finite("arena-mb"), "default KV arena per session, MB", "arenaMb", DEFAULTS.arenaMb),
  stackMb: described(Flag.Finite("stack-mb"), "activation stack per GPU, MB", "stackMb", DEFAULTS.stackMb),
  preload: described(Flag.String("preload"), "models to load at start: known ids (synthetic weights) or checkpoint dirs, comma-separated", "preload"),
  authToken: described(Flag.String("auth-token"), "token clients must present in Hello (and HTTP clients as Bearer)", "authToken"),
  maxFrameMb: described(Flag.Finite("max-frame-mb"), "largest frame accepted, MB", "maxFrameMb", DEFAULTS.maxFrameMb),
  dtype: described(Flag.Literals("dtype", ["auto", "f32", "f16"]), "weights and activations (auto = f32)", "dtype", DEFAULTS.dtype),
  profiling: described(Flag.Literals("profiling", ["on", "off"]), "GPU timestamps in every reply's profile", "profiling", DEFAULTS.profiling),
  traceRequests: described(Flag.Literals("trace-requests", ["on", "off"]), "per-request timestamps (frame in → reply written) in server-stats' traces", "traceRequests", DEFAULTS.traceRequests),
  qos: described(Flag.String("qos"), "per class concurrency:maxQueued (concurrency 0 = one per GPU), e.g. realtime=2:64,batch=1:1024", "qos", DEFAULTS.qos),
} as const

type Flags = { readonly [K in keyof typeof flags]: Option.Option<unknown> }

const toInput = (f: Flags): ConfigInput =>
  Object.fromEntries(Object.entries(f).flatMap(([k, v]) => (Option.isSome(v) ? [[k, v.value]] : []))) as ConfigInput

/**
 * `serve`: the server's command line. Flags win over the environment, which wins over defaults; `env` is read once by
 * the caller (main) and passed in.
 */
export const serveCommand = (environment: Readonly<Record<string, string | undefined>>) =>
  Command.make("serve", flags, (f) =>
    Effect.gen(function* () {
      const config = resolveConfig(toInput(f as Flags), environment)
      if (Result.isFailure(config)) {
        yield* Console.error(`djinn serve: invalid configuration: ${config.failure.message}`)
        process.exitCode = 2
        return
      }
      yield* runServer(config.success).pipe(
        Effect.catch((e) => Console.error(`djinn serve: ${e.reason}: ${e.message}`).pipe(Effect.andThen(Effect.sync(() => { process.exitCode = 1 })))),
      )
    })).pipe(Command.withDescription("Run a djinn GPU server (djinn protocol over TCP; OpenAI-compatible HTTP with --http-port)"))
