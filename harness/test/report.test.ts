import { execFileSync } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { sectionData, writeReport } from "../src/index.ts"
import { bert, tinyGpt2, writeResults } from "./synthetic.ts"

const CHROMIUM = "/usr/bin/chromium"

/** The DOM after the page's scripts ran, from headless Chromium with networking and GPU off. */
const dumpDom = (file: string): string => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium) to run the report test`)
  }
  const profile = mkdtempSync(join(tmpdir(), "djinn-chromium-"))
  return execFileSync(CHROMIUM, [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", `--user-data-dir=${profile}`, "--dump-dom", `file://${file}`,
  ], { encoding: "utf8", timeout: 90_000, stdio: ["ignore", "pipe", "ignore"] })
}

const attrs = (dom: string, chart: string) =>
  [...dom.matchAll(new RegExp(`<div class="chart" data-chart="${chart}" data-section="(\\d+)"([^>]*)>`, "g"))].map((m) => ({
    section: Number(m[1]),
    drawn: /data-drawn="true"/.test(m[2]),
    bars: Number(/data-bars="(\d+)"/.exec(m[2])?.[1] ?? NaN),
  }))

describe("report", () => {
  it("section data: p50/p95 per baseline, stacked phases that add up to latency, bytes each way", () => {
    const d = sectionData(tinyGpt2())
    expect(d.latency.map((l) => [l.baseline, l.p50, l.p95])).toEqual([
      ["native", 104, 107.6], ["semantic_blind", 154, 157.6], ["full_djinn", 112, 113.8], ["rpc", 125, 130],
    ])
    const djinn = d.breakdown.rows.find((r) => r.baseline === "full_djinn")!
    expect(djinn.values.reduce((a, b) => a + b, 0)).toBeCloseTo(112, 9)
    expect(d.breakdown.rows[0].values.at(-1)).toBe(104) // native: all unattributed
    expect(d.bytes).toEqual([
      { baseline: "semantic_blind", input_mb: 10, output_mb: 2 },
      { baseline: "full_djinn", input_mb: 0.5, output_mb: expect.closeTo(0.1, 12) },
      { baseline: "rpc", input_mb: 1, output_mb: 1 },
    ])
  })

  it("renders a self-contained page whose charts draw in headless Chromium", async () => {
    const dir = await writeResults([tinyGpt2(), bert()])
    const out = await Effect.runPromise(
      writeReport({ resultsDir: dir }, new Date("2025-12-03T00:00:00Z")).pipe(Effect.provide(NodeServices.layer)),
    )
    expect(out).toBe(join(dir, "report.html"))
    const html = readFileSync(out, "utf8")
    // Self-contained: no external resources, and a CSP that would block any.
    expect(html).not.toMatch(/\b(src|href)=["']?(https?:)?\/\//)
    expect(html).toContain(`content="default-src 'none'`)
    expect(html).not.toMatch(/<div[^>]*data-drawn=/) // only the script sets it

    const dom = dumpDom(out)
    expect(dom).toContain('data-charts-drawn="6"')
    // Sections sort by workload: 0 = bert_latency_bound, 1 = hf_tiny_gpt2.
    expect(attrs(dom, "latency")).toEqual([{ section: 0, drawn: true, bars: 4 }, { section: 1, drawn: true, bars: 8 }])
    expect(attrs(dom, "bytes")).toEqual([{ section: 0, drawn: true, bars: 2 }, { section: 1, drawn: true, bars: 6 }])
    // hf_tiny_gpt2: native 1 segment (unattributed) + 3 remote baselines × 12 nonzero segments.
    expect(attrs(dom, "breakdown")).toEqual([{ section: 0, drawn: true, bars: 1 + 11 }, { section: 1, drawn: true, bars: 37 }])
    expect((dom.match(/<rect [^>]*class="bar"/g) ?? []).length).toBe(4 + 8 + 2 + 6 + 12 + 37)
    expect(dom).toContain("<svg")
    expect(dom).toContain("6.25×")
  })
})
