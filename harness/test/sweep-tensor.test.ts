// The encoder and vision workloads end to end on this machine's GPU: a tiny BERT and a tiny ResNet-50 (torchvision
// config, base width 8) through native, semantic_blind and full_djinn (semantic Forward with named tensors), outputs
// checked against native; vllm is skipped with its reason, the PyTorch peer runs where torch is installed and is skipped otherwise.
import { spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const repo = fileURLToPath(new URL("../../", import.meta.url))
const node = existsSync(join(repo, "node_modules/.bin/node")) ? join(repo, "node_modules/.bin/node") : process.execPath
const env = { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? "/tmp" }

const config = (dir: string) => {
  const file = join(dir, "tensor.yaml")
  writeFileSync(file, [
    `experiment: { runs: 2, warmup_runs: 1, tag: tensor_test, result_dir: ${JSON.stringify(join(dir, "results"))}, seed: 0 }`,
    "workloads:",
    "  - name: tiny_bert",
    "    implementation: synthetic_transformer",
    "    model_id: djinn/tiny-bert",
    "    model_config: { model_type: bert, vocab_size: 512, hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 128, max_position_embeddings: 64, type_vocab_size: 2, hidden_act: gelu, layer_norm_eps: 1.0e-12 }",
    "    batch_size: 2",
    "    params: { seq_len: 16 }",
    "  - name: tiny_resnet",
    "    implementation: hf_vision",
    "    model_id: djinn/tiny-resnet",
    "    model_config: { model_type: resnet, architecture: torchvision.models.resnet50, base_width: 8, num_classes: 10 }",
    "    batch_size: 2",
    "    params: { image_size: 32 }",
    "baselines:",
    "  - { name: native, type: native }",
    "  - { name: semantic_blind, type: remote_djinn, mode: blind }",
    "  - { name: full_djinn, type: remote_djinn, mode: semantic }",
    "  - { name: vllm, type: vllm }",
    "  - { name: native_pytorch, type: native_pytorch, device: cpu }",
    "",
  ].join("\n"))
  return file
}

describe("harness sweep: encoder and vision workloads", () => {
  it("full_djinn runs tiny BERT and tiny ResNet through semantic Forward with native's outputs", () => {
    const dir = mkdtempSync(join(tmpdir(), "djinn-sweep-tensor-"))
    const r = spawnSync(node, [join(repo, "harness/src/main.ts"), "sweep", "--config", config(dir)], { cwd: repo, env, encoding: "utf8", timeout: 110_000 })
    expect(r.status, r.stderr).toBe(0)
    const torch = spawnSync("python3", ["-c", "import torch, transformers"]).status === 0
    for (const [workload, units, shape] of [["tiny_bert", "sequences", [2, 16, 64]], ["tiny_resnet", "images", [2, 10]]] as const) {
      const result = JSON.parse(readFileSync(join(dir, "results", `${workload}__tensor_test.json`), "utf8"))
      expect(result.units).toBe(units)
      const byName = Object.fromEntries(result.results.map((b: { baseline: string }) => [b.baseline, b]))
      for (const name of ["native", "semantic_blind", "full_djinn"]) {
        expect([workload, name, byName[name].status, byName[name].outputs_match_native], byName[name].equivalence_detail ?? byName[name].reason)
          .toEqual([workload, name, "ok", true])
        expect(byName[name].runs.map((x: { ok: boolean }) => x.ok)).toEqual([true, true])
      }
      const run = byName.full_djinn.runs[0]
      expect(run.server_execution_ms).toBeGreaterThan(0)
      expect(run.server_duration_ms).toBeGreaterThanOrEqual(run.server_execution_ms)
      // The input tensor went out, the output values came back: at least their f16 bytes (float16 by default).
      const outBytes = shape.reduce((a, b) => a * b, 1) * 2
      expect(run.output_mb * 1e6).toBeGreaterThan(outBytes)
      // Ids go as i32, images in the model's f16 where the GPU has it (else f32).
      expect(run.input_mb * 1e6).toBeGreaterThan(workload === "tiny_bert" ? 2 * 16 * 4 : 2 * 3 * 32 * 32 * 2)
      // Driver-level remoting ships every buffer and dispatch; the semantic request, one tensor each way.
      expect(result.derived.data_savings_pct_vs_semantic_blind).toBeGreaterThan(25)
      expect([byName.vllm.status, byName.vllm.reason]).toEqual(["skipped", expect.stringContaining("no encoder or vision API")])
      const py = byName.native_pytorch
      if (torch) expect([py.status, py.outputs_match_native], py.equivalence_detail ?? py.reason).toEqual(["ok", true])
      else expect([py.status, py.reason]).toEqual(["skipped", expect.stringContaining("torch")])
    }
  }, 120_000)
})
