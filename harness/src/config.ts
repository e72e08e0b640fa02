// The suite's YAML config: schema, loading (errors name file and key path) and server-address resolution.
import { createHash } from "node:crypto"
import { Effect, FileSystem, Schema } from "effect"
import { parseDocument } from "yaml"
import { harnessError, type HarnessError, type Issue, issuesOf } from "./errors.ts"

const withDefault = <S extends Schema.Top>(value: S["Encoded"]) => (self: S) =>
  self.pipe(Schema.withDecodingDefaultKey(Effect.succeed(value)))

const Count = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
const Positive = Schema.Int.check(Schema.isGreaterThanOrEqualTo(1))
/** Names become file names (`<workload>__<tag>.json`), so keep them path-safe. */
const Name = Schema.String.check(
  Schema.isPattern(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, { expected: "a name of letters, digits, _ . - (it becomes a file name)" }),
)

export const Dtype = Schema.Literals(["float16", "float32"])
export type Dtype = typeof Dtype.Type

/** Fields every workload has. `model_dir` (relative to the working directory) holds safetensors + config.json; without
 *  it the engine builds seeded synthetic weights of the shape given by `model_config` (HF config.json keys). */
const workloadCommon = {
  name: Name,
  description: Schema.optionalKey(Schema.String),
  model_id: Schema.NonEmptyString,
  model_dir: Schema.optionalKey(Schema.NonEmptyString),
  model_config: Schema.optionalKey(Schema.Record(Schema.String, Schema.Unknown)),
  dtype: Dtype.pipe(withDefault("float16")),
  batch_size: Positive.pipe(withDefault(1)),
  /** KV arena per session on a Djinn server this workload starts (MB); the server's default (128, as the seed) when absent. */
  session_arena_mb: Schema.optionalKey(Positive),
}

/** Autoregressive LM: `new_tokens: 0` is a forward-only (prefill) run. Prompt ids are seeded, greedy decoding. */
export const CausalLmWorkload = Schema.Struct({
  ...workloadCommon,
  implementation: Schema.Literal("hf_causal_lm"),
  category: Schema.Literal("sequential").pipe(withDefault("sequential")),
  params: Schema.Struct({ prompt_length: Positive, new_tokens: Count }),
})
/** Encoder forward (BERT-like) over `seq_len` tokens. The seed calls this implementation `synthetic_transformer`. */
export const EncoderWorkload = Schema.Struct({
  ...workloadCommon,
  implementation: Schema.Literal("synthetic_transformer"),
  category: Schema.Literal("encoder").pipe(withDefault("encoder")),
  params: Schema.Struct({ seq_len: Positive }),
})
/** Image classifier forward over `batch_size` NCHW images. */
export const VisionWorkload = Schema.Struct({
  ...workloadCommon,
  implementation: Schema.Literal("hf_vision"),
  category: Schema.Literal("vision").pipe(withDefault("vision")),
  params: Schema.Struct({ image_size: Positive.pipe(withDefault(224)), channels: Positive.pipe(withDefault(3)) }),
})
export const Workload = Schema.Union([CausalLmWorkload, EncoderWorkload, VisionWorkload]).annotate({
  expected: "a workload with implementation hf_causal_lm | synthetic_transformer | hf_vision",
})
export type Workload = typeof Workload.Type
export type WorkloadCategory = Workload["category"]

export const BASELINE_TYPES = ["native", "remote_djinn", "rpc", "vllm", "native_pytorch", "pytorch_rpc"] as const

const baselineCommon = {
  name: Name,
  description: Schema.optionalKey(Schema.String),
  enabled: Schema.Boolean.pipe(withDefault(true)),
}
/** Address `host:port`; a baseline's own key wins over the experiment's (see resolveServerAddress). */
const Address = Schema.String.check(Schema.isPattern(/^(\[[^\]]+\]|[^\s:[\]]+):\d{1,5}$/, { expected: "host:port" }))

