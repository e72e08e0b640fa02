import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { analyze, type AnalyzeOptions, formatCell } from "../src/index.ts"
import { bert, tinyGpt2, writeResults } from "./synthetic.ts"

const run = (o: AnalyzeOptions) => Effect.runPromise(analyze(o).pipe(Effect.provide(NodeServices.layer)))

/** The rows of the markdown table under `### <title…>`, as arrays of cell strings. */
const mdTable = (md: string, titleStart: string): Array<Array<string>> => {
  const block = md.split("### ").find((b) => b.startsWith(titleStart))!
  return block.split("\n").filter((l) => l.startsWith("| ")).map((l) => l.slice(2, -2).split(" | "))
}

const parseCsv = (csv: string): Array<Record<string, string>> => {
  const [header, ...rows] = csv.trim().split("\n").map((l) => l.match(/("([^"]|"")*"|[^,]*)(,|$)/g)!.map((c) => c.replace(/,$/, "").replace(/^"|"$/g, "").replace(/""/g, '"')))
  return rows.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i]])))
}

describe("analyze (markdown)", () => {
  it("Table 1: latency mean/p95/p99, throughput, data, delta vs native, equivalence", async () => {
    const dir = await writeResults([tinyGpt2("t0", "2025-12-01T00:00:00.000Z"), tinyGpt2(), bert()])
    const md = await run({ resultsDir: dir, format: "markdown", latestOnly: true, workloads: ["hf_tiny_gpt2"] })
    const t = mdTable(md, "Table 1")
    expect(t[0]).toEqual([
      "Workload", "Baseline", "Runs ok", "Latency (ms)", "P95 (ms)", "P99 (ms)", "Throughput (units/s)", "Units", "Data (MB)",
      "Δ vs native (ms)", "Outputs = native",
    ])
    // native 100..108: mean 104, p95 = 106 + 0.8·2, p99 = 106 + 0.96·2; throughput = mean(32000 / latency).
    const tput = (ls: Array<number>) => (ls.reduce((a, l) => a + 32000 / l, 0) / ls.length).toFixed(2)
    expect(t.slice(2)).toEqual([
      ["hf_tiny_gpt2", "native", "5/5", "104.00", "107.60", "107.92", tput([100, 102, 104, 106, 108]), "tokens", "—", "0.00", "reference"],
      ["hf_tiny_gpt2", "semantic_blind", "5/5", "154.00", "157.60", "157.92", tput([150, 152, 154, 156, 158]), "tokens", "12.00", "+50.00", "✓"],
      ["hf_tiny_gpt2", "full_djinn", "5/5", "112.00", "113.80", "113.96", tput([110, 111, 112, 113, 114]), "tokens", "0.60", "+8.00", "✓"],
      ["hf_tiny_gpt2", "rpc", "4/5", "125.00", "130.00", "130.00", tput([120, 120, 130, 130]), "tokens", "2.00", "+21.00", "✗"],
      ["hf_tiny_gpt2", "vllm", "skipped", "—", "—", "—", "—", "tokens", "—", "—", "—"],
    ])
    expect(md).toContain("- hf_tiny_gpt2/rpc: 1 of 5 runs failed (first: connection reset)")
    expect(md).toContain("- hf_tiny_gpt2/rpc: outputs differ from native — token 17 differs")
    expect(md).toContain("- hf_tiny_gpt2/vllm: skipped — no endpoint at http://127.0.0.1:8000/v1")
    expect(md).not.toContain("bert_latency_bound")
  })

  it("breakdown and semantic-value tables", async () => {
    const dir = await writeResults([tinyGpt2(), bert()])
    const md = await run({ resultsDir: dir, format: "markdown" })
    const b = mdTable(md, "Latency breakdown")
    expect(b[0].slice(2)).toEqual(["Latency", "Serialize", "Deserialize", "Net c→s", "Net s→c", "Server total", "Queue", "Plan", "Placement", "Execution", "Skeletonize", "Cleanup"])
    // native reports no breakdown, so it has no row; workloads sort by name.
    expect(b.slice(2).map((r) => `${r[0]}/${r[1]}`)).toEqual(["bert_latency_bound/full_djinn", "hf_tiny_gpt2/semantic_blind", "hf_tiny_gpt2/full_djinn", "hf_tiny_gpt2/rpc"])
    expect(b[3]).toEqual(["hf_tiny_gpt2", "semantic_blind", "154.00", "0.25", "0.50", "1.00", "0.75", "9.00", "0.10", "0.20", "0.30", "8.00", "0.15", "0.050"])
    const s = mdTable(md, "Semantic value")
    expect(s.slice(2)).toEqual([
      ["bert_latency_bound", "—", "0.0015", "—", "—", "+1.00", "—", "NVIDIA H100 80GB HBM3 (nvidia hopper, dawn/vulkan)", "checkpoint /models/bert"],
      ["hf_tiny_gpt2", "12.00", "0.60", "95.0%", "+50.00", "+8.00", "6.25×", "NVIDIA H100 80GB HBM3 (nvidia hopper, dawn/vulkan)", "synthetic (seed 0)"],
    ])
    expect(md).toContain("commit 0123456789ab")
  })

  it("without --latest-only every tag is a row, with a Tag column", async () => {
    const dir = await writeResults([tinyGpt2("t0", "2025-12-01T00:00:00.000Z"), tinyGpt2()])
    const t = mdTable(await run({ resultsDir: dir, format: "markdown" }), "Table 1")
    expect(t[0].slice(0, 3)).toEqual(["Workload", "Tag", "Baseline"])
    expect(t.slice(2).map((r) => r[1])).toEqual(["t0", "t0", "t0", "t0", "t0", "t1", "t1", "t1", "t1", "t1"])
  })

  it("other JSON files are skipped; no matching results is an error naming the directory", async () => {
    const dir = await writeResults([bert()])
    writeFileSync(join(dir, "notes.json"), JSON.stringify({ hello: 1 }))
    expect(await run({ resultsDir: dir, format: "markdown" })).toContain("bert_latency_bound")
    const e = await Effect.runPromise(Effect.flip(analyze({ resultsDir: dir, format: "csv", workloads: ["nope"] }).pipe(Effect.provide(NodeServices.layer))))
    expect(e.message).toBe(`${dir}: no result files for workloads nope`)
  })
})

