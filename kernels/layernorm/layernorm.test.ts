import { describe, expect, it } from "vitest"
import { preprocess } from "@djinn/gpu"
import { encodeReduce } from "../matmul/linear.ts"
import { compileMessages, dtypesOf, guardedOutput, onNullDevice, randomFloats, relError, roundF16, testDevice, tolerance, upload } from "../testing/harness.ts"
import { encode, reference, spec } from "./layernorm.ts"

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

// PARTIALS: a GEMM's f32 split-K partials [splits, rows, cols] summed, + bias, rounded to the dtype (as matmul_reduce
// stores it), + res (rounded again), normalized. Awkward sizes, 1–16 splits, with and without bias and residual, a
// broadcast residual (resRows 1, and 5 rows wrapping over 67), offsets, and guards on both sides of y.
describe("layernorm PARTIALS", async () => {
  const gpu = await testDevice()
  type Case = [rows: number, cols: number, splits: number, bias: boolean, res: boolean, resRows: number, xOffset: number, yOffset: number, resOffset: number]
  const cases: Case[] = [
    [1, 1, 1, false, false, 1, 0, 0, 0],
    [3, 5, 2, true, true, 3, 0, 0, 0],
    [5, 31, 3, true, true, 1, 7, 3, 5],
    [4, 768, 11, true, true, 4, 0, 8, 0],
    [3, 1031, 16, true, false, 3, 0, 0, 0],
    [67, 16, 4, false, true, 5, 1, 0, 2],
    [7, 257, 7, true, true, 7, 0, 1, 0],
  ]
  for (const dtype of dtypesOf(gpu)) {
    const round = (a: Float32Array) => (dtype === "f16" ? roundF16(a) : Float32Array.from(a, Math.fround))
    for (const [rows, cols, splits, bias, add, resRows, xOffset, yOffset, resOffset] of cases) {
      const name = `${dtype} ${rows}×${cols}, ${splits} splits${bias ? " +bias" : ""}${add ? ` + res (${resRows} rows)` : ""} offsets ${xOffset}/${yOffset}/${resOffset}`
      it(name, async () => {
        const n = rows * cols
        const part = randomFloats(xOffset + splits * n, rows + cols + splits, -2, 2)
        // A common offset in the first split: the two-pass variance must not lose it.
        for (let i = 0; i < n; i++) part[xOffset + i] += 20
        const b = round(randomFloats(cols, cols + 3))
        const res = round(randomFloats(resOffset + resRows * cols, cols + 4, -3, 3))
        const gamma = round(randomFloats(cols, cols, 0.5, 1.5))
        const beta = round(randomFloats(cols, cols + 1))
        const out = guardedOutput(gpu, yOffset + n, dtype)
        encode(gpu, {
          x: upload(gpu, part), partials: { splits, bias: bias ? upload(gpu, b, dtype) : undefined }, gamma: upload(gpu, gamma, dtype),
          beta: upload(gpu, beta, dtype), y: out.binding, rows, cols, eps: 1e-5, xOffset, yOffset,
          res: add ? upload(gpu, res, dtype) : undefined, resOffset, resRows, dtype,
        })
        const input = new Float32Array(n)
        for (let i = 0; i < n; i++) {
          let s = 0
          for (let z = 0; z < splits; z++) s += part[xOffset + z * n + i]
          input[i] = s + (bias ? b[i % cols] : 0)
        }
        let x = round(input)
        if (add) x = round(Float32Array.from(x, (v, i) => v + res[resOffset + (Math.floor(i / cols) % resRows) * cols + (i % cols)]))
        const raw = await out.readRaw()
        // Nothing written before yOffset.
        expect(raw.subarray(0, yOffset * (dtype === "f16" ? 2 : 4)).every((v) => v === 0x7f)).toBe(true)
        expect(relError((await out.read()).slice(yOffset), reference(x, gamma, beta, rows, cols, 1e-5))).toBeLessThan(tolerance(dtype))
      })
    }
  }

  // The fusion must change nothing: matmul_reduce (+ bias) then the LayerNorm gives the same bits. With the residual in
  // f32 only: in f16 the unfused ADD variant rounds x + res with f16(v) in registers, which lavapipe skips (it folds
  // f32(f16(v)) into v), while PARTIALS rounds through memory; the CPU-reference cases above cover f16 with res.
  for (const dtype of dtypesOf(gpu)) {
    const withRes = dtype === "f32"
    it(`${dtype}: equals matmul_reduce then LayerNorm(${withRes ? "x + res" : "x"}), bit for bit`, async () => {
      const [rows, cols, splits] = [9, 200, 5]
      const n = rows * cols
      const round = (a: Float32Array) => (dtype === "f16" ? roundF16(a) : a)
      const part = upload(gpu, randomFloats(splits * n, 42, -2, 2))
      const b = upload(gpu, round(randomFloats(cols, 43)), dtype)
      const res = withRes ? upload(gpu, round(randomFloats(n, 44, -3, 3)), dtype) : undefined
      const gamma = upload(gpu, round(randomFloats(cols, 45, 0.5, 1.5)), dtype)
      const beta = upload(gpu, round(randomFloats(cols, 46)), dtype)
      const t = guardedOutput(gpu, n, dtype)
      const unfused = guardedOutput(gpu, n, dtype)
      const fused = guardedOutput(gpu, n, dtype)
      encodeReduce(gpu, { part, y: t.binding, b, M: rows, N: cols, splits, dtype })
      if (res === undefined) encode(gpu, { x: t.binding, gamma, beta, y: unfused.binding, rows, cols, eps: 1e-12, dtype })
      else encode(gpu, { x: res, res: t.binding, gamma, beta, y: unfused.binding, rows, cols, eps: 1e-12, dtype })
      encode(gpu, { x: part, partials: { splits, bias: b }, res, gamma, beta, y: fused.binding, rows, cols, eps: 1e-12, dtype })
      expect(Array.from(await fused.readRaw())).toEqual(Array.from(await unfused.readRaw()))
    })
  }

  it("rejects splits and resRows below 1", () => {
    const args = { x: { buffer: 0 }, gamma: { buffer: 0 }, beta: { buffer: 0 }, y: { buffer: 0 }, rows: 2, cols: 3, eps: 1e-5 }
    expect(() => encode(gpu, { ...args, partials: { splits: 0 } })).toThrow(/splits must be/)
    expect(() => encode(gpu, { ...args, res: { buffer: 0 }, resRows: 0 })).toThrow(/resRows must be/)
  })

  it("every variant's WGSL passes Tint's validation (Dawn null backend)", async () => {
    const messages = await onNullDevice(async (device) => {
      const out: string[] = []
      for (const dtype of ["f32", "f16"] as const) {
        for (const defines of [[], ["ADD"], ["PARTIALS"], ["PARTIALS", "BIAS"], ["PARTIALS", "ADD"], ["PARTIALS", "ADD", "BIAS"]]) {
          out.push(...await compileMessages(device, preprocess(spec.wgsl, { dtype, defines }), `${dtype} ${defines.join(",")}: `))
        }
      }
      return out
    })
    if (messages === undefined) return
    expect(messages).toEqual([])
  })
})
