import { openGpu, WebGpuDevice, type DType } from "@djinn/gpu"
import { registry } from "@djinn/kernels"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  directMemory, findKnownModel, forwardEncoder, forwardVision, loadEncoder, loadVision, pooledMemory, structuralKey, syntheticWeights, type EncoderInputs,
  type ResolvedModel,
} from "../src/index.ts"

// Forwards replayed from a device recording (ForwardReplays) must give exactly what the model's own recording gives,
// for other inputs of the same shape; another shape, other buffers or replay off must not replay.
let gpu: WebGpuDevice
beforeAll(async () => {
  const opened = await openGpu(registry)
  if (!(opened instanceof WebGpuDevice)) throw new Error("replay needs a WebGpuDevice")
  gpu = opened
})
afterAll(() => gpu?.destroy())

const knownConfig = (id: string) => JSON.parse(readFileSync(join(findKnownModel(id)!, "config.json"), "utf8"))
const tinyBert: ResolvedModel = {
  id: "tiny-bert",
  config: { ...knownConfig("google-bert/bert-base-uncased"), vocab_size: 300, hidden_size: 48, num_hidden_layers: 3, num_attention_heads: 3, intermediate_size: 96, max_position_embeddings: 32 },
  weights: syntheticWeights(3),
  weightsSource: "synthetic",
}
const tinyResNet: ResolvedModel = {
  id: "tiny-resnet",
  config: { ...knownConfig("microsoft/resnet-50"), embedding_size: 8, hidden_sizes: [16, 32, 64, 128], depths: [1, 2, 1, 1], num_labels: 10 },
  weights: syntheticWeights(5),
  weightsSource: "synthetic",
}

/** Inputs of one [B, S] shape, differing in ids, mask and token types with the seed. */
const encoderInputs = (seed: number, B = 2, S = 7): EncoderInputs => {
  const n = B * S
  const ids = Int32Array.from({ length: n }, (_, i) => (i * 37 + seed * 101) % 300)
  const attentionMask = Int32Array.from({ length: n }, (_, i) => (i % S < S - (seed % 3) ? 1 : 0))
  const tokenTypeIds = Int32Array.from({ length: n }, (_, i) => (i % S >= 3 + (seed % 2) ? 1 : 0))
  return { inputIds: ids, B, S, attentionMask, tokenTypeIds }
}

/** Replays and captures made by `run`. */
const counted = async <A>(run: () => Promise<A>): Promise<{ value: A; replays: number; captures: number }> => {
  gpu.takeCpuStats()
  const value = await run()
  const { replays, captures } = gpu.takeCpuStats()
  return { value, replays, captures }
}

const bits = (a: Float32Array | undefined) => Array.from(new Uint32Array(a!.buffer, a!.byteOffset, a!.length))

