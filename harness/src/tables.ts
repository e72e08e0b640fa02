// The analyzer's tables as data (columns + typed cells), rendered by analyze.ts (markdown, CSV) and report.ts (HTML).
import { describeAdapter, describeWeights } from "./environment.ts"
import type { LoadedResult } from "./result-io.ts"
import { CLIENT_METRICS, type BaselineResult, type Metric, type ResultFile, SERVER_METRICS } from "./result.ts"

/** How a number is shown in markdown/HTML; CSV always gets the raw value. */
export type Format = "text" | "ms" | "delta_ms" | "mb" | "rate" | "pct" | "ratio" | "match"
export interface Column {
  readonly key: string
  readonly label: string
  readonly format: Format
}
export type Cell = string | number | boolean | null
export interface Table {
  readonly title: string
  readonly columns: ReadonlyArray<Column>
  readonly rows: ReadonlyArray<ReadonlyArray<Cell>>
  /** Footnotes (skipped/failed baselines and why, undefined ratios). */
  readonly notes: ReadonlyArray<string>
}

const col = (key: string, label: string, format: Format = "text"): Column => ({ key, label, format })
const mean = (b: BaselineResult, m: Metric): number | null => b.aggregates[m]?.mean ?? null
const okRuns = (b: BaselineResult) => b.runs.filter((r) => r.ok).length

/** Reference baseline shows as "reference"; otherwise ✓ / ✗ / — (not checked). */
const matchCell = (r: ResultFile, b: BaselineResult): Cell =>
  b.baseline === r.experiment.reference_baseline ? "reference" : b.outputs_match_native

const runsCell = (b: BaselineResult): string =>
  b.status === "skipped" ? "skipped" : `${okRuns(b)}/${b.runs.length}`

/** Multiple tags per workload means the reader needs a tag column to tell rows apart. */
const needsTag = (results: ReadonlyArray<LoadedResult>): boolean =>
  new Set(results.map((r) => `${r.result.workload}\u0000${r.result.tag}`)).size !==
    new Set(results.map((r) => r.result.workload)).size ||
  new Set(results.map((r) => r.result.tag)).size > 1

const statusNotes = (results: ReadonlyArray<LoadedResult>): Array<string> =>
  results.flatMap(({ result: r }) =>
    r.results.flatMap((b) => {
      if (b.status !== "ok") return [`${r.workload}/${b.baseline}: ${b.status}${b.reason ? ` — ${b.reason}` : ""}`]
      const failed = b.runs.length - okRuns(b)
      const first = b.runs.find((x) => !x.ok)?.error
      const mismatch = b.outputs_match_native === false && b.equivalence_detail
        ? [`${r.workload}/${b.baseline}: outputs differ from ${r.experiment.reference_baseline} — ${b.equivalence_detail}`]
        : []
      return [...(failed > 0 ? [`${r.workload}/${b.baseline}: ${failed} of ${b.runs.length} runs failed (first: ${first})`] : []), ...mismatch]
    })
  )

/** Table 1 of the seed: per workload × baseline, latency, throughput, data moved, delta vs native, equivalence. */
export const table1 = (results: ReadonlyArray<LoadedResult>): Table => {
  const tag = needsTag(results)
  return {
    title: "Table 1: end-to-end latency, throughput and data moved (mean over runs)",
    columns: [
      col("workload", "Workload"),
      ...(tag ? [col("tag", "Tag")] : []),
      col("baseline", "Baseline"),
      col("runs", "Runs ok"),
      col("latency_ms_mean", "Latency (ms)", "ms"),
      col("latency_ms_p95", "P95 (ms)", "ms"),
      col("latency_ms_p99", "P99 (ms)", "ms"),
      col("throughput_units_per_s_mean", "Throughput (units/s)", "rate"),
      col("units", "Units"),
      col("total_data_mb_mean", "Data (MB)", "mb"),
      col("latency_delta_vs_native_ms", "Δ vs native (ms)", "delta_ms"),
      col("outputs_match_native", "Outputs = native", "match"),
    ],
    rows: results.flatMap(({ result: r }) =>
      r.results.map((b) => [
        r.workload,
        ...(tag ? [r.tag] : []),
        b.baseline,
        runsCell(b),
        mean(b, "latency_ms"),
        b.aggregates.latency_ms?.p95 ?? null,
        b.aggregates.latency_ms?.p99 ?? null,
        mean(b, "throughput_units_per_s"),
        r.units,
        mean(b, "total_data_mb"),
        b.latency_delta_vs_native_ms,
        matchCell(r, b),
      ])
    ),
    notes: statusNotes(results),
  }
}

