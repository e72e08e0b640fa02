import { openGpu, type GpuDevice } from "@djinn/gpu"
import { registry } from "@djinn/kernels"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { Schema } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  directMemory, findKnownModel, forwardLogits, generate, LlamaConfig, llamaTensors, loadCausalLM, paramCount, resolveModel,
  ropeTheta, SafetensorsCheckpoint, syntheticWeights, tokenizerFor, type ResolvedModel, type WeightSource,
} from "../src/index.ts"
import { comparableSteps, fixture, golden, relError } from "./fixtures.ts"

let gpu: GpuDevice
beforeAll(async () => { gpu = await openGpu(registry) })
afterAll(() => gpu?.destroy())

const knownConfig = (id: string) => JSON.parse(readFileSync(join(findKnownModel(id)!, "config.json"), "utf8"))
const decode = Schema.decodeUnknownSync(LlamaConfig)

describe("Llama llama-mini against PyTorch", () => {
  const g = golden("llama-mini")
  const model = resolveModel({ modelDir: fixture("llama-mini") })
  const ref = g.outputs.get("logits")!

  it("the checkpoint holds exactly the tensors the config implies", () => {
    const ckpt = SafetensorsCheckpoint.open(fixture("llama-mini"))
    const specs = llamaTensors(decode(model.config))
    expect(new Map(specs.map((t) => [t.name, t.shape]))).toEqual(new Map([...ckpt.tensors].map(([k, v]) => [k, v.shape])))
  })

  it("forward reproduces the logits and greedy_32 (f32: rel ≤ 1e-4; KV cache, GQA, RoPE at every position)", async () => {
    const mem = directMemory(gpu)
    const lm = loadCausalLM(gpu, mem, model, "f32")
    const logits = await forwardLogits(gpu, mem, lm, Array.from(g.inputIds))
    expect(logits.length).toBe(ref.data.length)
    expect(relError(logits, ref.data)).toBeLessThan(1e-4)
    const out = await generate(gpu, mem, lm, g.json.input_ids!, { maxNewTokens: 32 })
    // f32 logits are within ~3e-4 of float64: every margin (≥ 0.0128) is comparable.
    expect(comparableSteps(g.json.greedy_margins!, 1e-3)).toBe(32)
    expect(out.tokens).toEqual(g.json.greedy_32!)
  })

  it("f16 stays within 1e-2 and greedy agrees where the margin allows", async () => {
    if (!gpu.adapter.f16) return
    const mem = directMemory(gpu)
    const lm = loadCausalLM(gpu, mem, model, "f16")
    const logits = await forwardLogits(gpu, mem, lm, Array.from(g.inputIds))
    expect(relError(logits, ref.data)).toBeLessThan(1e-2)
    let worst = 0
    for (let i = 0; i < logits.length; i++) worst = Math.max(worst, Math.abs(logits[i] - ref.data[i]))
    const out = await generate(gpu, mem, lm, g.json.input_ids!, { maxNewTokens: 32 })
    // A step is comparable where its margin exceeds twice the worst logit error of the path.
    const n = comparableSteps(g.json.greedy_margins!, 2 * worst)
    expect(n).toBeGreaterThan(0)
    expect(out.tokens.slice(0, n)).toEqual(g.json.greedy_32!.slice(0, n))
  })
})

