import { fileURLToPath } from "node:url"
import { NodeServices } from "@effect/platform-node"
import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import {
  HarnessError, loadConfig, parseConfig, resolveServerAddress, weightsSourceFor, workloadUnits,
} from "../src/index.ts"

const repo = fileURLToPath(new URL("../../", import.meta.url))
const load = (file: string) => Effect.runPromise(loadConfig(`${repo}${file}`).pipe(Effect.provide(NodeServices.layer)))
const fail = (text: string, file = "suite.yaml") => Effect.runPromise(Effect.flip(parseConfig(text, file)))

const minimal = (experiment: string, workload = "{ name: w, implementation: hf_causal_lm, model_id: m, params: { prompt_length: 8, new_tokens: 2 } }") =>
  `experiment: ${experiment}
workloads: [ ${workload} ]
baselines:
  - { name: native, type: native }
  - { name: semantic_blind, type: remote_djinn, mode: blind }
  - { name: full_djinn, type: remote_djinn, mode: semantic }
`

describe("configs/", () => {
  it("overhead_hf_smoke.yaml has the seed's six workloads and seven baselines", async () => {
    const { config, hash } = await load("configs/overhead_hf_smoke.yaml")
    expect(config.workloads.map((w) => [w.name, w.implementation, w.model_id, w.batch_size, w.dtype, w.params])).toEqual([
      ["hf_tiny_gpt2", "hf_causal_lm", "sshleifer/tiny-gpt2", 1, "float16", { prompt_length: 64, new_tokens: 32 }],
      ["hf_tiny_gpt2_gen128", "hf_causal_lm", "sshleifer/tiny-gpt2", 1, "float16", { prompt_length: 64, new_tokens: 128 }],
      ["llama_decode_1tok", "hf_causal_lm", "meta-llama/Llama-2-7b-hf", 1, "float16", { prompt_length: 512, new_tokens: 1 }],
      ["llama_prefill_1k", "hf_causal_lm", "meta-llama/Llama-2-7b-hf", 1, "float16", { prompt_length: 1024, new_tokens: 0 }],
      ["bert_latency_bound", "synthetic_transformer", "bert-base-uncased", 1, "float16", { seq_len: 128 }],
      ["resnet50_batch8", "hf_vision", "microsoft/resnet-50", 8, "float16", { image_size: 224, channels: 3 }],
    ])
    const bert = config.workloads[4].model_config!
    expect([bert.num_hidden_layers, bert.hidden_size, bert.num_attention_heads, bert.intermediate_size]).toEqual([12, 768, 12, 3072])
    expect(config.baselines.map((b) => b.name)).toEqual([
      "native", "semantic_blind", "full_djinn", "rpc", "vllm", "native_pytorch", "pytorch_rpc",
    ])
    expect(config.experiment).toMatchObject({
      runs: 30, warmup_runs: 3, tag: "overhead_hf_smoke", result_dir: "results/overhead",
      reference_baseline: "native", blind_baseline: "semantic_blind", target_baseline: "full_djinn",
    })
    expect(hash).toMatch(/^[0-9a-f]{64}$/)
    expect(config.workloads.map((w) => workloadUnits(w))).toEqual([
      { units: "tokens", perRun: 32 }, { units: "tokens", perRun: 128 }, { units: "tokens", perRun: 1 },
      { units: "tokens", perRun: 1024 }, { units: "sequences", perRun: 1 }, { units: "images", perRun: 8 },
    ])
  })

  it("default.yaml is a small CPU suite with synthetic weights", async () => {
    const { config } = await load("configs/default.yaml")
    expect(config.workloads.map((w) => w.name)).toEqual(["hf_tiny_gpt2", "gpt2_mini"])
    expect(config.experiment.runs).toBeLessThanOrEqual(5)
    expect(weightsSourceFor(config.workloads[1], config.experiment.seed)).toEqual({ kind: "synthetic", model_id: "djinn/gpt2-mini", seed: 0 })
  })

  it("the hash ignores comments and key order", async () => {
    const a = await Effect.runPromise(parseConfig(minimal("{ runs: 3, tag: t }"), "a.yaml"))
    const b = await Effect.runPromise(parseConfig(`# comment\n${minimal("{ tag: t, runs: 3 }")}`, "b.yaml"))
    const c = await Effect.runPromise(parseConfig(minimal("{ tag: t, runs: 4 }"), "c.yaml"))
    expect(a.hash).toBe(b.hash)
    expect(a.hash).not.toBe(c.hash)
  })
})

