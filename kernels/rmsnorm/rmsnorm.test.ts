import { describe, expect, it } from "vitest"
import { dtypesOf, guardedOutput, randomFloats, relError, roundF16, testDevice, tolerance, upload } from "../testing/harness.ts"
import { encode, reference } from "./rmsnorm.ts"

describe("rmsnorm", async () => {
  const gpu = await testDevice()
  // [rows, cols]: a single element, primes, a row shorter and longer than the workgroup, Llama-7B's 4096.
  const cases: [rows: number, cols: number][] = [[1, 1], [3, 7], [5, 32], [2, 257], [13, 1000], [2, 4096]]
  for (const dtype of dtypesOf(gpu)) {
    for (const [rows, cols] of cases) {
      it(`${dtype} rows=${rows} cols=${cols}`, async () => {
        let x = randomFloats(rows * cols, rows * 31 + cols, -3, 3), w = randomFloats(cols, cols + 5, 0.5, 1.5)
        if (dtype === "f16") { x = roundF16(x); w = roundF16(w) }
        const y = guardedOutput(gpu, rows * cols, dtype)
        encode(gpu, { x: upload(gpu, x, dtype), weight: upload(gpu, w, dtype), y: y.binding, rows, cols, eps: 1e-5, dtype })
        expect(relError(await y.read(), reference(x, w, rows, cols, 1e-5))).toBeLessThan(tolerance(dtype))
      })
    }
  }
  it("eps dominates an all-zero row", async () => {
    const cols = 9
    const y = guardedOutput(gpu, cols)
    encode(gpu, { x: upload(gpu, new Float32Array(cols)), weight: upload(gpu, new Float32Array(cols).fill(1)), y: y.binding, rows: 1, cols, eps: 1e-6 })
    expect([...(await y.read())]).toEqual(new Array(cols).fill(0))
  })
})
