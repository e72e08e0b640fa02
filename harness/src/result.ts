// The run record and the result file (one JSON per workload and tag), with aggregation and derived metrics.
import { Schema } from "effect"
import { BASELINE_TYPES, WeightsSource } from "./config.ts"
import type { Units } from "./config.ts"
import { mean, summarize, type Summary } from "./stats.ts"

/** 1 MB = 10^6 bytes throughout (as the seed's `*_mb` fields). */
export const bytesToMb = (bytes: number): number => bytes / 1e6

export const PRIMARY_METRICS = ["latency_ms", "throughput_units_per_s", "input_mb", "output_mb", "total_data_mb"] as const
export const CLIENT_METRICS = [
  "client_serialize_ms",
  "client_deserialize_ms",
  "client_network_c2s_ms",
  "client_network_s2c_ms",
] as const
export const SERVER_METRICS = [
  "server_duration_ms",
  "server_queue_latency_ms",
  "server_plan_ms",
  "server_placement_ms",
  "server_execution_ms",
  "server_skeletonization_ms",
  "server_cleanup_ms",
] as const
export const METRICS = [...PRIMARY_METRICS, ...CLIENT_METRICS, ...SERVER_METRICS] as const
export type Metric = (typeof METRICS)[number]

const Count = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
const NonNeg = Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0))
/** null = not measured by this baseline (e.g. no server breakdown for native), never "zero". */
const Measure = Schema.NullOr(NonNeg)

/** One measured run of one baseline on one workload. Failed runs are recorded (ok false, error set), not thrown. */
export const RunRecord = Schema.Struct({
  /** 0-based index among measured runs (warm-up runs are not recorded). */
  run: Count,
  ok: Schema.Boolean,
  error: Schema.NullOr(Schema.String),
  latency_ms: Measure,
  throughput_units_per_s: Measure,
  input_mb: Measure,
  output_mb: Measure,
  total_data_mb: Measure,
  client_serialize_ms: Measure,
  client_deserialize_ms: Measure,
  client_network_c2s_ms: Measure,
  client_network_s2c_ms: Measure,
  server_duration_ms: Measure,
  server_queue_latency_ms: Measure,
  server_plan_ms: Measure,
  server_placement_ms: Measure,
  server_execution_ms: Measure,
  server_skeletonization_ms: Measure,
  server_cleanup_ms: Measure,
  tokens_generated: Schema.NullOr(Count),
  /** Client↔server round trips in this run (blind remoting pays one per read); null for local baselines. */
  round_trips: Schema.NullOr(Count),
  /** A digest of the outputs (e.g. sha256 of the token ids), for the equivalence check against native. */
  output_digest: Schema.NullOr(Schema.String),
  /** The generated token ids (generating LM runs), so a reader can see what each baseline produced. */
  tokens: Schema.optionalKey(Schema.NullOr(Schema.Array(Count))),
})
export type RunRecord = typeof RunRecord.Type

export const SummarySchema = Schema.Struct({
  n: Count,
  mean: Schema.Finite,
  median: Schema.Finite,
  p95: Schema.Finite,
  p99: Schema.Finite,
  min: Schema.Finite,
  max: Schema.Finite,
  stddev: Schema.NullOr(Schema.Finite),
})

/** GPUAdapterInfo's fields, as WebGPU reports them. */
export const Adapter = Schema.Struct({
  vendor: Schema.String,
  architecture: Schema.String,
  device: Schema.String,
  description: Schema.String,
  /** e.g. "dawn/vulkan", "tfjs-node-gpu/cuda", "torch/cuda". */
  backend: Schema.optionalKey(Schema.String),
})
export type Adapter = typeof Adapter.Type
export const Runtime = Schema.Struct({ name: Schema.String, version: Schema.String, platform: Schema.String, arch: Schema.String })
export type Runtime = typeof Runtime.Type

export const Environment = Schema.Struct({
  adapter: Schema.NullOr(Adapter),
  /** A human name for the GPU (driver's), e.g. "NVIDIA H100 80GB HBM3"; null where unknown. */
  gpu: Schema.NullOr(Schema.String),
  runtime: Runtime,
  hostname: Schema.optionalKey(Schema.String),
  commit: Schema.NullOr(Schema.String),
  dirty: Schema.NullOr(Schema.Boolean),
  config_file: Schema.String,
  config_hash: Schema.String,
  weights_source: WeightsSource,
  /** Versions that matter for this number (torch, transformers, vllm, webgpu …). */
  packages: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
})
export type Environment = typeof Environment.Type

