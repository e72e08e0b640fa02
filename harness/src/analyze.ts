// `harness analyze`: result files → markdown tables (the seed's Table 1, breakdown, semantic value) or one flat CSV.
import { Effect } from "effect"
import { describeAdapter, describeWeights } from "./environment.ts"
import { harnessError } from "./errors.ts"
import { type LoadedResult, loadResults, type LoadOptions } from "./result-io.ts"
import { METRICS } from "./result.ts"
import { breakdownTable, type Cell, formatCell, semanticTable, type Table, table1 } from "./tables.ts"

export type OutputFormat = "markdown" | "csv"

export interface AnalyzeOptions extends LoadOptions {
  readonly resultsDir: string
  readonly format: OutputFormat
}

const mdEscape = (s: string): string => s.replace(/\|/g, "\\|").replace(/\n/g, " ")

export const tableToMarkdown = (t: Table): string => {
  const header = `| ${t.columns.map((c) => mdEscape(c.label)).join(" | ")} |`
  const rule = `| ${t.columns.map((c) => (c.format === "text" || c.format === "match" ? "---" : "---:")).join(" | ")} |`
  const body = t.rows.map((row) => `| ${row.map((v, i) => mdEscape(formatCell(v, t.columns[i].format))).join(" | ")} |`)
  const notes = t.notes.map((n) => `- ${mdEscape(n)}`)
  return [`### ${t.title}`, "", header, rule, ...body, ...(notes.length > 0 ? ["", ...notes] : [])].join("\n")
}

export const renderMarkdown = (results: ReadonlyArray<LoadedResult>): string => {
  const tables = [table1(results), breakdownTable(results), semanticTable(results)]
  const sources = results.map(({ path, result: r }) =>
    `- \`${path}\`: ${r.workload}, tag ${r.tag}, ${r.created_at}, ${describeAdapter(r.environment)}, ` +
    `${r.environment.runtime.name} ${r.environment.runtime.version}, commit ${r.environment.commit?.slice(0, 12) ?? "unknown"}` +
    `${r.environment.dirty ? " (dirty)" : ""}, config ${r.environment.config_hash.slice(0, 12)}`
  )
  return [
    ...tables.filter((t) => t.rows.length > 0).map(tableToMarkdown),
    ["### Sources", "", ...sources].join("\n"),
  ].join("\n\n") + "\n"
}

const csvField = (v: Cell): string => {
  if (v === null) return ""
  const s = String(v)
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

/** One row per workload × tag × baseline with every aggregate and derived metric, raw (unrounded) numbers. */
export const renderCsv = (results: ReadonlyArray<LoadedResult>): string => {
  const stats = ["mean", "median", "p95", "p99", "min", "max", "stddev"] as const
  const header = [
    "workload", "tag", "created_at", "baseline", "type", "status", "runs_ok", "runs_total", "units",
    ...METRICS.flatMap((m) => stats.map((s) => `${m}_${s}`)),
    "latency_delta_vs_native_ms", "outputs_match_native",
    "data_savings_pct_vs_semantic_blind", "semantic_efficiency_ratio",
    "adapter", "weights_source", "commit", "config_hash", "file",
  ]
  const rows = results.flatMap(({ path, result: r }) =>
    r.results.map((b): ReadonlyArray<Cell> => [
      r.workload, r.tag, r.created_at, b.baseline, b.type, b.status,
      b.runs.filter((x) => x.ok).length, b.runs.length, r.units,
      ...METRICS.flatMap((m) => stats.map((s) => b.aggregates[m]?.[s] ?? null)),
      b.latency_delta_vs_native_ms, b.outputs_match_native,
      r.derived.data_savings_pct_vs_semantic_blind, r.derived.semantic_efficiency_ratio,
      describeAdapter(r.environment), describeWeights(r.environment.weights_source),
      r.environment.commit, r.environment.config_hash, path,
    ])
  )
  return [header, ...rows].map((row) => row.map(csvField).join(",")).join("\n") + "\n"
}

export const render = (results: ReadonlyArray<LoadedResult>, format: OutputFormat): string =>
  format === "csv" ? renderCsv(results) : renderMarkdown(results)

/** Loads `resultsDir`, selects, renders. No matching result file is an error (a silent empty table hides mistakes). */
export const analyze = Effect.fn("Harness.analyze")(function*(options: AnalyzeOptions) {
  const results = yield* loadResults(options.resultsDir, options)
  if (results.length === 0) {
    const which = options.workloads && options.workloads.length > 0 ? ` for workloads ${options.workloads.join(", ")}` : ""
    return yield* harnessError("NoResults", options.resultsDir, [{ key: "", detail: `no result files${which}` }])
  }
  return render(results, options.format)
})
