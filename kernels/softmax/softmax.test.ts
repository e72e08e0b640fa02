import { describe, expect, it } from "vitest"
import { dtypesOf, guardedOutput, randomFloats, randomInts, relError, roundF16, testDevice, tolerance, upload } from "../testing/harness.ts"
import { encode, reference } from "./softmax.ts"

interface Case { rows: number; cols: number; causal?: boolean; queryOffset?: number; rowsPerBatch?: number; masked?: boolean; xOffset?: number; yOffset?: number }

describe("softmax", async () => {
  const gpu = await testDevice()
  const cases: Case[] = [
    { rows: 1, cols: 1 },
    { rows: 3, cols: 2, xOffset: 1, yOffset: 5 },
    { rows: 7, cols: 1031 },
    { rows: 2, cols: 50257 },
    { rows: 13, cols: 13, causal: true }, // prefill scores
    { rows: 5, cols: 37, causal: true, queryOffset: 32 }, // chunked prefill after 32 cached tokens
    { rows: 2 * 11, cols: 11, causal: true, rowsPerBatch: 11, masked: true }, // batch of 2, left padding
    { rows: 3 * 4, cols: 300, rowsPerBatch: 4, masked: true },
  ]
  for (const dtype of dtypesOf(gpu)) {
    for (const c of cases) {
      const name = `${dtype} ${c.rows}×${c.cols}${c.causal ? ` causal+${c.queryOffset ?? 0}` : ""}${c.masked ? ` mask/${c.rowsPerBatch}` : ""}`
      it(name, async () => {
        const xOffset = c.xOffset ?? 0, yOffset = c.yOffset ?? 0
        let x = randomFloats(xOffset + c.rows * c.cols, c.rows * c.cols, -8, 8)
        if (dtype === "f16") x = roundF16(x)
        let mask: Int32Array | undefined
        if (c.masked) {
          const batches = c.rows / c.rowsPerBatch!
          mask = randomInts(batches * c.cols, c.cols, 4).map((v) => (v === 0 ? 0 : 1))
          mask.fill(0, 0, 3) // left padding of batch 0: its first queries see nothing (causal) → zero rows
        }
        const out = guardedOutput(gpu, yOffset + c.rows * c.cols, dtype)
        encode(gpu, { x: upload(gpu, x, dtype), y: out.binding, ...c, xOffset, yOffset, dtype, ...(mask ? { mask: upload(gpu, mask, "i32") } : {}) })
        const got = (await out.read()).slice(yOffset)
        const ref = reference(x.slice(xOffset), { ...c, mask })
        expect(relError(got, ref)).toBeLessThan(tolerance(dtype))
        if (c.masked && c.causal) expect(got.slice(0, 3 * c.cols).every((v) => v === 0)).toBe(true)
      })
    }
  }
  it("more rows than one grid dimension holds (65537: a 2-D grid of workgroups)", async () => {
    const rows = 65537, cols = 2
    const x = randomFloats(rows * cols, 5, -8, 8)
    const out = guardedOutput(gpu, rows * cols, "f32")
    encode(gpu, { x: upload(gpu, x), y: out.binding, rows, cols })
    expect(relError(await out.read(), reference(x, { rows, cols }))).toBeLessThan(tolerance("f32"))
  })
  it("-inf scores and fully masked rows give zeros, never NaN", async () => {
    const x = Float32Array.from([-Infinity, -Infinity, -Infinity, 1, -Infinity, 2])
    const mask = Int32Array.from([1, 1, 1])
    const out = guardedOutput(gpu, 6, "f32")
    encode(gpu, { x: upload(gpu, x), y: out.binding, rows: 2, cols: 3, mask: upload(gpu, mask, "i32"), rowsPerBatch: 2 })
    const got = Array.from(await out.read())
    expect(got.slice(0, 3)).toEqual([0, 0, 0])
    expect(relError(got.slice(3), [1 / (1 + Math.E), 0, Math.E / (1 + Math.E)])).toBeLessThan(1e-6)
  })
})
