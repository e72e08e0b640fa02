import type { Binding, DType, GpuDevice } from "@djinn/gpu"
import { describe, expect, it } from "vitest"
import { bytesOf, dtypesOf, randomFloats, randomInts, roundF16, testDevice } from "../testing/harness.ts"
import { encode, fits, type Gpt2RefWeights, type Gpt2Shape, reference } from "./gpt2_decode.ts"

/** Random GPT-2 weights (LayerNorm gains near 1), rounded to what the dtype stores. */
const randomWeights = (s: Gpt2Shape, P: number, seed: number, dtype: DType): Gpt2RefWeights => {
  let k = seed
  const r = (n: number, lo = -0.5, hi = 0.5) => { const x = randomFloats(n, k++, lo, hi); return dtype === "f16" ? roundF16(x) : x }
  const { D, F, V } = s
  return {
    wte: r(V * D, -1, 1), wpe: r(P * D, -0.3, 0.3), lnfG: r(D, 0.8, 1.2), lnfB: r(D, -0.1, 0.1),
    layers: Array.from({ length: s.L }, () => ({
      ln1g: r(D, 0.8, 1.2), ln1b: r(D, -0.1, 0.1), attnW: r(D * 3 * D), attnB: r(3 * D, -0.1, 0.1),
      projW: r(D * D), projB: r(D, -0.1, 0.1), ln2g: r(D, 0.8, 1.2), ln2b: r(D, -0.1, 0.1),
      fcW: r(D * F), fcB: r(F, -0.1, 0.1), fcProjW: r(F * D, -0.2, 0.2), fcProjB: r(D, -0.1, 0.1),
    })),
  }
}

/** Packs the weights into one buffer (each tensor 256-byte aligned) and returns the binding and offset table. */
const pack = (gpu: GpuDevice, w: Gpt2RefWeights, dtype: DType): { weights: Binding; offsets: Binding } => {
  const tensors = [w.wte, w.wpe, w.lnfG, w.lnfB, ...w.layers.flatMap((L) => [L.ln1g, L.ln1b, L.attnW, L.attnB, L.projW, L.projB, L.ln2g, L.ln2b, L.fcW, L.fcB, L.fcProjW, L.fcProjB])]
  const eb = dtype === "f16" ? 2 : 4
  const offsets: number[] = []
  let bytes = 0
  for (const t of tensors) { offsets.push(bytes / eb); bytes = Math.ceil((bytes + t.length * eb) / 256) * 256 }
  const buffer = gpu.createBuffer(bytes)
  tensors.forEach((t, i) => gpu.writeBuffer(buffer, offsets[i] * eb, bytesOf(t, dtype)))
  const table = gpu.createBuffer(offsets.length * 4)
  gpu.writeBuffer(table, 0, bytesOf(Uint32Array.from(offsets), "u32"))
  return { weights: { buffer, offset: 0, size: bytes }, offsets: { buffer: table, offset: 0, size: offsets.length * 4 } }
}

describe("gpt2_decode", async () => {
  const gpu = await testDevice()
  // [shape, positions in the cache, new tokens, chunk sizes]
  const cases: [Gpt2Shape, number, number[], boolean?][] = [
    [{ L: 2, D: 32, H: 4, F: 128, V: 300 }, 24, [24]],
    [{ L: 2, D: 32, H: 4, F: 128, V: 300 }, 24, [5, 1, 18]], // chunked: each dispatch continues the last one's cache
    [{ L: 2, D: 2, H: 2, F: 8, V: 5000 }, 40, [40]], // tiny-gpt2's width: head_dim 1
    [{ L: 1, D: 96, H: 3, F: 384, V: 700 }, 300, [300]], // more positions than workgroup threads
    [{ L: 2, D: 32, H: 4, F: 128, V: 300 }, 24, [24], false], // workgroup-memory reductions (no subgroups)
  ]
  for (const dtype of dtypesOf(gpu)) {
    for (const [shape, n, chunks, subgroups] of cases) {
      it(`${dtype} L${shape.L} D${shape.D} H${shape.H} F${shape.F} V${shape.V}: ${n} tokens in chunks ${chunks.join("+")}${subgroups === false ? ", no subgroups" : ""}`, async () => {
        const P = n + 1
        const w = randomWeights(shape, P, shape.D * 7 + shape.V, dtype)
        const { weights, offsets } = pack(gpu, w, dtype)
        const eb = dtype === "f16" ? 2 : 4
        const kvStride = Math.ceil((P * shape.D * eb) / 256) * 256 / eb
        const kvBase = 64 // elements before the slab: the kernel must honour kvBase
        const kv = gpu.createBuffer((kvBase + 2 * shape.L * kvStride) * eb)
        const idsIn = 3
        const ids = gpu.createBuffer((idsIn + n + 1) * 4)
        const first = randomInts(1, shape.V, shape.V)[0]
        gpu.writeBuffer(ids, idsIn * 4, bytesOf(Int32Array.of(first), "i32"))
        let done = 0
        for (const c of chunks) {
          encode(gpu, {
            ...shape, weights, offsets, kv: { buffer: kv }, kvBase, kvStride, ids: { buffer: ids }, idsIn: idsIn + done,
            pos0: done, n: c, eps: 1e-5, gelu: "gelu_tanh", dtype, subgroups,
          })
          done += c
        }
        const raw = await gpu.read(ids, (idsIn + 1) * 4, n * 4)
        const got = Array.from(new Int32Array(raw.buffer, raw.byteOffset, n))
        const want = reference(w, shape, 1e-5, [first], n)
        // A sequence that is not one token repeated (at D = 2 LayerNorm leaves ±1 and little variety: not asked there).
        if (shape.D >= 32) expect(new Set(want).size).toBeGreaterThan(4)
        if (dtype === "f32") expect(got).toEqual(want)
        else {
          // f16 rounds every stored intermediate: a near-tie may pick another token, and greedy decode then diverges.
          // The first tokens must agree, and every token must be a valid id.
          expect(got.slice(0, 4)).toEqual(want.slice(0, 4))
          expect(got.every((t) => t >= 0 && t < shape.V)).toBe(true)
        }
        await gpu.checkErrors()
      })
    }
  }
  it("fits: the kernel's limits", () => {
    expect(fits({ L: 2, D: 2, H: 2, F: 8, V: 50257 }, 97)).toBe(true)
    expect(fits({ L: 12, D: 768, H: 12, F: 3072, V: 50257 }, 97)).toBe(false)
    expect(fits({ L: 2, D: 32, H: 4, F: 128, V: 4096 }, 1025)).toBe(false)
  })
})