describe("analyze (CSV)", () => {
  it("one row per workload × baseline with raw aggregates and derived metrics", async () => {
    const dir = await writeResults([tinyGpt2(), bert()])
    const rows = parseCsv(await run({ resultsDir: dir, format: "csv" }))
    expect(rows).toHaveLength(7)
    const djinn = rows.find((r) => r.workload === "hf_tiny_gpt2" && r.baseline === "full_djinn")!
    expect(djinn).toMatchObject({
      latency_ms_mean: "112", latency_ms_median: "112", latency_ms_p95: "113.8", latency_ms_min: "110", latency_ms_max: "114",
      total_data_mb_mean: "0.6", latency_delta_vs_native_ms: "8", outputs_match_native: "true", server_execution_ms_mean: "8",
      semantic_efficiency_ratio: "6.25", adapter: "NVIDIA H100 80GB HBM3 (nvidia hopper, dawn/vulkan)", runs_ok: "5", units: "tokens",
    })
    expect(Number(djinn.latency_ms_stddev)).toBeCloseTo(Math.sqrt(2.5), 12)
    expect(Number(djinn.data_savings_pct_vs_semantic_blind)).toBeCloseTo(95, 10)
    const vllm = rows.find((r) => r.baseline === "vllm")!
    expect([vllm.status, vllm.latency_ms_mean, vllm.outputs_match_native]).toEqual(["skipped", "", ""])
  })
})

describe("formatCell", () => {
  it("shows small values with two significant digits, signs deltas, marks missing", () => {
    expect(formatCell(0.00061, "mb")).toBe("0.00061")
    expect(formatCell(236.974, "ms")).toBe("236.97")
    expect(formatCell(-3.2, "delta_ms")).toBe("-3.20")
    expect(formatCell(3.2, "delta_ms")).toBe("+3.20")
    expect(formatCell(null, "ms")).toBe("—")
    expect(formatCell(false, "match")).toBe("✗")
  })
})
