// The sweep end to end on this machine's GPU (lavapipe in CI): a tiny config through every baseline, the result file,
// the equivalence verdicts and the analyzer; and Ctrl-C leaving no child process behind.
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { randomUUID } from "node:crypto"
import { describe, expect, it } from "vitest"

const repo = fileURLToPath(new URL("../../", import.meta.url))
const node = existsSync(join(repo, "node_modules/.bin/node")) ? join(repo, "node_modules/.bin/node") : process.execPath
const env = { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? "/tmp" }

const tinyConfig = (dir: string, runs: number, baselines: ReadonlyArray<string>) => {
  const file = join(dir, "tiny.yaml")
  const all: Record<string, string> = {
    native: "{ name: native, type: native }",
    semantic_blind: "{ name: semantic_blind, type: remote_djinn, mode: blind }",
    full_djinn: "{ name: full_djinn, type: remote_djinn, mode: semantic }",
    rpc: "{ name: rpc, type: rpc }",
    vllm: "{ name: vllm, type: vllm }",
    native_pytorch: "{ name: native_pytorch, type: native_pytorch, device: cpu }",
    pytorch_rpc: "{ name: pytorch_rpc, type: pytorch_rpc, device: cpu, master_port: 29517 }",
  }
  writeFileSync(file, [
    "experiment: { runs: " + runs + ", warmup_runs: 1, tag: tiny_test, result_dir: " + JSON.stringify(join(dir, "results")) + ", seed: 0 }",
    "workloads:",
    "  - name: hf_tiny_gpt2",
    "    implementation: hf_causal_lm",
    "    model_id: sshleifer/tiny-gpt2",
    "    model_config: { model_type: gpt2, vocab_size: 50257, n_positions: 1024, n_embd: 2, n_layer: 2, n_head: 2, activation_function: gelu_new, layer_norm_epsilon: 1.0e-5, tie_word_embeddings: true }",
    "    params: { prompt_length: 8, new_tokens: 4 }",
    "baselines:",
    ...baselines.map((b) => `  - ${all[b]}`),
    "",
  ].join("\n"))
  return file
}

/** Processes (other than `except`) started with DJINN_SWEEP_ID=id in their environment. */
const marked = (id: string, except: number): Array<number> =>
  readdirSync("/proc").filter((p) => /^\d+$/.test(p) && Number(p) !== except).flatMap((p) => {
    try {
      return readFileSync(`/proc/${p}/environ`, "latin1").split("\0").includes(`DJINN_SWEEP_ID=${id}`) ? [Number(p)] : []
    } catch {
      return []
    }
  })