describe("forward replay", () => {
  const dtypes = (): DType[] => (gpu.adapter.f16 ? ["f32", "f16"] : ["f32"])

  it("BERT: replayed forwards of other inputs give exactly the normal path's outputs", async () => {
    for (const dtype of dtypes()) {
      const mem = pooledMemory(gpu)
      const bert = loadEncoder(gpu, mem, tinyBert, dtype)
      const seeds = [1, 2, 3, 4, 5, 1]
      gpu.setReplay(false)
      const normal = []
      for (const s of seeds) normal.push(await forwardEncoder(gpu, mem, bert, encoderInputs(s)))
      gpu.setReplay(true)
      let replays = 0
      for (const [i, s] of seeds.entries()) {
        const r = await counted(() => forwardEncoder(gpu, mem, bert, encoderInputs(s)))
        // Seen once, captured the second time, replayed from then on.
        expect([r.captures, r.replays]).toEqual(i === 0 ? [0, 0] : i === 1 ? [1, 0] : [0, 1])
        replays += r.replays
        expect(bits(r.value.lastHiddenState)).toEqual(bits(normal[i].lastHiddenState))
        expect(bits(r.value.poolerOutput)).toEqual(bits(normal[i].poolerOutput))
      }
      expect(replays).toBe(4)
      // The inputs did differ.
      expect(bits(normal[0].lastHiddenState)).not.toEqual(bits(normal[1].lastHiddenState))
      await gpu.checkErrors()
    }
  })

  it("BERT: another shape, or the same shape without a mask, is recorded anew, not replayed", async () => {
    const mem = pooledMemory(gpu)
    const bert = loadEncoder(gpu, mem, tinyBert, "f32")
    gpu.setReplay(true)
    for (let i = 0; i < 3; i++) await forwardEncoder(gpu, mem, bert, encoderInputs(i, 2, 7))
    const wider = await counted(() => forwardEncoder(gpu, mem, bert, encoderInputs(9, 2, 9)))
    expect(wider.replays).toBe(0)
    const { attentionMask: _m, ...unmasked } = encoderInputs(9, 2, 7)
    const r = await counted(() => forwardEncoder(gpu, mem, bert, unmasked))
    expect(r.replays).toBe(0)
    gpu.setReplay(false)
    const reference = await forwardEncoder(gpu, mem, bert, unmasked)
    expect(bits(r.value.lastHiddenState)).toEqual(bits(reference.lastHiddenState))
    // Back to the first shape: its recording is still there.
    gpu.setReplay(true)
    expect((await counted(() => forwardEncoder(gpu, mem, bert, encoderInputs(4, 2, 7)))).replays).toBe(1)
  })

  it("BERT: fresh buffers every forward (directMemory) never replay and never capture", async () => {
    const mem = directMemory(gpu)
    const bert = loadEncoder(gpu, mem, tinyBert, "f32")
    gpu.setReplay(true)
    for (let i = 0; i < 3; i++) {
      const r = await counted(() => forwardEncoder(gpu, mem, bert, encoderInputs(i)))
      expect([r.captures, r.replays]).toEqual([0, 0])
    }
  })

  it("a recording whose buffers were destroyed falls back to the normal path", async () => {
    const mem = pooledMemory(gpu)
    const bert = loadEncoder(gpu, mem, tinyBert, "f32")
    gpu.setReplay(true)
    for (let i = 0; i < 3; i++) await forwardEncoder(gpu, mem, bert, encoderInputs(i))
    expect((await counted(() => forwardEncoder(gpu, mem, bert, encoderInputs(3)))).replays).toBe(1)
    // The pool's free buffers destroyed: the next forward gets new ones (another key), and the old recording is dead.
    mem.trim()
    const r = await counted(() => forwardEncoder(gpu, mem, bert, encoderInputs(4)))
    expect(r.replays).toBe(0)
    gpu.setReplay(false)
    expect(bits(r.value.lastHiddenState)).toEqual(bits((await forwardEncoder(gpu, mem, bert, encoderInputs(4))).lastHiddenState))
  })

  it("ResNet: replayed forwards of other images give exactly the normal path's logits (both layouts)", async () => {
    for (const layout of ["nchw", "nhwc"] as const) {
      const mem = pooledMemory(gpu)
      const net = loadVision(gpu, mem, tinyResNet, gpu.adapter.f16 ? "f16" : "f32", { layout })
      const shape: [number, number, number, number] = [2, 3, 48, 48]
      const image = (seed: number) => Float32Array.from({ length: 2 * 3 * 48 * 48 }, (_, i) => Math.sin(i * 0.37 + seed))
      gpu.setReplay(false)
      const normal = [] as Float32Array[]
      for (let s = 0; s < 4; s++) normal.push(await forwardVision(gpu, mem, net, image(s), shape))
      gpu.setReplay(true)
      let replays = 0
      for (let s = 0; s < 4; s++) {
        const r = await counted(() => forwardVision(gpu, mem, net, image(s), shape))
        replays += r.replays
        expect(bits(r.value)).toEqual(bits(normal[s]))
      }
      expect(replays).toBe(2)
      expect(bits(normal[0])).not.toEqual(bits(normal[1]))
      // Another image size: recorded anew.
      const small = await counted(() => forwardVision(gpu, mem, net, image(0).subarray(0, 2 * 3 * 40 * 40), [2, 3, 40, 40]))
      expect(small.replays).toBe(0)
      await gpu.checkErrors()
    }
  })
})

describe("structuralKey", () => {
  it("tells structures apart and refuses what it cannot describe", () => {
    const t = (buffer: number, shape: number[]) => ({ buffer, offset: 0, shape, dtype: "f32" })
    const keys = [
      { a: t(1, [2, 3]) }, { a: t(2, [2, 3]) }, { a: t(1, [3, 2]) }, { a: t(1, [6]) }, { a: { ...t(1, [2, 3]), offset: 256 } },
      { a: t(1, [2, 3]), b: undefined }, { a: t(1, [2, 3]), b: t(1, [1]) }, { a: "1,2" }, { a: "1", b: "2" }, { "a,1": 2 }, { a: [1, 2] }, { a: [12] },
      { a: true }, { a: "t" }, { a: null }, { a: "n" }, { a: -0 }, { a: 0 },
    ].map(structuralKey)
    expect(keys.every((k) => k !== undefined)).toBe(true)
    expect(new Set(keys).size).toBe(keys.length)
    expect(structuralKey({ a: t(1, [2, 3]) })).toBe(keys[0])
    expect(structuralKey({ a: new Float32Array(2) })).toBeUndefined()
    expect(structuralKey({ a: new Map() })).toBeUndefined()
    expect(structuralKey({ a: () => 1 })).toBeUndefined()
  })
})
