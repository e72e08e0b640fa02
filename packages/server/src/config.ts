import { DEFAULT_MAX_FRAME_BYTES, PRIORITIES, type Priority } from "@djinn/protocol"
import { Context, Layer, Result, Schema } from "effect"
import { serverError, type ServerError } from "./errors.ts"

const MB = 1024 * 1024
const Port = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 65535 }))
const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0))

/** Per priority class: how many requests may run at once over all GPUs (0 = one per GPU) and how many may wait. */
export const ClassLimits = Schema.Struct({ concurrency: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)), maxQueued: PositiveInt })
export type ClassLimits = typeof ClassLimits.Type

export const ServerConfig = Schema.Struct({
  host: Schema.NonEmptyString,
  /** 0 = any free port (the bound one is printed and in stats). */
  port: Port,
  httpPort: Schema.optionalKey(Port),
  /** One GPU per entry (a substring of the adapter name); empty = the default adapter. */
  adapters: Schema.Array(Schema.String),
  backend: Schema.optionalKey(Schema.String),
  arenaBytes: PositiveInt,
  stackBytes: PositiveInt,
  preload: Schema.Array(Schema.NonEmptyString),
  authToken: Schema.optionalKey(Schema.NonEmptyString),
  maxFrameBytes: Schema.Int.check(Schema.isBetween({ minimum: 4096, maximum: 2 ** 31 })),
  dtype: Schema.Literals(["auto", "f32", "f16"]),
  profiling: Schema.Boolean,
  /** Keep per-request timestamps of the semantic path (frame in → reply written) for StatsReply's `traces`. */
  traceRequests: Schema.Boolean,
  qos: Schema.Struct({ realtime: ClassLimits, interactive: ClassLimits, batch: ClassLimits }),
  serverName: Schema.String,
})
export type ServerConfig = typeof ServerConfig.Type

/** Raw settings as flags give them (already typed) — every key optional; env and defaults fill the rest. */
export interface ConfigInput {
  readonly host?: string
  readonly port?: number
  readonly httpPort?: number
  readonly adapter?: string
  readonly backend?: string
  readonly arenaMb?: number
  readonly stackMb?: number
  readonly preload?: string
  readonly authToken?: string
  readonly maxFrameMb?: number
  readonly dtype?: string
  readonly profiling?: string
  readonly traceRequests?: string
  readonly qos?: string
}

/** The environment variables each setting falls back to (first set wins). The seed's GENIE_ names are accepted. */
export const ENV: Readonly<Record<keyof ConfigInput, readonly string[]>> = {
  host: ["DJINN_HOST"],
  port: ["DJINN_PORT"],
  httpPort: ["DJINN_HTTP_PORT"],
  adapter: ["DJINN_ADAPTER"],
  backend: ["DJINN_BACKEND"],
  arenaMb: ["DJINN_SESSION_ARENA_MB", "GENIE_VMU_SESSION_ARENA_MB"],
  stackMb: ["DJINN_STACK_MB"],
  preload: ["DJINN_PRELOAD"],
  authToken: ["DJINN_AUTH_TOKEN"],
  maxFrameMb: ["DJINN_MAX_FRAME_MB"],
  dtype: ["DJINN_DTYPE"],
  profiling: ["DJINN_PROFILING", "GENIE_ENABLE_PROFILING"],
  traceRequests: ["DJINN_TRACE_REQUESTS"],
  qos: ["DJINN_QOS"],
}

export const DEFAULTS = {
  host: "127.0.0.1",
  port: 5556,
  arenaMb: 128,
  stackMb: 256,
  maxFrameMb: DEFAULT_MAX_FRAME_BYTES / MB,
  dtype: "auto",
  // Off by default: @djinn/gpu resolves timestamp queries at 16-byte offsets (WebGPU needs 256), which makes every
  // timed submit after the first invalid. Turn on once that is fixed.
  profiling: "off",
  traceRequests: "off",
  qos: "realtime=0:64,interactive=0:256,batch=0:1024",
} as const

