import { describe, expect, it } from "vitest"
import { dtypesOf, guardedOutput, randomFloats, relError, roundF16, testDevice, tolerance, upload } from "../testing/harness.ts"
import { encode, encodeQkv, reference, referenceQkv, vectorOf, vectorOfQkv, type RopeQkvShape, type RopeShape } from "./rope.ts"

// f16 cases run twice: as routed (the vector variant where the shape allows it: heads of a multiple of 16 values,
// offsets and strides multiples of 8) and on the scalar variant.
const routes = (dtype: string): (false | undefined)[] => (dtype === "f16" ? [undefined, false] : [undefined])

describe("rope", async () => {
  const gpu = await testDevice()
  const cases: [name: string, shape: RopeShape][] = [
    ["one pair", { T: 1, heads: 1, headDim: 2, stride: 2, pos0: 0, theta: 10000 }],
    ["odd half", { T: 7, heads: 3, headDim: 6, stride: 18, pos0: 5, theta: 10000 }],
    // K of a fused QKV row [Q: 4 heads | K: 2 | V: 2] × 16, into a compact [T, 2·16] buffer.
    ["K of fused QKV", { T: 5, heads: 2, headDim: 16, stride: 8 * 16, xOffset: 4 * 16, yStride: 2 * 16, pos0: 11, theta: 10000 }],
    ["gaps in y", { T: 3, heads: 2, headDim: 8, stride: 16, yOffset: 3, yStride: 21, pos0: 1, theta: 500000 }],
    ["llama-7b prefill", { T: 13, heads: 32, headDim: 128, stride: 4096, pos0: 0, theta: 10000 }],
    ["long positions", { T: 3, heads: 2, headDim: 128, stride: 256, pos0: 4093, theta: 10000 }],
    ["very long positions", { T: 2, heads: 1, headDim: 64, stride: 64, pos0: 32760, theta: 10000 }],
  ]
  for (const dtype of dtypesOf(gpu)) {
    for (const [name, shape] of cases) for (const vector of routes(dtype)) {
      it(`${dtype} ${name}${vector === false ? " (scalar)" : ""}`, async () => {
        const xLen = (shape.xOffset ?? 0) + (shape.T - 1) * shape.stride + shape.heads * shape.headDim
        let x = randomFloats(xLen, xLen + shape.pos0, -2, 2)
        if (dtype === "f16") x = roundF16(x)
        const want = reference(x, shape)
        const y = guardedOutput(gpu, want.length, dtype)
        // Zero y first: elements between heads' rows must come back untouched.
        gpu.writeBuffer(y.binding.buffer, y.binding.offset ?? 0, new Uint8Array(y.binding.size ?? 0))
        encode(gpu, { ...shape, x: upload(gpu, x, dtype), y: y.binding, dtype }, vector)
        const got = await y.read()
        expect(relError(got, want)).toBeLessThan(tolerance(dtype))
        // Against exact float64 angles the f32 angle's own rounding (up to pos·2^-24 rad) shows at long positions.
        expect(relError(got, reference(x, shape, true))).toBeLessThan(Math.max(2 * tolerance(dtype), shape.pos0 * 2e-8))
      })
    }
  }
  // q, k and v of a fused projection in one dispatch: GQA and not, odd half, padded rows, offsets, KV-cache strides.
  const qkvCases: [name: string, shape: RopeQkvShape][] = [
    ["one pair each", { T: 1, heads: 1, kvHeads: 1, headDim: 2, stride: 6, qStride: 2, kStride: 2, vStride: 2, pos0: 0, theta: 10000 }],
    ["GQA 4:2, into a cache at position 9", {
      T: 3, heads: 4, kvHeads: 2, headDim: 16, stride: 8 * 16, qStride: 4 * 16, kOffset: 9 * 32, kStride: 32, vOffset: 9 * 32, vStride: 32, pos0: 9, theta: 10000,
    }],
    ["odd half, padded rows, offsets", {
      T: 5, heads: 3, kvHeads: 3, headDim: 6, stride: 61, xOffset: 7, qOffset: 2, qStride: 19, kOffset: 5, kStride: 23, vOffset: 1, vStride: 18, pos0: 4093, theta: 500000,
    }],
    ["llama-7b decode", { T: 1, heads: 32, kvHeads: 32, headDim: 128, stride: 3 * 4096, qStride: 4096, kOffset: 511 * 4096, kStride: 4096, vOffset: 511 * 4096, vStride: 4096, pos0: 511, theta: 10000 }],
  ]
  for (const dtype of dtypesOf(gpu)) {
    for (const [name, shape] of qkvCases) for (const vector of routes(dtype)) {
      it(`${dtype} qkv ${name}${vector === false ? " (scalar)" : ""}`, async () => {
        const xLen = (shape.xOffset ?? 0) + (shape.T - 1) * shape.stride + (shape.heads + 2 * shape.kvHeads) * shape.headDim
        let x = randomFloats(xLen, xLen + shape.pos0, -2, 2)
        if (dtype === "f16") x = roundF16(x)
        const want = referenceQkv(x, shape)
        const outs = [want.q, want.k, want.v].map((w) => {
          const y = guardedOutput(gpu, w.length, dtype)
          gpu.writeBuffer(y.binding.buffer, y.binding.offset ?? 0, new Uint8Array(y.binding.size ?? 0))
          return y
        })
        encodeQkv(gpu, { ...shape, x: upload(gpu, x, dtype), q: outs[0].binding, k: outs[1].binding, v: outs[2].binding, dtype }, vector)
        expect(relError(await outs[0].read(), want.q)).toBeLessThan(tolerance(dtype))
        expect(relError(await outs[1].read(), want.k)).toBeLessThan(tolerance(dtype))
        // v is copied, bit for bit.
        expect(Array.from(await outs[2].read())).toEqual(Array.from(want.v))
      })
    }
  }

  it("qkv writes k and v into one buffer (a session's KV arena)", async () => {
    const shape: RopeQkvShape = { T: 2, heads: 4, kvHeads: 2, headDim: 8, stride: 64, qStride: 32, kStride: 16, vStride: 16, pos0: 3, theta: 10000 }
    const x = randomFloats(2 * 64, 5, -2, 2)
    const want = referenceQkv(x, shape)
    const q = guardedOutput(gpu, want.q.length)
    const kv = guardedOutput(gpu, 128)
    const base = kv.binding.offset ?? 0
    gpu.writeBuffer(kv.binding.buffer, base, new Uint8Array(512))
    // k in the first 256 bytes, v in the next.
    encodeQkv(gpu, { ...shape, x: upload(gpu, x), q: q.binding, k: { buffer: kv.binding.buffer, offset: base, size: 256 }, v: { buffer: kv.binding.buffer, offset: base + 256, size: 256 } })
    const got = await kv.read()
    expect(relError(got.subarray(0, want.k.length), want.k)).toBeLessThan(tolerance("f32"))
    expect(Array.from(got.subarray(64, 64 + want.v.length))).toEqual(Array.from(want.v))
  })

  it("routes f16 heads of whole 16-byte pieces to the vector variant, and only those", () => {
    const b = { buffer: 0, offset: 256 }
    const llama = cases.find(([n]) => n === "llama-7b prefill")![1]
    expect(vectorOf({ ...llama, x: b, y: b, dtype: "f16" })).toBe(true)
    expect(vectorOf({ ...llama, x: b, y: b, dtype: "f32" })).toBe(false)
    expect(vectorOf({ ...llama, x: b, y: b, dtype: "f16", xOffset: 4 })).toBe(false)
    expect(vectorOf({ ...llama, x: { buffer: 0, offset: 8 }, y: b, dtype: "f16" })).toBe(false)
    expect(vectorOf({ ...llama, headDim: 8, x: b, y: b, dtype: "f16" })).toBe(false)
    const decode = qkvCases.find(([n]) => n === "llama-7b decode")![1]
    expect(vectorOfQkv({ ...decode, x: b, q: b, k: b, v: b, dtype: "f16" })).toBe(true)
    expect(vectorOfQkv({ ...decode, x: b, q: b, k: b, v: b, dtype: "f16", vStride: 4100 })).toBe(false)
    expect(() => encode(gpu, { ...llama, x: b, y: b, dtype: "f16", xOffset: 4 }, true)).toThrow(/vector variant/)
  })

  it("rejects an odd head dimension", () => {
    expect(() => encode(gpu, { x: { buffer: 0 }, y: { buffer: 0 }, T: 1, heads: 1, headDim: 5, stride: 5, pos0: 0, theta: 1e4 })).toThrow(/even/)
  })
})
