import { describe, expect, it } from "vitest"
import { dtypesOf, guardedOutput, randomFloats, relError, roundF16, testDevice, tolerance, upload } from "../testing/harness.ts"
import { encode, reference } from "./tanh.ts"

describe("tanh", async () => {
  const gpu = await testDevice()
  for (const dtype of dtypesOf(gpu)) {
    for (const n of [1, 64, 769, 2 * 768 + 1]) {
      it(`${dtype} n=${n}`, async () => {
        let x = randomFloats(n, n + 3, -4, 4)
        if (dtype === "f16") x = roundF16(x)
        const y = guardedOutput(gpu, n, dtype)
        encode(gpu, { x: upload(gpu, x, dtype), y: y.binding, n, dtype })
        expect(relError(await y.read(), reference(x))).toBeLessThan(tolerance(dtype))
      })
    }
    it(`${dtype} small and extreme arguments`, async () => {
      let x: Float32Array = Float32Array.of(-60000, -100, -9.5, -0.7, -0.624, -1e-4, 0, 3e-5, 0.3, 0.626, 5.9, 20, 60000)
      if (dtype === "f16") x = roundF16(x)
      const y = guardedOutput(gpu, x.length, dtype)
      encode(gpu, { x: upload(gpu, x, dtype), y: y.binding, n: x.length, dtype })
      const got = await y.read()
      const want = reference(x)
      // Elementwise relative error, so that tiny arguments count as much as saturated ones.
      for (let i = 0; i < x.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThan(tolerance(dtype) * Math.abs(want[i]) + 1e-30)
    })
  }
})