/** Where a baseline ran somewhere else (a server, a Python peer): the parts of its environment that differ. */
export const BaselineEnvironment = Schema.Struct({
  adapter: Schema.optionalKey(Schema.NullOr(Adapter)),
  gpu: Schema.optionalKey(Schema.NullOr(Schema.String)),
  runtime: Schema.optionalKey(Runtime),
  hostname: Schema.optionalKey(Schema.String),
  weights_source: Schema.optionalKey(WeightsSource),
  packages: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
})
export type BaselineEnvironment = typeof BaselineEnvironment.Type

export const BaselineStatus = Schema.Literals(["ok", "failed", "skipped"])
export type BaselineStatus = typeof BaselineStatus.Type

export const BaselineResult = Schema.Struct({
  baseline: Schema.String,
  type: Schema.Literals(BASELINE_TYPES),
  /** skipped: could not run here (no server, no Python/torch) — `reason` says why. failed: every run failed. */
  status: BaselineStatus,
  reason: Schema.NullOr(Schema.String),
  warmup_runs: Count,
  runs: Schema.Array(RunRecord),
  /** Per metric, over the ok runs; a metric no run measured is absent. */
  aggregates: Schema.Record(Schema.String, SummarySchema),
  /** Same outputs as the reference baseline (tokens / argmax / within tolerance); null = not checked. */
  outputs_match_native: Schema.NullOr(Schema.Boolean),
  equivalence_detail: Schema.NullOr(Schema.String),
  /** mean latency − reference mean latency; null without both. */
  latency_delta_vs_native_ms: Schema.NullOr(Schema.Finite),
  environment: Schema.optionalKey(BaselineEnvironment),
})
export type BaselineResult = typeof BaselineResult.Type

export const Derived = Schema.Struct({
  latency_delta_vs_native_ms: Schema.Record(Schema.String, Schema.NullOr(Schema.Finite)),
  /** 100·(1 − mean total_data_mb(target) / mean total_data_mb(blind)). */
  data_savings_pct_vs_semantic_blind: Schema.NullOr(Schema.Finite),
  /** (L_blind − L_ref) / (L_target − L_ref) on mean latencies; null when the target has no overhead (≤ 0). */
  semantic_efficiency_ratio: Schema.NullOr(Schema.Finite),
})
export type Derived = typeof Derived.Type

export const RESULT_SCHEMA_ID = "djinn/overhead-result@1"

export const ResultFile = Schema.Struct({
  schema: Schema.Literal(RESULT_SCHEMA_ID),
  workload: Schema.String,
  category: Schema.Literals(["sequential", "encoder", "vision"]),
  implementation: Schema.String,
  tag: Schema.String,
  /** ISO 8601 UTC; `--latest-only` picks the newest per workload by this. */
  created_at: Schema.String,
  units: Schema.Literals(["tokens", "sequences", "images"]),
  units_per_run: NonNeg,
  /** The workload's config entry as decoded (defaults applied). */
  workload_spec: Schema.Record(Schema.String, Schema.Unknown),
  experiment: Schema.Struct({
    runs: Count,
    warmup_runs: Count,
    seed: Count,
    reference_baseline: Schema.String,
    blind_baseline: Schema.String,
    target_baseline: Schema.String,
    server_address: Schema.NullOr(Schema.String),
  }),
  environment: Environment,
  results: Schema.Array(BaselineResult),
  derived: Derived,
})
export type ResultFile = typeof ResultFile.Type

// ---- constructing records -----------------------------------------------------------------------------------------

type Breakdown = Partial<Record<(typeof CLIENT_METRICS)[number] | (typeof SERVER_METRICS)[number], number>>

export interface MeasuredRun {
  readonly run: number
  readonly latencyMs: number
  /** Units of work this run did (tokens / sequences / images), for throughput. */
  readonly units: number
  /** Bytes on the wire each way; null for a baseline with no wire (native). */
  readonly inputBytes: number | null
  readonly outputBytes: number | null
  readonly breakdown?: Breakdown
  readonly tokensGenerated?: number | null
  readonly roundTrips?: number | null
  readonly outputDigest?: string | null
  readonly tokens?: ReadonlyArray<number> | null
}

