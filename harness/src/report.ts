// `harness report`: one self-contained HTML page (inline SVG drawn by an inline script, no network) from result files.
import { fileURLToPath } from "node:url"
import { Effect, FileSystem, Path } from "effect"
import { describeAdapter, describeWeights } from "./environment.ts"
import { harnessError } from "./errors.ts"
import { type LoadedResult, loadResults, type LoadOptions } from "./result-io.ts"
import type { BaselineResult, ResultFile } from "./result.ts"
import { BREAKDOWN_METRICS, breakdownLabel, breakdownTable, formatCell, semanticTable, type Table, table1 } from "./tables.ts"

/** What the page's script draws, per result file (workload × tag). */
export interface SectionData {
  readonly workload: string
  readonly tag: string
  readonly latency: ReadonlyArray<{ baseline: string; p50: number; p95: number; mean: number }>
  readonly breakdown: {
    readonly components: ReadonlyArray<string>
    readonly rows: ReadonlyArray<{ baseline: string; values: ReadonlyArray<number> }>
  }
  readonly bytes: ReadonlyArray<{ baseline: string; input_mb: number; output_mb: number }>
}

// Server phases stack inside the server's span; "server (other)" is what server_duration_ms has beyond them and
// "unattributed" what the client's latency has beyond every measured phase (all of it, for native).
const SERVER_PHASES = BREAKDOWN_METRICS.filter((m) => m.startsWith("server_") && m !== "server_duration_ms")
const STACK = [
  "client_serialize_ms",
  "client_network_c2s_ms",
  ...SERVER_PHASES,
  "client_network_s2c_ms",
  "client_deserialize_ms",
] as const

const m = (b: BaselineResult, metric: string) => b.aggregates[metric]?.mean ?? 0

export const sectionData = (r: ResultFile): SectionData => {
  const ok = r.results.filter((b) => b.aggregates.latency_ms !== undefined)
  return {
    workload: r.workload,
    tag: r.tag,
    latency: ok.map((b) => ({
      baseline: b.baseline,
      p50: b.aggregates.latency_ms.median,
      p95: b.aggregates.latency_ms.p95,
      mean: b.aggregates.latency_ms.mean,
    })),
    breakdown: {
      components: [...STACK.map(breakdownLabel), "Server (other)", "Unattributed"],
      rows: ok.map((b) => {
        const phases = STACK.map((k) => m(b, k))
        const serverOther = Math.max(0, m(b, "server_duration_ms") - SERVER_PHASES.reduce((s, k) => s + m(b, k), 0))
        const measured = phases.reduce((s, v) => s + v, 0) + serverOther
        return { baseline: b.baseline, values: [...phases, serverOther, Math.max(0, m(b, "latency_ms") - measured)] }
      }),
    },
    bytes: ok
      .filter((b) => b.aggregates.total_data_mb !== undefined)
      .map((b) => ({ baseline: b.baseline, input_mb: m(b, "input_mb"), output_mb: m(b, "output_mb") })),
  }
}

const esc = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")

const tableHtml = (t: Table): string => {
  if (t.rows.length === 0) return ""
  const head = t.columns.map((c) => `<th>${esc(c.label)}</th>`).join("")
  const body = t.rows
    .map((row) =>
      `<tr>${row.map((v, i) => `<td class="${typeof v === "number" ? "num" : ""}">${esc(formatCell(v, t.columns[i].format))}</td>`).join("")}</tr>`
    )
    .join("\n")
  const notes = t.notes.length > 0 ? `<ul class="notes">${t.notes.map((n) => `<li>${esc(n)}</li>`).join("")}</ul>` : ""
  return `<h3>${esc(t.title)}</h3>\n<table>\n<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody>\n</table>\n${notes}`
}

const CHARTS = [
  ["latency", "Latency per baseline (p50 and p95, ms)"],
  ["breakdown", "Where the time goes (mean ms, stacked)"],
  ["bytes", "Bytes moved per run (mean MB)"],
] as const