describe("config errors name the file and the key path", () => {
  it("type, range and unknown keys, each with its path", async () => {
    const e = await fail(minimal("{ runs: 0, tag: 't', warmup_run: 2 }", "{ name: w, implementation: hf_causal_lm, model_id: m, params: { prompt_length: 8, new_tokens: -1 } }"), "configs/x.yaml")
    expect(e).toBeInstanceOf(HarnessError)
    expect(e.reason).toBe("ConfigInvalid")
    expect(e.file).toBe("configs/x.yaml")
    expect(e.issues.map((i) => i.key).sort()).toEqual(["experiment.runs", "experiment.warmup_run", "workloads[0].params.new_tokens"])
    expect(e.message).toMatch(/^configs\/x\.yaml: 3 problems/)
    expect(e.message).toContain("workloads[0].params.new_tokens: Expected a value greater than or equal to 0")
    expect(e.message).toContain("experiment.warmup_run: Expected no excess property")
  })

  it("an unknown implementation or baseline type names the entry and the choices", async () => {
    const e = await fail(minimal("{ runs: 1, tag: t }", "{ name: w, implementation: gguf, model_id: m, params: {} }"))
    expect(e.message).toBe("suite.yaml: workloads[0]: Expected a workload with implementation hf_causal_lm | synthetic_transformer | hf_vision")
    const b = await fail(minimal("{ runs: 1, tag: t }").replace("type: native", "type: nativ"))
    expect(b.issues).toEqual([{ key: "baselines[0]", detail: expect.stringContaining("native | remote_djinn | rpc | vllm | native_pytorch | pytorch_rpc") }])
  })

  it("cross-key rules: duplicate names, unknown reference/blind/target baselines", async () => {
    const e = await fail(minimal("{ runs: 1, tag: t, target_baseline: djinn }").replace("name: semantic_blind", "name: native"))
    expect(e.issues).toEqual([
      { key: "baselines[1].name", detail: 'duplicate name "native"' },
      { key: "experiment.blind_baseline", detail: expect.stringContaining('"semantic_blind" is not among baselines') },
      { key: "experiment.target_baseline", detail: expect.stringContaining('"djinn" is not among baselines') },
    ])
  })

  it("YAML syntax errors and missing files name the file", async () => {
    const e = await fail("experiment: [1\nworkloads: 2", "broken.yaml")
    expect(e.message).toMatch(/^broken\.yaml: YAML syntax: .*line 2/)
    const missing = await Effect.runPromise(Effect.flip(loadConfig("/nonexistent/suite.yaml").pipe(Effect.provide(NodeServices.layer))))
    expect(missing.reason).toBe("ConfigNotFound")
    expect(missing.message).toMatch(/^\/nonexistent\/suite\.yaml: cannot read/)
  })
})

describe("resolveServerAddress", () => {
  const loaded = async (experiment: string) => Effect.runPromise(parseConfig(minimal(experiment), "s.yaml"))
  const resolve = async (experiment: string, env: Record<string, string | undefined>) =>
    Effect.runPromise(resolveServerAddress(await loaded(experiment), env))

  it("config key, then DJINN_SERVER_ADDRESS, then GENIE_SERVER_ADDRESS, then localhost:5556", async () => {
    const env = { DJINN_SERVER_ADDRESS: "djinn:1", GENIE_SERVER_ADDRESS: "genie:2" }
    expect(await resolve("{ runs: 1, tag: t, djinn_server_address: 'cfg:3' }", env)).toMatchObject({ address: "cfg:3", source: "config", host: "cfg", port: 3 })
    expect(await resolve("{ runs: 1, tag: t }", env)).toMatchObject({ address: "djinn:1", source: "DJINN_SERVER_ADDRESS" })
    expect(await resolve("{ runs: 1, tag: t }", { GENIE_SERVER_ADDRESS: "genie:2" })).toMatchObject({ address: "genie:2", source: "GENIE_SERVER_ADDRESS" })
    expect(await resolve("{ runs: 1, tag: t }", { DJINN_SERVER_ADDRESS: "  " })).toMatchObject({ address: "localhost:5556", source: "default", port: 5556 })
    expect(await resolve("{ runs: 1, tag: t }", { DJINN_SERVER_ADDRESS: "[::1]:9000" })).toMatchObject({ host: "::1", port: 9000 })
  })

  it("a baseline's own server_address wins", async () => {
    const l = await Effect.runPromise(parseConfig(minimal("{ runs: 1, tag: t }").replace("mode: semantic }", "mode: semantic, server_address: 'gpu1:7000' }"), "s.yaml"))
    expect(await Effect.runPromise(resolveServerAddress(l, {}, l.config.baselines[2]))).toMatchObject({ address: "gpu1:7000", source: "baseline" })
  })

  it("a malformed env value is an error naming the variable", async () => {
    const exit = await Effect.runPromiseExit(resolveServerAddress(await loaded("{ runs: 1, tag: t }"), { DJINN_SERVER_ADDRESS: "gpu-host" }))
    expect(Exit.isFailure(exit)).toBe(true)
    const e = await Effect.runPromise(Effect.flip(resolveServerAddress(await loaded("{ runs: 1, tag: t }"), { DJINN_SERVER_ADDRESS: "gpu-host:99999" })))
    expect(e.message).toBe('environment variable DJINN_SERVER_ADDRESS: expected host:port, got "gpu-host:99999"')
  })
})