export const Baseline = Schema.Union([
  // Same engine, no network, own process: the upper bound every other baseline is compared with.
  Schema.Struct({ ...baselineCommon, type: Schema.Literal("native"), engine: Schema.Literals(["webgpu", "tfjs"]).pipe(withDefault("webgpu")) }),
  // semantic: one request per generate; blind: op-level remoting of the unchanged engine (RemoteGpu).
  Schema.Struct({ ...baselineCommon, type: Schema.Literal("remote_djinn"), mode: Schema.Literals(["semantic", "blind"]), server_address: Schema.optionalKey(Address) }),
  // A canonical RPC that ships input/output tensors per call, with no semantics.
  Schema.Struct({ ...baselineCommon, type: Schema.Literal("rpc"), server_address: Schema.optionalKey(Address) }),
  // An OpenAI-compatible endpoint (vLLM itself, or any server speaking its API). Without `endpoint`, the sweep starts
  // a Djinn server with its OpenAI-compatible HTTP port and points at that.
  Schema.Struct({ ...baselineCommon, type: Schema.Literal("vllm"), endpoint: Schema.optionalKey(Schema.String), served_model: Schema.optionalKey(Schema.String) }),
  // The real PyTorch peers, where Python with torch exists.
  Schema.Struct({ ...baselineCommon, type: Schema.Literal("native_pytorch"), python: Schema.String.pipe(withDefault("python3")), device: Schema.String.pipe(withDefault("cuda:0")) }),
  Schema.Struct({
    ...baselineCommon,
    type: Schema.Literal("pytorch_rpc"),
    python: Schema.String.pipe(withDefault("python3")),
    device: Schema.String.pipe(withDefault("cuda:0")),
    master_addr: Schema.String.pipe(withDefault("127.0.0.1")),
    master_port: Positive.pipe(withDefault(29500)),
  }),
]).annotate({ expected: `a baseline with type ${BASELINE_TYPES.join(" | ")}` })
export type Baseline = typeof Baseline.Type
export type BaselineType = Baseline["type"]

export const Experiment = Schema.Struct({
  runs: Positive,
  warmup_runs: Count.pipe(withDefault(1)),
  tag: Name,
  result_dir: Schema.NonEmptyString.pipe(withDefault("results/overhead")),
  /** Seeds synthetic weights and prompt/input generation. */
  seed: Count.pipe(withDefault(0)),
  reference_baseline: Name.pipe(withDefault("native")),
  blind_baseline: Name.pipe(withDefault("semantic_blind")),
  target_baseline: Name.pipe(withDefault("full_djinn")),
  djinn_server_address: Schema.optionalKey(Address),
})
export type Experiment = typeof Experiment.Type

export const SuiteConfig = Schema.Struct({
  description: Schema.optionalKey(Schema.String),
  experiment: Experiment,
  workloads: Schema.NonEmptyArray(Workload),
  baselines: Schema.NonEmptyArray(Baseline),
})
export type SuiteConfig = typeof SuiteConfig.Type

export interface LoadedConfig {
  readonly file: string
  readonly config: SuiteConfig
  /** sha256 of the canonical JSON of the decoded config (defaults applied, keys sorted): comments don't change it. */
  readonly hash: string
}

/** Cross-key rules the schema cannot express. */
const crossCheck = (c: SuiteConfig): ReadonlyArray<Issue> => {
  const issues: Array<Issue> = []
  const dupes = (names: ReadonlyArray<string>, key: string) =>
    names.forEach((n, i) => {
      if (names.indexOf(n) !== i) issues.push({ key: `${key}[${i}].name`, detail: `duplicate name "${n}"` })
    })
  dupes(c.workloads.map((w) => w.name), "workloads")
  dupes(c.baselines.map((b) => b.name), "baselines")
  const known = c.baselines.map((b) => b.name)
  for (const key of ["reference_baseline", "blind_baseline", "target_baseline"] as const) {
    if (!known.includes(c.experiment[key])) {
      issues.push({ key: `experiment.${key}`, detail: `"${c.experiment[key]}" is not among baselines (${known.join(", ")})` })
    }
  }
  return issues
}

const parseOptions = { errors: "all", onExcessProperty: "error" } as const

/** Parses and validates YAML text; `file` is only used to name the source in errors. */
export const parseConfig = (text: string, file: string): Effect.Effect<LoadedConfig, HarnessError> =>
  Effect.gen(function*() {
    const doc = parseDocument(text)
    if (doc.errors.length > 0) {
      return yield* harnessError("ConfigInvalid", file, doc.errors.map((e) => ({
        key: "",
        detail: `YAML syntax: ${e.message.split("\n")[0].replace(/:$/, "")}`,
      })))
    }
    const config = yield* Schema.decodeUnknownEffect(SuiteConfig)(doc.toJS(), parseOptions).pipe(
      Effect.mapError((e) => harnessError("ConfigInvalid", file, issuesOf(e.issue))),
    )
    const cross = crossCheck(config)
    if (cross.length > 0) return yield* harnessError("ConfigInvalid", file, cross)
    return { file, config, hash: sha256(canonicalJson(config)) }
  })