const emptyRun = (run: number): RunRecord => ({
  run, ok: false, error: null, latency_ms: null, throughput_units_per_s: null, input_mb: null, output_mb: null,
  total_data_mb: null, client_serialize_ms: null, client_deserialize_ms: null, client_network_c2s_ms: null,
  client_network_s2c_ms: null, server_duration_ms: null, server_queue_latency_ms: null, server_plan_ms: null,
  server_placement_ms: null, server_execution_ms: null, server_skeletonization_ms: null, server_cleanup_ms: null,
  tokens_generated: null, round_trips: null, output_digest: null,
})

export const measuredRun = (m: MeasuredRun): RunRecord => {
  const input = m.inputBytes === null ? null : bytesToMb(m.inputBytes)
  const output = m.outputBytes === null ? null : bytesToMb(m.outputBytes)
  return {
    ...emptyRun(m.run),
    ...m.breakdown,
    ok: true,
    latency_ms: m.latencyMs,
    throughput_units_per_s: m.latencyMs > 0 ? m.units / (m.latencyMs / 1000) : null,
    input_mb: input,
    output_mb: output,
    total_data_mb: input === null && output === null ? null : (input ?? 0) + (output ?? 0),
    tokens_generated: m.tokensGenerated ?? null,
    round_trips: m.roundTrips ?? null,
    output_digest: m.outputDigest ?? null,
    ...(m.tokens !== undefined ? { tokens: m.tokens } : {}),
  }
}

export const failedRun = (run: number, error: string): RunRecord => ({ ...emptyRun(run), error })

/** Aggregates per metric over the ok runs; metrics no ok run measured are left out. */
export const aggregateRuns = (runs: ReadonlyArray<RunRecord>): Record<string, Summary> => {
  const ok = runs.filter((r) => r.ok)
  const out: Record<string, Summary> = {}
  for (const metric of METRICS) {
    const s = summarize(ok.flatMap((r) => (r[metric] === null ? [] : [r[metric]])))
    if (s !== null) out[metric] = s
  }
  return out
}

export type BaselineInput = Omit<BaselineResult, "aggregates" | "latency_delta_vs_native_ms">
export type ResultInput = Omit<ResultFile, "schema" | "results" | "derived" | "units"> & {
  readonly units: Units
  readonly results: ReadonlyArray<BaselineInput>
}

const meanOf = (b: BaselineInput | undefined, metric: Metric): number | null => {
  if (b === undefined) return null
  const xs = b.runs.filter((r) => r.ok).flatMap((r) => (r[metric] === null ? [] : [r[metric]]))
  return xs.length === 0 ? null : mean(xs)
}

/** Derived metrics from raw runs. `experiment` names the reference, blind and target baselines. */
export const deriveMetrics = (
  results: ReadonlyArray<BaselineInput>,
  experiment: ResultInput["experiment"],
): Derived => {
  const find = (name: string) => results.find((b) => b.baseline === name)
  const ref = meanOf(find(experiment.reference_baseline), "latency_ms")
  const deltas: Record<string, number | null> = {}
  for (const b of results) {
    const l = meanOf(b, "latency_ms")
    deltas[b.baseline] = l === null || ref === null ? null : l - ref
  }
  const blindBytes = meanOf(find(experiment.blind_baseline), "total_data_mb")
  const targetBytes = meanOf(find(experiment.target_baseline), "total_data_mb")
  const blindOver = deltas[experiment.blind_baseline] ?? null
  const targetOver = deltas[experiment.target_baseline] ?? null
  return {
    latency_delta_vs_native_ms: deltas,
    data_savings_pct_vs_semantic_blind: blindBytes === null || targetBytes === null || blindBytes <= 0
      ? null
      : 100 * (1 - targetBytes / blindBytes),
    semantic_efficiency_ratio: blindOver === null || targetOver === null || targetOver <= 0 ? null : blindOver / targetOver,
  }
}

/** The result file with aggregates and derived metrics computed from the raw runs (idempotent on a ResultFile). */
export const buildResultFile = (input: ResultInput): ResultFile => {
  const derived = deriveMetrics(input.results, input.experiment)
  return {
    ...input,
    schema: RESULT_SCHEMA_ID,
    results: input.results.map((b) => ({
      ...b,
      aggregates: aggregateRuns(b.runs),
      latency_delta_vs_native_ms: derived.latency_delta_vs_native_ms[b.baseline] ?? null,
    })),
    derived,
  }
}

/** `<workload>__<tag>.json`: one file per workload and tag (a rerun with the same tag replaces it). */
export const resultFileName = (workload: string, tag: string): string => `${workload}__${tag}.json`
