import { openGpu, type GpuDevice } from "@djinn/gpu"
import { registry } from "@djinn/kernels"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { directMemory, forwardLastLogits, forwardLogits, generate, loadCausalLM, pooledMemory, resolveModel } from "../src/index.ts"
import { comparableSteps, fixture, golden, relError } from "./fixtures.ts"

let gpu: GpuDevice
beforeAll(async () => { gpu = await openGpu(registry) })
afterAll(() => gpu?.destroy())

for (const name of ["gpt2-tiny", "gpt2-mini"]) {
  describe(`GPT-2 ${name} against PyTorch`, () => {
    const g = golden(name)
    const model = resolveModel({ modelDir: fixture(name) })

    it("forward reproduces the logits (f32, rel ≤ 1e-4)", async () => {
      const mem = directMemory(gpu)
      const lm = loadCausalLM(gpu, mem, model, "f32")
      const logits = await forwardLogits(gpu, mem, lm, Array.from(g.inputIds))
      const ref = g.outputs.get("logits")!
      expect(logits.length).toBe(ref.data.length)
      expect(relError(logits, ref.data)).toBeLessThan(1e-4)
    })

    it("forwardLastLogits gives the last row of the full logits", async () => {
      const mem = directMemory(gpu)
      const lm = loadCausalLM(gpu, mem, model, "f32")
      const last = await forwardLastLogits(gpu, mem, lm, Array.from(g.inputIds))
      const ref = g.outputs.get("logits")!.data
      expect(relError(last, ref.subarray(ref.length - lm.vocabSize))).toBeLessThan(1e-4)
    })

    it("greedy generation reproduces greedy_32 (f32)", async () => {
      const mem = directMemory(gpu)
      const lm = loadCausalLM(gpu, mem, model, "f32")
      const out = await generate(gpu, mem, lm, g.json.input_ids!, { maxNewTokens: 32 })
      const n = comparableSteps(g.json.greedy_margins!, 1e-4)
      expect(n).toBeGreaterThan(0)
      expect(out.tokens.slice(0, n)).toEqual(g.json.greedy_32!.slice(0, n))
    })

    it("streams the same tokens as it returns", async () => {
      const mem = directMemory(gpu)
      const lm = loadCausalLM(gpu, mem, model, "f32")
      const streamed: number[] = []
      const out = await generate(gpu, mem, lm, g.json.input_ids!, { maxNewTokens: 13, streamEvery: 4, onTokens: (t) => streamed.push(...t) })
      expect(streamed).toEqual(out.tokens)
      expect(out.tokens).toEqual(g.json.greedy_32!.slice(0, 13))
    })

    it("greedy_32 through the fused decode kernel, and the same tokens as one step per token (f32, f16)", async () => {
      for (const dtype of gpu.adapter.f16 ? ["f32", "f16"] as const : ["f32"] as const) {
        const mem = directMemory(gpu)
        const lm = loadCausalLM(gpu, mem, model, dtype)
        // The fused path engages: one decode call records the whole remainder.
        let fusedCalls = 0
        const decode = lm.decodeGreedy?.bind(lm)
        expect(decode).toBeDefined()
        lm.decodeGreedy = (a) => { const ok = decode!(a); if (ok) fusedCalls++; return ok }
        const fused = await generate(gpu, mem, lm, g.json.input_ids!, { maxNewTokens: 32 })
        expect(fusedCalls).toBe(1)
        const stepwise = await generate(gpu, mem, lm, g.json.input_ids!, { maxNewTokens: 32, fused: false })
        expect(fused.tokens).toEqual(stepwise.tokens)
        expect(fused.cache.length).toBe(stepwise.cache.length)
        if (dtype === "f32") {
          const n = comparableSteps(g.json.greedy_margins!, 1e-4)
          expect(fused.tokens.slice(0, n)).toEqual(g.json.greedy_32!.slice(0, n))
        }
      }
    })

    it("with lastLogits the logits tensor ends as the per-op path leaves it (the last token runs per op)", async () => {
      const run = async (options: { fused: boolean; lastLogits?: boolean }) => {
        const inner = pooledMemory(gpu)
        let logits: { buffer: number; offset: number } | undefined
        const mem = { alloc: (b: number, seg: "text" | "data" | "stack", label?: string) => { const a = inner.alloc(b, seg, label); if (label === "logits") logits = a; return a }, release: inner.release }
        const lm = loadCausalLM(gpu, mem, model, "f32")
        const out = await generate(gpu, mem, lm, g.json.input_ids!, { maxNewTokens: 9, ...options })
        const raw = await gpu.read(logits!.buffer, logits!.offset, lm.vocabSize * 4)
        return { tokens: out.tokens, logits: new Float32Array(raw.buffer, raw.byteOffset, lm.vocabSize) }
      }
      const stepwise = await run({ fused: false })
      const kept = await run({ fused: true, lastLogits: true })
      const plain = await run({ fused: true })
      expect(kept.tokens).toEqual(stepwise.tokens)
      expect(plain.tokens).toEqual(stepwise.tokens)
      expect(relError(kept.logits, stepwise.logits)).toBeLessThan(1e-6)
      // Without it the fused decode leaves the prefill's logits behind — which shows where they differ from the last
      // step's (gpt2-tiny's are nearly position-independent).
      const prefill = await forwardLastLogits(gpu, directMemory(gpu), loadCausalLM(gpu, directMemory(gpu), model, "f32"), g.json.input_ids!)
      expect(relError(plain.logits, prefill)).toBeLessThan(1e-5)
      if (name === "gpt2-mini") expect(relError(plain.logits, stepwise.logits)).toBeGreaterThan(1e-3)
    })

    it("a session's cache continues through the fused path (second request appended)", async () => {
      const mem = directMemory(gpu)
      const lm = loadCausalLM(gpu, mem, model, "f32")
      const ids = g.json.input_ids!
      const first = await generate(gpu, mem, lm, ids, { maxNewTokens: 8, cache: lm.newCache(mem, ids.length + 17) })
      const second = await generate(gpu, mem, lm, [first.tokens[7]], { maxNewTokens: 8, cache: first.cache })
      const whole = await generate(gpu, mem, lm, ids, { maxNewTokens: 16, fused: false })
      expect([...first.tokens, ...second.tokens]).toEqual(whole.tokens)
    })

    it("f16 storage stays within 1e-2 where the adapter has shader-f16", async () => {
      if (!gpu.adapter.f16) return
      const mem = directMemory(gpu)
      const lm = loadCausalLM(gpu, mem, model, "f16")
      const logits = await forwardLogits(gpu, mem, lm, Array.from(g.inputIds))
      expect(relError(logits, g.outputs.get("logits")!.data)).toBeLessThan(1e-2)
    })
  })
}

describe("GPT-2 input checks", () => {
  it("rejects token ids outside the vocabulary with a typed error", async () => {
    const mem = directMemory(gpu)
    const lm = loadCausalLM(gpu, mem, resolveModel({ modelDir: fixture("gpt2-mini") }), "f32")
    await expect(generate(gpu, mem, lm, [1, 4096], { maxNewTokens: 2 })).rejects.toMatchObject({ _tag: "EngineError", reason: "Input" })
  })
  it("runs a known model id with synthetic weights, deterministically", async () => {
    const mem = directMemory(gpu)
    const model = resolveModel({ modelId: "sshleifer/tiny-gpt2", seed: 7 })
    expect(model.weightsSource).toBe("synthetic")
    const a = await generate(gpu, mem, loadCausalLM(gpu, mem, model, "f32"), [1, 2, 3], { maxNewTokens: 5 })
    const b = await generate(gpu, mem, loadCausalLM(gpu, mem, resolveModel({ modelId: "tiny-gpt2", seed: 7 }), "f32"), [1, 2, 3], { maxNewTokens: 5 })
    expect(a.tokens).toEqual(b.tokens)
    expect(a.tokens.every((t) => t >= 0 && t < 50257)).toBe(true)
  })
})