describe("Llama synthetic configs", () => {
  it("meta-llama/Llama-2-7b-hf: every tensor's shape follows from config.json (6.74 B parameters)", () => {
    const c = decode(knownConfig("meta-llama/Llama-2-7b-hf"))
    const specs = llamaTensors(c)
    expect(specs.length).toBe(2 + 32 * 9 + 1)
    expect(paramCount(specs)).toBe(6_738_415_616)
    expect(specs.find((t) => t.name === "model.layers.31.mlp.down_proj.weight")!.shape).toEqual([4096, 11008])
    expect(ropeTheta(c)).toBe(10000)
    expect(ropeTheta({ ...c, rope_theta: undefined, rope_parameters: { rope_theta: 5e5 } })).toBe(5e5)
  })

  // Llama-2 shape family, shrunk: GQA 4:2, head size 16, untied head.
  const tiny = (seed: number): ResolvedModel => ({
    id: "tiny-llama",
    config: { ...knownConfig("meta-llama/Llama-2-7b-hf"), vocab_size: 500, hidden_size: 64, intermediate_size: 112, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 64 },
    weights: syntheticWeights(seed),
    weightsSource: "synthetic",
  })
  /** The same seeded values computed on the CPU and uploaded (no `init`): what a recording/export source sees. */
  const onCpu = (w: WeightSource): WeightSource => ({ kind: w.kind, has: (n) => w.has(n), get: (n, s) => w.get(n, s) })

  it("a tiny config with GPU-filled weights runs end to end, deterministically for a seed", async () => {
    const prompt = [1, 17, 300, 42, 7]
    const run = async (m: ResolvedModel) => {
      const mem = directMemory(gpu)
      const lm = loadCausalLM(gpu, mem, m, "f32")
      return { logits: await forwardLogits(gpu, mem, lm, prompt), tokens: (await generate(gpu, mem, lm, prompt, { maxNewTokens: 6 })).tokens }
    }
    const a = await run(tiny(3)), b = await run(tiny(3)), c = await run(tiny(4))
    expect(a.logits.every(Number.isFinite)).toBe(true)
    expect(Array.from(a.logits)).toEqual(Array.from(b.logits))
    expect(a.tokens).toEqual(b.tokens)
    expect(relError(c.logits, a.logits)).toBeGreaterThan(0.1)
    // GPU fill = the CPU stream (to f32 rounding of the uniform), so exported synthetic checkpoints match.
    const cpu = await run({ ...tiny(3), weights: onCpu(syntheticWeights(3)) })
    expect(relError(cpu.logits, a.logits)).toBeLessThan(1e-5)
    expect(cpu.tokens).toEqual(a.tokens)
  })

  it("gate_up in blocks of 16 (silu(gate)·up in the prefill GEMM) matches [gate; up] and silu_mul (DJINN_FUSED_SWIGLU=0)", async () => {
    // I = 100: six whole blocks and one of 4 padded to 16 (the GPU fill's partial copy and zeroed rows); 12 tokens of
    // prefill (the GEMM's epilogue), then decode (gemv reading either layout); GPU-filled and CPU-computed weights.
    const model = (w: WeightSource): ResolvedModel => ({ ...tiny(5), config: { ...tiny(5).config, intermediate_size: 100 }, weights: w })
    const prompt = [1, 17, 300, 42, 7, 99, 3, 250, 11, 64, 128, 5]
    const run = async (m: ResolvedModel, fused: boolean) => {
      const before = process.env.DJINN_FUSED_SWIGLU
      process.env.DJINN_FUSED_SWIGLU = fused ? "1" : "0"
      try {
        const mem = directMemory(gpu)
        const lm = loadCausalLM(gpu, mem, m, "f32")
        return { logits: await forwardLogits(gpu, mem, lm, prompt), tokens: (await generate(gpu, mem, lm, prompt, { maxNewTokens: 4 })).tokens }
      } finally {
        if (before === undefined) delete process.env.DJINN_FUSED_SWIGLU
        else process.env.DJINN_FUSED_SWIGLU = before
      }
    }
    const halves = await run(model(syntheticWeights(5)), false)
    for (const w of [syntheticWeights(5), onCpu(syntheticWeights(5))]) {
      const blocks = await run(model(w), true)
      expect(relError(blocks.logits, halves.logits)).toBeLessThan(1e-5)
      expect(blocks.tokens).toEqual(halves.tokens)
    }
  })
})

describe("Llama tokenizer (SentencePiece, offline)", () => {
  it("encodes like HF's LlamaTokenizer (BOS, leading space) and decodes back", () => {
    const tok = tokenizerFor("llama")
    expect(tok.encode("Hello world!")).toEqual([1, 15043, 3186, 29991])
    expect(tok.decode(tok.encode("The quick brown fox."))).toBe("The quick brown fox.")
  })
})
