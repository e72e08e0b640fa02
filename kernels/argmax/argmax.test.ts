import { describe, expect, it } from "vitest"
import { dtypesOf, guardedOutput, randomFloats, roundF16, testDevice, upload } from "../testing/harness.ts"
import { encode, reference, workgroupSize } from "./argmax.ts"

describe("argmax", async () => {
  const gpu = await testDevice()
  // [rows, cols, xOffset, outOffset]
  const cases: [number, number, number, number][] = [[1, 1, 0, 0], [3, 2, 1, 0], [5, 257, 7, 3], [2, 50257, 0, 1], [1, 32000, 5, 0], [70, 31, 0, 0]]
  for (const dtype of dtypesOf(gpu)) {
    for (const [rows, cols, xOffset, outOffset] of cases) {
      it(`${dtype} ${rows}×${cols} offsets ${xOffset}/${outOffset}`, async () => {
        let x = randomFloats(xOffset + rows * cols, rows * cols, -10, 10)
        if (dtype === "f16") x = roundF16(x) // f16 makes ties common: first index must win
        const out = guardedOutput(gpu, outOffset + rows, "i32")
        encode(gpu, { x: upload(gpu, x, dtype), out: out.binding, rows, cols, xOffset, outOffset, dtype })
        const got = await out.read()
        expect(Array.from(got.slice(outOffset))).toEqual(Array.from(reference(x, rows, cols, xOffset)))
      })
    }
  }
  it("workgroup size stays within the device's limits", () => {
    expect(workgroupSize(50257, { maxComputeInvocationsPerWorkgroup: 1024, maxComputeWorkgroupSizeX: 1024 })).toBe(1024)
    expect(workgroupSize(50257, { maxComputeInvocationsPerWorkgroup: 1024, maxComputeWorkgroupSizeX: 256 })).toBe(256)
    expect(workgroupSize(50257, { maxComputeInvocationsPerWorkgroup: 128, maxComputeWorkgroupSizeX: 1024 })).toBe(128)
    expect(workgroupSize(100, {})).toBe(256)
  })
  it("ties, NaN, ±inf, ±0", async () => {
    const rows = [
      [1, 3, 3, 2],
      [NaN, -1, NaN, -2],
      [NaN, NaN, NaN],
      [-Infinity, NaN, -Infinity],
      [-0, 0, -0],
      [-5, Infinity, 7, Infinity],
      [NaN, -Infinity, -3e38],
    ]
    const cols = Math.max(...rows.map((r) => r.length))
    // Pad every row with copies of its first element (they tie with it and come later, so never win).
    const x = Float32Array.from(rows.flatMap((r) => [...r, ...Array(cols - r.length).fill(r[0])]))
    const out = guardedOutput(gpu, rows.length, "i32")
    encode(gpu, { x: upload(gpu, x), out: out.binding, rows: rows.length, cols })
    expect(Array.from(await out.read())).toEqual([1, 1, 0, 0, 0, 1, 2])
  })
  it("empty rows give -1", async () => {
    const out = guardedOutput(gpu, 2, "i32")
    encode(gpu, { x: upload(gpu, new Float32Array(4)), out: out.binding, rows: 2, cols: 0 })
    expect(Array.from(await out.read())).toEqual([-1, -1])
  })
})