const BREAKDOWN_LABELS: Record<(typeof CLIENT_METRICS)[number] | (typeof SERVER_METRICS)[number], string> = {
  client_serialize_ms: "Serialize",
  client_deserialize_ms: "Deserialize",
  client_network_c2s_ms: "Net c→s",
  client_network_s2c_ms: "Net s→c",
  server_duration_ms: "Server total",
  server_queue_latency_ms: "Queue",
  server_plan_ms: "Plan",
  server_placement_ms: "Placement",
  server_execution_ms: "Execution",
  server_skeletonization_ms: "Skeletonize",
  server_cleanup_ms: "Cleanup",
}
export const BREAKDOWN_METRICS = [...CLIENT_METRICS, ...SERVER_METRICS] as const
export const breakdownLabel = (m: (typeof BREAKDOWN_METRICS)[number]): string => BREAKDOWN_LABELS[m]

/** Where the time goes: mean client and server phases (ms), for baselines that report any. */
export const breakdownTable = (results: ReadonlyArray<LoadedResult>): Table => {
  const tag = needsTag(results)
  return {
    title: "Latency breakdown (mean ms; client phases, then server phases)",
    columns: [
      col("workload", "Workload"),
      ...(tag ? [col("tag", "Tag")] : []),
      col("baseline", "Baseline"),
      col("latency_ms_mean", "Latency", "ms"),
      ...BREAKDOWN_METRICS.map((m) => col(`${m}_mean`, BREAKDOWN_LABELS[m], "ms")),
    ],
    rows: results.flatMap(({ result: r }) =>
      r.results
        .filter((b) => BREAKDOWN_METRICS.some((m) => b.aggregates[m] !== undefined))
        .map((b) => [r.workload, ...(tag ? [r.tag] : []), b.baseline, mean(b, "latency_ms"), ...BREAKDOWN_METRICS.map((m) => mean(b, m))])
    ),
    notes: [],
  }
}

/** Per workload: what semantics buy (data savings, efficiency ratio) and what the numbers ran on. */
export const semanticTable = (results: ReadonlyArray<LoadedResult>): Table => {
  const tag = needsTag(results)
  const notes: Array<string> = []
  const rows = results.map(({ result: r }) => {
    const e = r.experiment
    const find = (name: string) => r.results.find((b) => b.baseline === name)
    const blind = find(e.blind_baseline)
    const target = find(e.target_baseline)
    const targetDelta = r.derived.latency_delta_vs_native_ms[e.target_baseline] ?? null
    if (r.derived.semantic_efficiency_ratio === null && targetDelta !== null && targetDelta <= 0) {
      notes.push(`${r.workload}: ${e.target_baseline} is not slower than ${e.reference_baseline}; the efficiency ratio is undefined`)
    }
    return [
      r.workload,
      ...(tag ? [r.tag] : []),
      blind ? mean(blind, "total_data_mb") : null,
      target ? mean(target, "total_data_mb") : null,
      r.derived.data_savings_pct_vs_semantic_blind,
      r.derived.latency_delta_vs_native_ms[e.blind_baseline] ?? null,
      targetDelta,
      r.derived.semantic_efficiency_ratio,
      describeAdapter(r.environment),
      describeWeights(r.environment.weights_source),
    ]
  })
  return {
    title: "Semantic value: data savings vs semantic-blind and semantic efficiency ratio",
    columns: [
      col("workload", "Workload"),
      ...(tag ? [col("tag", "Tag")] : []),
      col("blind_total_data_mb", "Blind data (MB)", "mb"),
      col("target_total_data_mb", "Djinn data (MB)", "mb"),
      col("data_savings_pct_vs_semantic_blind", "Data savings vs blind", "pct"),
      col("blind_latency_delta_ms", "Blind Δ vs native (ms)", "delta_ms"),
      col("target_latency_delta_ms", "Djinn Δ vs native (ms)", "delta_ms"),
      col("semantic_efficiency_ratio", "Semantic efficiency ratio", "ratio"),
      col("adapter", "GPU / adapter"),
      col("weights", "Weights"),
    ],
    rows,
    notes,
  }
}

// ---- formatting (markdown / HTML) ---------------------------------------------------------------------------------

/** Two decimals, or two significant digits below 0.1 (0.00061 MB stays visible). */
const fixedOrSig = (x: number): string => (x === 0 || Math.abs(x) >= 0.1 ? x.toFixed(2) : x.toPrecision(2))

export const formatCell = (value: Cell, format: Format): string => {
  if (value === null) return "—"
  if (typeof value === "boolean") return value ? "✓" : "✗"
  if (typeof value === "string") return value
  switch (format) {
    case "ms":
    case "mb":
    case "rate":
    case "text":
    case "match":
      return fixedOrSig(value)
    case "delta_ms":
      return `${value > 0 ? "+" : ""}${fixedOrSig(value)}`
    case "pct":
      return `${value.toFixed(1)}%`
    case "ratio":
      return `${value.toFixed(2)}×`
  }
}