const envValue = (env: Readonly<Record<string, string | undefined>>, key: keyof ConfigInput): string | undefined => {
  for (const name of ENV[key]) {
    const v = env[name]
    if (v !== undefined && v !== "") return v
  }
  return undefined
}

const list = (s: string | undefined): string[] => (s ?? "").split(",").map((x) => x.trim()).filter((x) => x !== "")

const onOff = (s: string): boolean | string => {
  const v = s.toLowerCase()
  if (["on", "true", "1", "yes"].includes(v)) return true
  if (["off", "false", "0", "no"].includes(v)) return false
  return s
}

/** `realtime=2:64,batch=1` → per-class {concurrency, maxQueued}; classes not named keep the defaults. */
const parseQos = (spec: string): Record<Priority, { concurrency: number; maxQueued: number }> => {
  const out = {} as Record<Priority, { concurrency: number; maxQueued: number }>
  for (const part of list(DEFAULTS.qos).concat(list(spec))) {
    const [name, value] = part.split("=")
    const [c, q] = (value ?? "").split(":")
    const prev = out[name as Priority] ?? { concurrency: 0, maxQueued: 256 }
    out[name as Priority] = { concurrency: c === undefined || c === "" ? prev.concurrency : Number(c), maxQueued: q === undefined ? prev.maxQueued : Number(q) }
  }
  for (const name of Object.keys(out)) {
    if (!(PRIORITIES as readonly string[]).includes(name)) delete out[name as Priority]
  }
  return out
}

const decode = Schema.decodeUnknownResult(ServerConfig)

/** Flags, then environment, then defaults; validated by the ServerConfig schema. */
export const resolveConfig = (flags: ConfigInput, env: Readonly<Record<string, string | undefined>>): Result.Result<ServerConfig, ServerError> => {
  const pick = <K extends keyof ConfigInput>(key: K): ConfigInput[K] | string | undefined => flags[key] ?? envValue(env, key)
  const num = (key: keyof ConfigInput, fallback?: number): number | undefined => {
    const v = pick(key)
    return v === undefined ? fallback : typeof v === "number" ? v : Number(v)
  }
  const mb = (key: keyof ConfigInput, fallback: number) => Math.round((num(key, fallback) ?? fallback) * MB)
  const raw: Record<string, unknown> = {
    host: pick("host") ?? DEFAULTS.host,
    port: num("port", DEFAULTS.port),
    adapters: list(pick("adapter") as string | undefined),
    arenaBytes: mb("arenaMb", DEFAULTS.arenaMb),
    stackBytes: mb("stackMb", DEFAULTS.stackMb),
    preload: list(pick("preload") as string | undefined),
    maxFrameBytes: mb("maxFrameMb", DEFAULTS.maxFrameMb),
    dtype: pick("dtype") ?? DEFAULTS.dtype,
    profiling: onOff(String(pick("profiling") ?? DEFAULTS.profiling)),
    traceRequests: onOff(String(pick("traceRequests") ?? DEFAULTS.traceRequests)),
    qos: parseQos(String(pick("qos") ?? "")),
    serverName: "djinn-server/0.1.0",
  }
  const httpPort = num("httpPort")
  if (httpPort !== undefined) raw.httpPort = httpPort
  const backend = pick("backend")
  if (backend !== undefined) raw.backend = backend
  const authToken = pick("authToken")
  if (authToken !== undefined) raw.authToken = authToken
  const decoded = decode(raw)
  return Result.isFailure(decoded) ? Result.fail(serverError("Config", decoded.failure.message)) : Result.succeed(decoded.success)
}

/** The validated configuration, as a service every stage reads. */
export class Settings extends Context.Service<Settings, ServerConfig>()("djinn/server/Settings") {
  static readonly layer = (config: ServerConfig): Layer.Layer<Settings> => Layer.succeed(Settings, config)
}
