import { describe, expect, it } from "vitest"
import { dtypesOf, guardedOutput, randomFloats, relError, roundF16, testDevice, tolerance, upload } from "../testing/harness.ts"
import { encode, reference, type GeluForm } from "./gelu.ts"

describe("gelu", async () => {
  const gpu = await testDevice()
  const forms: GeluForm[] = ["tanh", "erf"]
  for (const dtype of dtypesOf(gpu)) {
    for (const form of forms) {
      for (const n of [1, 1031, 4099]) {
        it(`${form} ${dtype} n=${n}`, async () => {
          let x = randomFloats(n, n + 3, -6, 6)
          if (dtype === "f16") x = roundF16(x)
          const out = guardedOutput(gpu, n, dtype)
          encode(gpu, { x: upload(gpu, x, dtype), y: out.binding, n, form, dtype })
          expect(relError(await out.read(), reference(x, form))).toBeLessThan(tolerance(dtype))
        })
      }
    }
  }
  for (const form of forms) {
    it(`${form}: huge |x| stays finite (x or 0), the left tail keeps relative accuracy`, async () => {
      const x = Float32Array.from([1e4, -1e4, 3e38, -3e38, 60, -60, 0, -3, -4, -5, -6, -7, -8, -9])
      const out = guardedOutput(gpu, x.length, "f32")
      encode(gpu, { x: upload(gpu, x), y: out.binding, n: x.length, form })
      const got = await out.read()
      const ref = reference(x, form)
      expect(Array.from(got.slice(0, 7))).toEqual([1e4, -0, 3e38, -0, 60, -0, 0].map((v) => Math.fround(v)))
      // Per element: the tanh form's tail is set by exp's accuracy; erf by erfc's (1.2e-7) and exp's.
      for (let i = 7; i < x.length; i++) expect(Math.abs(got[i] - ref[i]) / Math.abs(ref[i])).toBeLessThan(form === "erf" ? 1e-5 : 1e-4)
    })
  }
})
