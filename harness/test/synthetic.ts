// Synthetic result files with hand-checkable numbers, shared by the analyzer, report and CLI tests.
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import {
  type BaselineInput, buildResultFile, failedRun, measuredRun, type ResultFile, type ResultInput, writeResultFile,
} from "../src/index.ts"

const server = {
  client_serialize_ms: 0.25, client_deserialize_ms: 0.5, client_network_c2s_ms: 1, client_network_s2c_ms: 0.75,
  server_duration_ms: 9, server_queue_latency_ms: 0.1, server_plan_ms: 0.2, server_placement_ms: 0.3,
  server_execution_ms: 8, server_skeletonization_ms: 0.15, server_cleanup_ms: 0.05,
}

const baseline = (
  name: string,
  type: BaselineInput["type"],
  latencies: ReadonlyArray<number>,
  { bytes, units, ...extra }: Partial<BaselineInput> & { bytes?: readonly [number, number] | null; units?: number } = {},
): BaselineInput => ({
  baseline: name,
  type,
  status: "ok",
  reason: null,
  warmup_runs: 1,
  runs: latencies.map((l, i) =>
    measuredRun({
      run: i,
      latencyMs: l,
      units: units ?? 32,
      inputBytes: bytes ? bytes[0] : null,
      outputBytes: bytes ? bytes[1] : null,
      ...(type === "native" ? {} : { breakdown: server }),
      tokensGenerated: units ?? 32,
      outputDigest: "sha256:abc",
    })
  ),
  outputs_match_native: type === "native" ? true : null,
  equivalence_detail: null,
  ...extra,
})

const experiment = {
  runs: 5, warmup_runs: 1, seed: 0, reference_baseline: "native", blind_baseline: "semantic_blind",
  target_baseline: "full_djinn", server_address: "localhost:5556",
}

const environment: ResultInput["environment"] = {
  adapter: { vendor: "nvidia", architecture: "hopper", device: "", description: "NVIDIA H100 80GB HBM3", backend: "dawn/vulkan" },
  gpu: null,
  runtime: { name: "node", version: "22.23.3", platform: "linux", arch: "x64" },
  commit: "0123456789abcdef0123456789abcdef01234567",
  dirty: false,
  config_file: "configs/overhead_hf_smoke.yaml",
  config_hash: "f".repeat(64),
  weights_source: { kind: "synthetic", model_id: "sshleifer/tiny-gpt2", seed: 0 },
}

/**
 * hf_tiny_gpt2 (tag t1): native 100..108 ms (mean 104, p95 107.6, p99 107.92); semantic_blind 150..158 ms, 12 MB;
 * full_djinn 110..114 ms, 0.6 MB (savings 95 %, ratio (154−104)/(112−104) = 6.25); rpc 4 ok + 1 failed run with
 * mismatched outputs; vllm skipped.
 */
export const tinyGpt2 = (tag = "t1", createdAt = "2025-12-02T10:00:00.000Z"): ResultFile =>
  buildResultFile({
    workload: "hf_tiny_gpt2",
    category: "sequential",
    implementation: "hf_causal_lm",
    tag,
    created_at: createdAt,
    units: "tokens",
    units_per_run: 32,
    workload_spec: { name: "hf_tiny_gpt2", params: { prompt_length: 64, new_tokens: 32 } },
    experiment,
    environment,
    results: [
      baseline("native", "native", [100, 102, 104, 106, 108]),
      baseline("semantic_blind", "remote_djinn", [150, 152, 154, 156, 158], { bytes: [10e6, 2e6], outputs_match_native: true }),
      baseline("full_djinn", "remote_djinn", [110, 111, 112, 113, 114], { bytes: [0.5e6, 0.1e6], outputs_match_native: true }),
      {
        ...baseline("rpc", "rpc", [120, 120, 130, 130], { bytes: [1e6, 1e6], outputs_match_native: false, equivalence_detail: "token 17 differs" }),
        runs: [
          ...baseline("rpc", "rpc", [120, 120, 130, 130], { bytes: [1e6, 1e6] }).runs,
          failedRun(4, "connection reset"),
        ],
      },
      { ...baseline("vllm", "vllm", []), status: "skipped", reason: "no endpoint at http://127.0.0.1:8000/v1", outputs_match_native: null },
    ],
  })

/** bert_latency_bound: native 8 ms flat, full_djinn 9 ms; no blind baseline (savings and ratio undefined). */
export const bert = (): ResultFile =>
  buildResultFile({
    workload: "bert_latency_bound",
    category: "encoder",
    implementation: "synthetic_transformer",
    tag: "t1",
    created_at: "2025-12-02T11:00:00.000Z",
    units: "sequences",
    units_per_run: 1,
    workload_spec: { name: "bert_latency_bound", params: { seq_len: 128 } },
    experiment,
    environment: { ...environment, weights_source: { kind: "checkpoint", model_id: "bert-base-uncased", dir: "/models/bert" } },
    results: [
      baseline("native", "native", [8, 8, 8], { units: 1 }),
      baseline("full_djinn", "remote_djinn", [9, 9, 9], { units: 1, bytes: [1000, 500], outputs_match_native: true }),
    ],
  })

/** A fresh temp dir holding the given result files (written through the real writer). */
export const writeResults = async (files: ReadonlyArray<ResultFile>): Promise<string> => {
  const dir = mkdtempSync(join(tmpdir(), "djinn-results-"))
  for (const f of files) {
    await Effect.runPromise(writeResultFile(dir, f).pipe(Effect.provide(NodeServices.layer)))
  }
  return dir
}
