import { describe, expect, it } from "vitest"
import { guardedOutput, randomFloats, roundF16, testDevice, upload } from "../testing/harness.ts"
import { encode, reference } from "./cast.ts"

describe("cast", async () => {
  const gpu = await testDevice()
  const sizes = [1, 2, 257, 1031]
  for (const n of sizes) {
    it.skipIf(!gpu.adapter.f16)(`f32 → f16 n=${n}`, async () => {
      // Wide range, exact ties and subnormals: f16's rounding is what matters here.
      const x = randomFloats(n, n, -3000, 3000)
      if (n > 2) { x[0] = 1 + 2 ** -11; x[1] = -(1 + 3 * 2 ** -11); x[2] = 3e-6 }
      const out = guardedOutput(gpu, n, "f16")
      encode(gpu, { x: upload(gpu, x, "f32"), y: out.binding, n, to: "f16" })
      expect(Array.from(await out.read())).toEqual(Array.from(reference(x, "f16")))
    })
    it.skipIf(!gpu.adapter.f16)(`f16 → f32 n=${n}`, async () => {
      const x = roundF16(randomFloats(n, n + 1, -60000, 60000))
      const out = guardedOutput(gpu, n, "f32")
      encode(gpu, { x: upload(gpu, x, "f16"), y: out.binding, n, to: "f32" })
      expect(Array.from(await out.read())).toEqual(Array.from(reference(x, "f32")))
    })
  }
  it.skipIf(gpu.adapter.f16)("throws a clear error without shader-f16", () => {
    expect(() => encode(gpu, { x: { buffer: 0 }, y: { buffer: 0 }, n: 1, to: "f16" })).toThrow(/shader-f16/)
  })
})