export const loadConfig = Effect.fn("Config.load")(function*(file: string) {
  const fs = yield* FileSystem.FileSystem
  const text = yield* fs.readFileString(file).pipe(
    Effect.mapError((e) => harnessError("ConfigNotFound", file, [{ key: "", detail: `cannot read: ${e.message}` }])),
  )
  return yield* parseConfig(text, file)
})

/** Sorted-key JSON, so equal configs hash equally whatever the key order in the file. */
export const canonicalJson = (value: unknown): string =>
  JSON.stringify(value, (_k, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v)

export const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex")

export type Env = Readonly<Record<string, string | undefined>>
export type AddressSource = "baseline" | "config" | "DJINN_SERVER_ADDRESS" | "GENIE_SERVER_ADDRESS" | "default"
export interface ServerAddress {
  readonly host: string
  readonly port: number
  readonly address: string
  readonly source: AddressSource
}
export const DEFAULT_SERVER_ADDRESS = "localhost:5556"

/**
 * Where the Djinn server is: the baseline's `server_address`, then `experiment.djinn_server_address`, then
 * `DJINN_SERVER_ADDRESS`, then the seed's `GENIE_SERVER_ADDRESS`, then localhost:5556. `env` is passed in (usually
 * `process.env` from main) so nothing here reads globals. A malformed env value is an error naming the variable.
 */
export const resolveServerAddress = (
  loaded: Pick<LoadedConfig, "file" | "config">,
  env: Env,
  baseline?: Baseline,
): Effect.Effect<ServerAddress, HarnessError> => {
  const own = baseline !== undefined && "server_address" in baseline ? baseline.server_address : undefined
  const candidates: ReadonlyArray<readonly [AddressSource, string | undefined]> = [
    ["baseline", own],
    ["config", loaded.config.experiment.djinn_server_address],
    ["DJINN_SERVER_ADDRESS", env.DJINN_SERVER_ADDRESS],
    ["GENIE_SERVER_ADDRESS", env.GENIE_SERVER_ADDRESS],
    ["default", DEFAULT_SERVER_ADDRESS],
  ]
  const [source, raw] = candidates.find(([, v]) => v !== undefined && v.trim() !== "")!
  const address = raw!.trim()
  const m = /^(\[[^\]]+\]|[^\s:\[\]]+):(\d{1,5})$/.exec(address)
  const port = m ? Number(m[2]) : NaN
  if (m && port >= 1 && port <= 65535) {
    return Effect.succeed({ host: m[1].replace(/^\[|\]$/g, ""), port, address, source })
  }
  const detail = `expected host:port, got "${address}"`
  return Effect.fail(
    source === "baseline" || source === "config"
      ? harnessError("ConfigInvalid", loaded.file, [
        { key: source === "config" ? "experiment.djinn_server_address" : `baselines.${baseline!.name}.server_address`, detail },
      ])
      : harnessError("ConfigInvalid", `environment variable ${source}`, [{ key: "", detail }]),
  )
}

export type Units = "tokens" | "sequences" | "images"

/** What one run of a workload produces, for `throughput_units_per_s` = units / latency. A prefill-only run
 *  (new_tokens 0) counts the prompt tokens it processed; a generating run counts the tokens it generated. */
export const workloadUnits = (w: Workload): { readonly units: Units; readonly perRun: number } => {
  switch (w.implementation) {
    case "hf_causal_lm":
      return { units: "tokens", perRun: w.batch_size * (w.params.new_tokens > 0 ? w.params.new_tokens : w.params.prompt_length) }
    case "synthetic_transformer":
      return { units: "sequences", perRun: w.batch_size }
    case "hf_vision":
      return { units: "images", perRun: w.batch_size }
  }
}

export const WeightsSource = Schema.Struct({
  kind: Schema.Literals(["checkpoint", "synthetic"]),
  model_id: Schema.String,
  /** checkpoint: the directory read; synthetic: absent. */
  dir: Schema.optionalKey(Schema.String),
  /** synthetic: the seed the weights came from. */
  seed: Schema.optionalKey(Schema.Int),
})
export type WeightsSource = typeof WeightsSource.Type

/** The weights a workload asks for: a checkpoint dir when `model_dir` is set, else seeded synthetic weights. */
export const weightsSourceFor = (w: Workload, seed: number): WeightsSource =>
  w.model_dir !== undefined
    ? { kind: "checkpoint", model_id: w.model_id, dir: w.model_dir }
    : { kind: "synthetic", model_id: w.model_id, seed }
