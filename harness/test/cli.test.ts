import { execFile, spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { bert, tinyGpt2, writeResults } from "./synthetic.ts"

const repo = fileURLToPath(new URL("../../", import.meta.url))
const node = existsSync(join(repo, "node_modules/.bin/node")) ? join(repo, "node_modules/.bin/node") : process.execPath

const harness = (...args: Array<string>) => {
  const r = spawnSync(node, [join(repo, "harness/src/main.ts"), ...args], { encoding: "utf8", cwd: repo, timeout: 60_000 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, lines: r.stderr.trim().split("\n").filter((l) => l !== "") }
}

/** Concurrent variant: each CLI start costs most of a second. */
const harnessAsync = (...args: Array<string>) =>
  new Promise<{ args: Array<string>; code: number; stdout: string; lines: Array<string> }>((resolve) =>
    execFile(node, [join(repo, "harness/src/main.ts"), ...args], { cwd: repo, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({
        args,
        code: err ? Number(err.code) : 0,
        stdout,
        lines: stderr.trim().split("\n").filter((l) => l !== ""),
      }))
  )

describe("harness CLI", () => {
  it("bad flags, values or subcommands: one line on stderr, exit 2", async () => {
    const cases = [["analyze", "--bogus"], ["analyze", "--format", "xml"], ["frob"], ["analyze", "extra"], ["report", "--results-dir"]]
    const results = await Promise.all(cases.map((args) => harnessAsync(...args)))
    for (const r of results) {
      expect({ args: r.args, code: r.code, lines: r.lines.length, stdout: r.stdout }).toEqual({ args: r.args, code: 2, lines: 1, stdout: "" })
    }
    expect(results[0].lines[0]).toMatch(/^harness analyze: Unrecognized flag: --bogus/)
    expect(results[1].lines[0]).toContain("--format")
    expect(results[2].lines[0]).toContain('Unknown subcommand "frob"')
  })

  it("analyze prints markdown (or CSV) from a results directory", async () => {
    const dir = await writeResults([tinyGpt2("t0", "2025-12-01T00:00:00.000Z"), tinyGpt2(), bert()])
    const md = harness("analyze", "--results-dir", dir, "--latest-only", "--workloads", "hf_tiny_gpt2,bert_latency_bound")
    expect(md.code).toBe(0)
    expect(md.stdout).toContain("### Table 1")
    expect(md.stdout).toContain("| hf_tiny_gpt2 | full_djinn | 5/5 | 112.00 | 113.80 | 113.96 |")
    expect(md.stdout).not.toContain("| t0 |")
    const csv = harness("analyze", "--results-dir", dir, "--format", "csv", "--workloads", "bert_latency_bound")
    expect(csv.code).toBe(0)
    expect(csv.stdout.trim().split("\n")).toHaveLength(3)
  })

  it("report writes the HTML file; a missing results dir is exit 1 naming it", async () => {
    const dir = await writeResults([bert()])
    const out = join(dir, "sub", "r.html")
    const r = harness("report", "--results-dir", dir, "--out", out)
    expect([r.code, r.lines]).toEqual([0, [`wrote ${out}`]])
    expect(existsSync(out)).toBe(true)
    const missing = harness("analyze", "--results-dir", "/nonexistent/results")
    expect(missing.code).toBe(1)
    expect(missing.lines).toHaveLength(1)
    expect(missing.lines[0]).toMatch(/^\/nonexistent\/results: cannot list/)
  })

  it("--help lists the subcommands and exits 0", () => {
    const r = harness("--help")
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/analyze[\s\S]*report/)
  })
})