const sectionHtml = (lr: LoadedResult, index: number): string => {
  const r = lr.result
  const env = r.environment
  const charts = CHARTS.map(([kind, title]) =>
    `<figure><figcaption>${esc(title)}</figcaption><div class="chart" data-chart="${kind}" data-section="${index}"></div></figure>`
  ).join("\n")
  return `<section id="${esc(`${r.workload}__${r.tag}`)}">
<h2>${esc(r.workload)} <small>tag ${esc(r.tag)} · ${esc(r.created_at)}</small></h2>
<p class="env">${esc(describeAdapter(env))} · ${esc(env.runtime.name)} ${esc(env.runtime.version)} · weights ${
    esc(describeWeights(env.weights_source))
  } · commit ${esc(env.commit?.slice(0, 12) ?? "unknown")}${env.dirty ? " (dirty)" : ""} · config ${esc(env.config_hash.slice(0, 12))} · ${
    esc(`${r.experiment.runs} runs, ${r.experiment.warmup_runs} warm-up`)
  }</p>
${tableHtml(table1([lr]))}
<div class="charts">
${charts}
</div>
</section>`
}

const STYLE = `body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}
h2 small{font-weight:normal;color:#666;font-size:60%}.env{color:#555}
table{border-collapse:collapse;margin:8px 0}th,td{border:1px solid #ddd;padding:3px 8px}td.num{text-align:right;font-variant-numeric:tabular-nums}
th{background:#f4f4f4}.charts{display:flex;flex-wrap:wrap;gap:16px}figure{margin:0}figcaption{font-weight:600;margin:6px 0}
svg .label,svg .value,svg .tick,svg .legend{font-size:11px;fill:#333}svg .grid{stroke:#eee}svg .axis{stroke:#999}.notes{color:#a33}`

/** The page; `chartsScript` is report-charts.js (passed in so this stays pure and testable). */
export const renderReport = (
  results: ReadonlyArray<LoadedResult>,
  chartsScript: string,
  generatedAt: string,
): string => {
  const data = { sections: results.map((r) => sectionData(r.result)) }
  // `<` escaped so no string in the data can close the script element.
  const json = JSON.stringify(data).replace(/</g, "\\u003c")
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'">
<title>djinn overhead report</title>
<style>${STYLE}</style>
</head>
<body>
<h1>djinn — virtualization tax of disaggregation</h1>
<p>Generated ${esc(generatedAt)} from ${results.length} result file(s). Means over measured runs; Δ vs native = mean latency − the reference baseline's.</p>
${results.map(sectionHtml).join("\n")}
<section id="summary">
<h2>All workloads</h2>
${tableHtml(semanticTable(results))}
${tableHtml(breakdownTable(results))}
</section>
<script type="application/json" id="report-data">${json}</script>
<script>${chartsScript.replace(/<\/script/gi, "<\\/script")}</script>
</body>
</html>
`
}

export const CHARTS_SCRIPT_PATH = fileURLToPath(new URL("./report-charts.js", import.meta.url))

export interface ReportOptions extends LoadOptions {
  readonly resultsDir: string
  /** Output file; default `<resultsDir>/report.html`. */
  readonly out?: string
}

export const writeReport = Effect.fn("Harness.report")(function*(options: ReportOptions, now: Date) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const results = yield* loadResults(options.resultsDir, options)
  if (results.length === 0) {
    return yield* harnessError("NoResults", options.resultsDir, [{ key: "", detail: "no result files to report" }])
  }
  const out = options.out ?? path.join(options.resultsDir, "report.html")
  const io = (e: { readonly message: string }) => harnessError("ReportIo", out, [{ key: "", detail: e.message }])
  const script = yield* fs.readFileString(CHARTS_SCRIPT_PATH).pipe(Effect.mapError(io))
  yield* fs.makeDirectory(path.dirname(out), { recursive: true }).pipe(Effect.mapError(io))
  yield* fs.writeFileString(out, renderReport(results, script, now.toISOString())).pipe(Effect.mapError(io))
  return out
})
