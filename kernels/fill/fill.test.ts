import { afterAll, describe, expect, it } from "vitest"
import { guardedOutput, roundF16, testDevice } from "../testing/harness.ts"
import { encode, reference } from "./fill.ts"

describe("fill", async () => {
  const gpu = await testDevice()
  afterAll(() => gpu.destroy())
  for (const n of [1, 2, 257, 1031, 70001]) {
    for (const dtype of ["f32", "f16"] as const) {
      it.skipIf(dtype === "f16" && !gpu.adapter.f16)(`${dtype} n=${n} matches the CPU stream`, async () => {
        const seed = (0x9e3779b9 * n) >>> 0
        const out = guardedOutput(gpu, n + 3, dtype)
        // Offset 3: a part of a fused tensor; the 3 values before it stay as they were (zero here).
        gpu.writeBuffer(out.binding.buffer, out.binding.offset!, new Uint8Array(out.binding.size!))
        encode(gpu, { y: out.binding, n, offset: 3, seed, center: 1, scale: 0.25, dtype })
        const got = await out.read()
        const ref = reference(n, seed, 1, 0.25)
        const want = dtype === "f16" ? roundF16(ref) : ref
        expect(Array.from(got.subarray(0, 3))).toEqual([0, 0, 0])
        let worst = 0
        let lo = Infinity, hi = -Infinity
        for (let i = 0; i < n; i++) {
          worst = Math.max(worst, Math.abs(got[3 + i] - want[i]))
          lo = Math.min(lo, got[3 + i]); hi = Math.max(hi, got[3 + i])
        }
        // f32: the u32→f32 rounding of the uniform (≤ 2 ulp near 1); f16: one ulp at 1.25.
        expect(worst).toBeLessThanOrEqual(dtype === "f16" ? 2 ** -10 : 2.5e-7)
        expect(lo).toBeGreaterThanOrEqual(0.75)
        expect(hi).toBeLessThanOrEqual(1.25)
      })
    }
  }
  it("different seeds give different values, the same seed the same", async () => {
    const a = guardedOutput(gpu, 64), b = guardedOutput(gpu, 64), c = guardedOutput(gpu, 64)
    encode(gpu, { y: a.binding, n: 64, seed: 1, center: 0, scale: 1 })
    encode(gpu, { y: b.binding, n: 64, seed: 1, center: 0, scale: 1 })
    encode(gpu, { y: c.binding, n: 64, seed: 2, center: 0, scale: 1 })
    const [x, y, z] = [await a.read(), await b.read(), await c.read()]
    expect(Array.from(x)).toEqual(Array.from(y))
    expect(Array.from(x)).not.toEqual(Array.from(z))
  })
})
