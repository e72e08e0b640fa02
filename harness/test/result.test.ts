import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import {
  aggregateRuns, buildResultFile, failedRun, measuredRun, readResultFile, resultFileName, type RunRecord,
} from "../src/index.ts"
import { bert, tinyGpt2, writeResults } from "./synthetic.ts"

const run = <A, E>(e: Effect.Effect<A, E, NodeServices.NodeServices>) => Effect.runPromise(e.pipe(Effect.provide(NodeServices.layer)))

describe("run records", () => {
  it("measuredRun derives throughput and MB (10^6 bytes) and leaves unmeasured fields null", () => {
    const r = measuredRun({ run: 0, latencyMs: 250, units: 32, inputBytes: 1_500_000, outputBytes: 500_000, tokensGenerated: 32 })
    expect(r).toMatchObject({
      ok: true, error: null, latency_ms: 250, throughput_units_per_s: 128, input_mb: 1.5, output_mb: 0.5, total_data_mb: 2,
      tokens_generated: 32, server_plan_ms: null, client_serialize_ms: null, round_trips: null,
    })
    expect(measuredRun({ run: 1, latencyMs: 10, units: 1, inputBytes: null, outputBytes: null }).total_data_mb).toBeNull()
    expect(failedRun(2, "timeout")).toMatchObject({ run: 2, ok: false, error: "timeout", latency_ms: null })
  })

  it("aggregates over ok runs only, per metric, and omits metrics nobody measured", () => {
    const runs: Array<RunRecord> = [
      measuredRun({ run: 0, latencyMs: 10, units: 1, inputBytes: 1e6, outputBytes: 0, breakdown: { server_plan_ms: 0.5 } }),
      measuredRun({ run: 1, latencyMs: 20, units: 1, inputBytes: 3e6, outputBytes: 0 }),
      failedRun(2, "boom"),
    ]
    const a = aggregateRuns(runs)
    expect(a.latency_ms).toMatchObject({ n: 2, mean: 15, median: 15, min: 10, max: 20 })
    expect(a.input_mb.mean).toBe(2)
    expect(a.server_plan_ms).toMatchObject({ n: 1, mean: 0.5, stddev: null })
    expect(a.server_execution_ms).toBeUndefined()
  })
})

describe("result files", () => {
  it("derived metrics follow their definitions", () => {
    const f = tinyGpt2()
    expect(f.derived.latency_delta_vs_native_ms).toEqual({ native: 0, semantic_blind: 50, full_djinn: 8, rpc: 21, vllm: null })
    expect(f.derived.data_savings_pct_vs_semantic_blind).toBeCloseTo(100 * (1 - 0.6 / 12), 12)
    expect(f.derived.semantic_efficiency_ratio).toBe(6.25)
    expect(f.results.find((b) => b.baseline === "full_djinn")!.latency_delta_vs_native_ms).toBe(8)
    // No blind baseline: savings and ratio are undefined, not zero.
    expect(bert().derived).toMatchObject({ data_savings_pct_vs_semantic_blind: null, semantic_efficiency_ratio: null })
  })

  it("a target no slower than native leaves the efficiency ratio undefined", () => {
    const f = tinyGpt2()
    const fast = buildResultFile({
      ...f,
      results: f.results.map((b) => b.baseline === "full_djinn" ? { ...b, runs: b.runs.map((r) => ({ ...r, latency_ms: 100 })) } : b),
    })
    expect(fast.derived.latency_delta_vs_native_ms.full_djinn).toBe(-4)
    expect(fast.derived.semantic_efficiency_ratio).toBeNull()
  })

  it("buildResultFile is idempotent (the analyzer recomputes from raw runs)", () => {
    const f = tinyGpt2()
    expect(buildResultFile(f)).toEqual(f)
  })

  it("write → read round-trips through the schema, one file per workload and tag", async () => {
    const dir = await writeResults([tinyGpt2(), bert()])
    const path = join(dir, resultFileName("hf_tiny_gpt2", "t1"))
    expect(path.endsWith("hf_tiny_gpt2__t1.json")).toBe(true)
    expect(await run(readResultFile(path))).toEqual(tinyGpt2())
    const json = JSON.parse(readFileSync(path, "utf8"))
    expect(json.results[0].aggregates.latency_ms).toMatchObject({ n: 5, mean: 104, median: 104 })
    expect(json.results[0].runs).toHaveLength(5)
    expect(json.environment).toMatchObject({ commit: expect.any(String), config_hash: expect.any(String), weights_source: { kind: "synthetic" } })
  })

  it("an invalid result file is an error naming the file and the key path", async () => {
    const dir = await writeResults([tinyGpt2()])
    const path = join(dir, "hf_tiny_gpt2__t1.json")
    const json = JSON.parse(readFileSync(path, "utf8"))
    json.results[2].runs[1].latency_ms = "fast"
    delete json.environment.config_hash
    writeFileSync(path, JSON.stringify(json))
    const e = await run(Effect.flip(readResultFile(path)))
    expect(e.reason).toBe("ResultInvalid")
    expect(e.file).toBe(path)
    expect(e.issues.map((i) => i.key).sort()).toEqual(["environment.config_hash", "results[2].runs[1].latency_ms"])
    writeFileSync(path, "{ not json")
    expect((await run(Effect.flip(readResultFile(path)))).message).toMatch(/hf_tiny_gpt2__t1\.json: not JSON/)
  })
})