const waitFor = async (what: string, check: () => boolean, ms: number) => {
  const until = Date.now() + ms
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

const exitOf = (p: ChildProcess) => new Promise<number | null>((resolve) => p.once("exit", (code) => resolve(code)))

describe("harness sweep", () => {
  it("runs every baseline on a tiny config, checks outputs against native and renders the tables", () => {
    const dir = mkdtempSync(join(tmpdir(), "djinn-sweep-"))
    const config = tinyConfig(dir, 2, ["native", "semantic_blind", "full_djinn", "rpc", "vllm", "native_pytorch", "pytorch_rpc"])
    const started = Date.now()
    const r = spawnSync(node, [join(repo, "harness/src/main.ts"), "sweep", "--config", config], { cwd: repo, env, encoding: "utf8", timeout: 110_000 })
    const seconds = (Date.now() - started) / 1000
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout).toContain("### Table 1")
    const file = join(dir, "results", "hf_tiny_gpt2__tiny_test.json")
    const result = JSON.parse(readFileSync(file, "utf8"))
    expect(result.environment.adapter).not.toBeNull()
    expect(result.environment.weights_source).toEqual({ kind: "synthetic", model_id: "sshleifer/tiny-gpt2", seed: 0 })
    const torch = spawnSync("python3", ["-c", "import torch, transformers"]).status === 0
    for (const b of result.results) {
      if (!torch && (b.type === "native_pytorch" || b.type === "pytorch_rpc")) {
        expect([b.baseline, b.status, b.reason]).toEqual([b.baseline, "skipped", expect.stringContaining("torch")])
        continue
      }
      expect([b.baseline, b.status, b.outputs_match_native], JSON.stringify(b.equivalence_detail)).toEqual([b.baseline, "ok", true])
      expect(b.runs).toHaveLength(2)
      for (const run of b.runs) {
        expect(run.ok).toBe(true)
        expect(run.tokens).toHaveLength(4)
        expect(run.latency_ms).toBeGreaterThan(0)
      }
    }
    const byName = Object.fromEntries(result.results.map((b: { baseline: string }) => [b.baseline, b]))
    // What each system puts on the wire: nothing (native), ids + tokens (semantic, rpc), every GPU call (blind).
    expect(byName.native.runs[0].total_data_mb).toBeNull()
    expect(byName.full_djinn.runs[0].server_execution_ms).toBeGreaterThan(0)
    expect(byName.semantic_blind.runs[0].total_data_mb).toBeGreaterThan(byName.full_djinn.runs[0].total_data_mb)
    expect(byName.rpc.runs[0].input_mb).toBeGreaterThan(0)
    expect(result.derived.data_savings_pct_vs_semantic_blind).toBeGreaterThan(0)
    const md = spawnSync(node, [join(repo, "harness/src/main.ts"), "analyze", "--results-dir", join(dir, "results")], { cwd: repo, env, encoding: "utf8" })
    expect(md.status).toBe(0)
    expect(md.stdout).toMatch(/\| hf_tiny_gpt2 \| full_djinn \| 2\/2 \|/)
    expect(seconds).toBeLessThan(90)
  }, 120_000)

  it("--interleave sets the baselines up together and runs them round-robin, with the same checks", () => {
    const dir = mkdtempSync(join(tmpdir(), "djinn-sweep-"))
    const config = tinyConfig(dir, 2, ["native", "semantic_blind", "full_djinn"])
    const r = spawnSync(node, [join(repo, "harness/src/main.ts"), "sweep", "--config", config, "--baselines", "full_djinn", "--interleave"], { cwd: repo, env, encoding: "utf8", timeout: 110_000 })
    expect(r.status, r.stderr).toBe(0)
    const lines = r.stderr.split("\n")
    const together = lines.findIndex((l) => l.includes("native, full_djinn set up; warm-ups and runs round-robin"))
    expect(together).toBeGreaterThanOrEqual(0)
    // Every baseline's summary comes after the shared setup (sequentially, native's would come before full_djinn's setup).
    for (const b of ["native", "full_djinn"]) expect(lines.findIndex((l) => l.includes(`hf_tiny_gpt2 › ${b}: 2/2 ok`))).toBeGreaterThan(together)
    const result = JSON.parse(readFileSync(join(dir, "results", "hf_tiny_gpt2__tiny_test.json"), "utf8"))
    for (const b of result.results) {
      expect([b.baseline, b.status, b.outputs_match_native]).toEqual([b.baseline, "ok", true])
      expect(b.runs.map((x: { run: number }) => x.run)).toEqual([0, 1])
    }
  }, 120_000)
  it("Ctrl-C (SIGINT) stops the sweep and every process it started", async () => {
    const dir = mkdtempSync(join(tmpdir(), "djinn-sweep-int-"))
    const config = tinyConfig(dir, 10_000, ["native", "semantic_blind", "full_djinn", "rpc"])
    const id = `test-${randomUUID()}`
    const p = spawn(node, [join(repo, "harness/src/main.ts"), "sweep", "--config", config], { cwd: repo, env: { ...env, DJINN_SWEEP_ID: id }, stdio: ["ignore", "pipe", "pipe"] })
    let stderr = ""
    p.stderr!.on("data", (c) => (stderr += c))
    const exited = exitOf(p)
    // Wait until the native worker is up and measuring, then interrupt.
    await waitFor("a child of the sweep", () => {
      if (p.exitCode !== null) throw new Error(`the sweep exited early (${p.exitCode}): ${stderr}`)
      return marked(id, p.pid!).length > 0
    }, 60_000)
    await new Promise((r) => setTimeout(r, 1500))
    expect(marked(id, p.pid!).length).toBeGreaterThan(0)
    p.kill("SIGINT")
    expect(await exited).toBe(130)
    expect(stderr).toContain("sweep interrupted")
    await waitFor("no child left", () => marked(id, -1).length === 0, 10_000)
    expect(existsSync(join(dir, "results", "hf_tiny_gpt2__tiny_test.json"))).toBe(false)
  }, 90_000)
})
