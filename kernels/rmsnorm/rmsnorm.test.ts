import { describe, expect, it } from "vitest"
import { dtypesOf, guardedOutput, randomFloats, relError, roundF16, testDevice, tolerance, upload } from "../testing/harness.ts"
import { encode, reference, vectorOf, vectorWorkgroup } from "./rmsnorm.ts"

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
  // The vectorised f16 variant (16-byte pieces, a row's pieces held in registers): one piece, a row shorter than the
  // workgroup's first round, one that takes all four rounds (8192, the most it takes), a row ending mid-round, a
  // binding offset; each beside the scalar variant on the same data.
  if (gpu.adapter.f16) {
    const vcases: [rows: number, cols: number, offset: number][] = [[3, 8], [5, 32], [2, 4096], [3, 8192], [4, 2056], [2, 4096, 256]].map(([r, c, o]) => [r, c, o ?? 0])
    for (const [rows, cols, offset] of vcases) {
      for (const vector of [true, false]) {
        it(`f16 ${vector ? "vector" : "scalar"} rows=${rows} cols=${cols}${offset ? ` offset=${offset}` : ""}`, async () => {
          const x = roundF16(randomFloats(offset / 2 + rows * cols, rows * 17 + cols, -3, 3)), w = roundF16(randomFloats(cols, cols + 9, 0.5, 1.5))
          const y = guardedOutput(gpu, rows * cols, "f16")
          const args = { x: { buffer: upload(gpu, x, "f16").buffer, offset, size: rows * cols * 2 }, weight: upload(gpu, w, "f16"), y: y.binding, rows, cols, eps: 1e-5, dtype: "f16" } as const
          expect(vectorOf(args)).toBe(true)
          encode(gpu, args, vector)
          expect(relError(await y.read(), reference(x.subarray(offset / 2), w, rows, cols, 1e-5))).toBeLessThan(tolerance("f16"))
        })
      }
    }
    it("the vector variant refuses rows it cannot take (a partial piece, over 8192, a misaligned binding, f32)", () => {
      const b = upload(gpu, new Float32Array(16), "f16")
      const base = { x: b, weight: b, y: b, rows: 1, eps: 1e-5, dtype: "f16" } as const
      expect(vectorOf({ ...base, cols: 12 })).toBe(false)
      expect(vectorOf({ ...base, cols: 8200 })).toBe(false)
      expect(vectorOf({ ...base, cols: 16, x: { ...b, offset: 8 } })).toBe(false)
      expect(vectorOf({ ...base, cols: 16, dtype: "f32" })).toBe(false)
      expect(() => encode(gpu, { ...base, cols: 12 }, true)).toThrow(/vector variant/)
      expect(() => encode(gpu, { ...base, cols: 4096 }, true, 64)).toThrow(/cannot hold/)
    })
    it("the vector variant's workgroup is the fewest threads whose four pieces cover the row", () => {
      expect([8, 1024, 1032, 4096, 8192].map(vectorWorkgroup)).toEqual([32, 32, 64, 128, 256])
    })
    // Llama's rows on the automatic workgroup (128) and on 256 threads (half of them with one piece, the rest none).
    for (const wg of [128, 256]) {
      it(`f16 vector rows=4 cols=4096 on ${wg} threads`, async () => {
        const x = roundF16(randomFloats(4 * 4096, 77, -3, 3)), w = roundF16(randomFloats(4096, 78, 0.5, 1.5))
        const y = guardedOutput(gpu, 4 * 4096, "f16")
        encode(gpu, { x: upload(gpu, x, "f16"), weight: upload(gpu, w, "f16"), y: y.binding, rows: 4, cols: 4096, eps: 1e-5, dtype: "f16" }, true, wg)
        expect(relError(await y.read(), reference(x, w, 4, 4096, 1e-5))).toBeLessThan(tolerance("f16"))
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
