import { describe, expect, it } from "vitest"
import { dtypesOf, guardedOutput, randomFloats, relError, roundF16, testDevice, tolerance, upload } from "../testing/harness.ts"
import { encode, reference } from "./layernorm.ts"

describe("layernorm", async () => {
  const gpu = await testDevice()
  // [rows, cols, xOffset, yOffset]
  const cases: [number, number, number, number][] = [[1, 1, 0, 0], [3, 2, 1, 0], [5, 31, 0, 7], [4, 768, 768 + 5, 3], [3, 1031, 0, 0], [67, 16, 0, 0]]
  for (const dtype of dtypesOf(gpu)) {
    for (const [rows, cols, xOffset, yOffset] of cases) {
      it(`${dtype} ${rows}×${cols} offsets ${xOffset}/${yOffset}`, async () => {
        // A large common offset: a one-pass E[x²] - E[x]² would lose the variance.
        let x = randomFloats(xOffset + rows * cols, rows + cols, 99, 101)
        let gamma = randomFloats(cols, cols, 0.5, 1.5)
        let beta = randomFloats(cols, cols + 1)
        if (dtype === "f16") { x = roundF16(x); gamma = roundF16(gamma); beta = roundF16(beta) }
        const out = guardedOutput(gpu, yOffset + rows * cols, dtype)
        encode(gpu, { x: upload(gpu, x, dtype), gamma: upload(gpu, gamma, dtype), beta: upload(gpu, beta, dtype), y: out.binding, rows, cols, eps: 1e-5, xOffset, yOffset, dtype })
        const got = (await out.read()).slice(yOffset)
        expect(relError(got, reference(x.slice(xOffset), gamma, beta, rows, cols, 1e-5))).toBeLessThan(tolerance(dtype))
      })
      it(`${dtype} ${rows}×${cols} offsets ${xOffset}/${yOffset}: LayerNorm(x + res)`, async () => {
        const round = (a: Float32Array) => (dtype === "f16" ? roundF16(a) : a)
        const x = round(randomFloats(xOffset + rows * cols, rows + cols, -3, 3))
        const res = round(randomFloats(5 + rows * cols, rows * cols + 1, -3, 3))
        const gamma = round(randomFloats(cols, cols, 0.5, 1.5))
        const beta = round(randomFloats(cols, cols + 1))
        const out = guardedOutput(gpu, yOffset + rows * cols, dtype)
        encode(gpu, {
          x: upload(gpu, x, dtype), gamma: upload(gpu, gamma, dtype), beta: upload(gpu, beta, dtype), y: out.binding, rows, cols,
          eps: 1e-5, xOffset, yOffset, res: upload(gpu, res, dtype), resOffset: 5, dtype,
        })
        const got = (await out.read()).slice(yOffset)
        // The sum as the add kernel stores it, then LayerNorm.
        const sum = round(Float32Array.from(x.slice(xOffset), (v, i) => v + res[5 + i]))
        expect(relError(got, reference(sum, gamma, beta, rows, cols, 1e-5))).toBeLessThan(tolerance(dtype))
      })
    }
  }
})
