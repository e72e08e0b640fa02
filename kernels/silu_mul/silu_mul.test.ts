import { describe, expect, it } from "vitest"
import { dtypesOf, guardedOutput, randomFloats, relError, roundF16, testDevice, tolerance, upload } from "../testing/harness.ts"
import { encode, reference } from "./silu_mul.ts"

describe("silu_mul", async () => {
  const gpu = await testDevice()
  for (const dtype of dtypesOf(gpu)) {
    for (const n of [1, 257, 11008, 3 * 86]) {
      it(`${dtype} n=${n}`, async () => {
        let gate = randomFloats(n, n, -12, 12), up = randomFloats(n, n + 1, -2, 2)
        if (dtype === "f16") { gate = roundF16(gate); up = roundF16(up) }
        const y = guardedOutput(gpu, n, dtype)
        encode(gpu, { gate: upload(gpu, gate, dtype), up: upload(gpu, up, dtype), y: y.binding, n, dtype })
        expect(relError(await y.read(), reference(gate, up))).toBeLessThan(tolerance(dtype))
      })
    }
    it(`${dtype} halves of a fused [T, 2I] buffer with offsets`, async () => {
      const T = 5, I = 86, off = 7
      let fused = randomFloats(off + T * 2 * I, 9, -8, 8)
      if (dtype === "f16") fused = roundF16(fused)
      const gate = new Float32Array(T * I), up = new Float32Array(T * I)
      for (let t = 0; t < T; t++) {
        gate.set(fused.subarray(off + t * 2 * I, off + t * 2 * I + I), t * I)
        up.set(fused.subarray(off + t * 2 * I + I, off + (t + 1) * 2 * I), t * I)
      }
      const src = upload(gpu, fused, dtype)
      const y = guardedOutput(gpu, T * I, dtype)
      encode(gpu, { gate: src, up: src, y: y.binding, n: T * I, gateOffset: off, upOffset: off + I, cols: I, stride: 2 * I, dtype })
      expect(relError(await y.read(), reference(gate, up))).toBeLessThan(tolerance(dtype))
    })
    it(`${dtype} stays finite at extreme gates`, async () => {
      let gate: Float32Array = Float32Array.of(-60000, -1000, -90, -20, -1e-3, 0, 1e-3, 20, 90, 1000, 60000)
      if (dtype === "f16") gate = roundF16(gate)
      const up = new Float32Array(gate.length).fill(0.5)
      const y = guardedOutput(gpu, gate.length, dtype)
      encode(gpu, { gate: upload(gpu, gate, dtype), up: upload(gpu, up, dtype), y: y.binding, n: gate.length, dtype })
      const got = await y.read()
      expect(got.every(Number.isFinite)).toBe(true)
      expect(relError(got, reference(gate, up))).toBeLessThan(tolerance(dtype))
    })
  }
})
