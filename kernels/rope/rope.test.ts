import { describe, expect, it } from "vitest"
import { dtypesOf, guardedOutput, randomFloats, relError, roundF16, testDevice, tolerance, upload } from "../testing/harness.ts"
import { encode, reference, type RopeShape } from "./rope.ts"

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
    for (const [name, shape] of cases) {
      it(`${dtype} ${name}`, async () => {
        const xLen = (shape.xOffset ?? 0) + (shape.T - 1) * shape.stride + shape.heads * shape.headDim
        let x = randomFloats(xLen, xLen + shape.pos0, -2, 2)
        if (dtype === "f16") x = roundF16(x)
        const want = reference(x, shape)
        const y = guardedOutput(gpu, want.length, dtype)
        // Zero y first: elements between heads' rows must come back untouched.
        gpu.writeBuffer(y.binding.buffer, y.binding.offset ?? 0, new Uint8Array(y.binding.size ?? 0))
        encode(gpu, { ...shape, x: upload(gpu, x, dtype), y: y.binding, dtype })
        const got = await y.read()
        expect(relError(got, want)).toBeLessThan(tolerance(dtype))
        // Against exact float64 angles the f32 angle's own rounding (up to pos·2^-24 rad) shows at long positions.
        expect(relError(got, reference(x, shape, true))).toBeLessThan(Math.max(2 * tolerance(dtype), shape.pos0 * 2e-8))
      })
    }
  }
  it("rejects an odd head dimension", () => {
    expect(() => encode(gpu, { x: { buffer: 0 }, y: { buffer: 0 }, T: 1, heads: 1, headDim: 5, stride: 5, pos0: 0, theta: 1e4 })).toThrow(/even/)
  })
})
