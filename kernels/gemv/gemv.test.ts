import { describe, expect, it } from "vitest"
import type { DType } from "@djinn/gpu"
import { dtypesOf, guardedOutput, randomFloats, relError, roundF16, testDevice, tolerance, upload } from "../testing/harness.ts"
import { checkShape, gluRows, type Activation, type GluLayout, type WLayout } from "../matmul/linear.ts"
import { encode as rmsnormEncode, reference as rmsnormReference } from "../rmsnorm/rmsnorm.ts"
import { encode, knSplit, MAX_M, reference, referenceSwiglu } from "./gemv.ts"

type Case = [M: number, N: number, K: number, layout: WLayout, bias: boolean, activation: Activation, xOffset: number, yOffset: number]

// Paths: "nk" with 16-byte (K and xOffset multiples of 4, or of 8 for packed f16) and scalar loads, the 4-way unrolled loop and its tail, rows
// past N in the last workgroup; "kn" with 16-byte (N and yOffset multiples of 4 / 8) and scalar columns, one K chunk and
// split-K (with the reduce pass carrying bias and activation), partial column groups; M from 1 to MAX_M. Cases share
// variants where they can: every variant is a shader compile, and lavapipe compiles slowly.
const f32Cases: Case[] = [
  [1, 1, 1, "nk", false, "none", 0, 0],
  [1, 17, 4096, "nk", false, "none", 0, 0],
  [1, 1031, 256, "nk", false, "none", 4, 0],
  [1, 257, 1031, "nk", true, "gelu_erf", 0, 0],
  [3, 67, 515, "nk", true, "gelu_tanh", 1, 3],
  [8, 257, 128, "nk", true, "none", 0, 0],
  [1, 1, 1, "kn", true, "gelu_tanh", 0, 0],
  [1, 17, 67, "kn", false, "none", 0, 0],
  [1, 257, 1031, "kn", false, "gelu_erf", 0, 0],
  [1, 1032, 256, "kn", true, "gelu_tanh", 3, 4],
  [3, 64, 60, "kn", false, "none", 0, 1],
  [8, 1031, 67, "kn", true, "gelu_erf", 0, 0],
]
const f16Cases: Case[] = [
  [1, 257, 1031, "nk", true, "none", 0, 0],
  [1, 1032, 256, "nk", false, "none", 0, 0],
  [2, 67, 516, "nk", false, "none", 4, 0],
  [1, 1032, 256, "kn", true, "none", 0, 0],
  [1, 64, 100, "kn", true, "gelu_tanh", 0, 8],
  [2, 1036, 64, "kn", false, "none", 0, 0],
  [1, 65, 60, "kn", false, "none", 0, 0],
  [2, 257, 1031, "kn", false, "none", 0, 0],
]

const inputs = (M: number, N: number, K: number, xOffset: number, dtype: DType, seed: number) => {
  const round = (a: Float32Array) => (dtype === "f16" ? roundF16(a) : a)
  return {
    x: round(randomFloats(xOffset + M * K, seed)),
    w: round(randomFloats(N * K, seed + 1, -0.5, 0.5)),
    b: round(randomFloats(N, seed + 2)),
  }
}

describe("gemv", async () => {
  const gpu = await testDevice()
  const reductions = gpu.adapter.subgroups ? [true, false] : [false]
  for (const dtype of dtypesOf(gpu)) {
    for (const [M, N, K, wLayout, bias, activation, xOffset, yOffset] of dtype === "f32" ? f32Cases : f16Cases) {
      // The workgroup-memory reduction is tested beside the subgroup one for f32 rows 1 and 8.
      const both = wLayout === "nk" && dtype === "f32" && (N === 257 && (K === 1031 || M === 8))
      for (const subgroups of both ? reductions : [gpu.adapter.subgroups]) {
        const name = `${dtype} ${M}×${N}×${K} ${wLayout}${bias ? " +b" : ""} ${activation}${xOffset ? ` xOffset=${xOffset}` : ""}${yOffset ? ` yOffset=${yOffset}` : ""}${subgroups ? " subgroups" : ""}`
        it(name, async () => {
          const { x, w, b } = inputs(M, N, K, xOffset, dtype, M * 5 + N + K * 3)
          const y = guardedOutput(gpu, yOffset + M * N, dtype)
          encode(gpu, {
            x: upload(gpu, x, dtype), w: upload(gpu, w, dtype), b: bias ? upload(gpu, b, dtype) : undefined, y: y.binding,
            M, N, K, wLayout, activation, dtype, xOffset, yOffset,
          }, { subgroups })
          const got = (await y.read()).subarray(yOffset)
          const want = reference({ x, w, b: bias ? b : undefined, M, N, K, wLayout, activation, xOffset })
          expect(relError(got, want)).toBeLessThan(tolerance(dtype))
        })
      }
    }
  }

  // The residual epilogue (y = act(x·W + b) + residual) on every path: nk packed / vec4 / scalar, kn one chunk and
  // split-K (the reduce pass adds it), residual offsets that do and do not keep 16-byte kn columns.
  type ResidualCase = [M: number, N: number, K: number, layout: WLayout, bias: boolean, activation: Activation, residualOffset: number]
  const residualCases: ResidualCase[] = [
    [1, 257, 1031, "nk", true, "none", 3],
    [3, 67, 516, "nk", false, "gelu_tanh", 0],
    [2, 1032, 256, "nk", false, "none", 8],
    [1, 1032, 256, "kn", true, "none", 0],
    [2, 64, 60, "kn", false, "none", 4],
    [1, 67, 67, "kn", true, "gelu_erf", 1],
    [3, 1036, 64, "kn", false, "none", 2],
  ]
  for (const dtype of dtypesOf(gpu)) {
    for (const [M, N, K, wLayout, bias, activation, residualOffset] of residualCases) {
      it(`residual ${dtype} ${M}×${N}×${K} ${wLayout}${bias ? " +b" : ""} ${activation} residualOffset=${residualOffset}`, async () => {
        const { x, w, b } = inputs(M, N, K, 0, dtype, M + N * 7 + K)
        const r = dtype === "f16" ? roundF16(randomFloats(residualOffset + M * N, N + 5, -4, 4)) : randomFloats(residualOffset + M * N, N + 5, -4, 4)
        const y = guardedOutput(gpu, M * N, dtype)
        encode(gpu, {
          x: upload(gpu, x, dtype), w: upload(gpu, w, dtype), b: bias ? upload(gpu, b, dtype) : undefined, y: y.binding,
          M, N, K, wLayout, activation, dtype, residual: upload(gpu, r, dtype), residualOffset,
        })
        const want = reference({ x, w, b: bias ? b : undefined, M, N, K, wLayout, activation, residual: r, residualOffset })
        expect(relError(await y.read(), want)).toBeLessThan(tolerance(dtype))
      })
    }
  }

  // SwiGLU ("nk", W = [gate; up] or blocks of 16 of each): N of 1 and past the last workgroup's output rows, scalar /
  // vec4 / packed loads, bias over W's rows, the residual on top, and row-thread counts that leave 1 to 16 outputs a
  // workgroup (8 threads a row with the workgroup-memory reduction); "blocks" with N short of a whole block.
  type SwigluCase = [M: number, N: number, K: number, bias: boolean, residual: boolean, rowThreads: number, layout: GluLayout]
  const swigluCases: SwigluCase[] = [
    [1, 1, 5, false, false, 32, "halves"],
    [1, 257, 1031, true, false, 32, "halves"],
    [3, 67, 516, false, true, 32, "halves"],
    [8, 130, 64, true, true, 8, "halves"],
    [2, 1032, 256, false, false, 128, "halves"],
    [1, 1, 5, false, false, 32, "blocks"],
    [1, 257, 1031, true, false, 32, "blocks"],
    [8, 130, 64, true, true, 8, "blocks"],
    [2, 1024, 256, false, false, 128, "blocks"],
  ]
  for (const dtype of dtypesOf(gpu)) {
    for (const [M, N, K, bias, residual, rowThreads, layout] of swigluCases) {
      it(`swiglu ${layout} ${dtype} ${M}×${N}×${K}${bias ? " +b" : ""}${residual ? " +residual" : ""} rowThreads=${rowThreads}`, async () => {
        const { x, w, b } = inputs(M, gluRows(N, layout), K, 0, dtype, M * 3 + N + K)
        const r = dtype === "f16" ? roundF16(randomFloats(M * N, N + 9, -2, 2)) : randomFloats(M * N, N + 9, -2, 2)
        const y = guardedOutput(gpu, M * N, dtype)
        encode(gpu, {
          x: upload(gpu, x, dtype), w: upload(gpu, w, dtype), b: bias ? upload(gpu, b, dtype) : undefined, y: y.binding,
          residual: residual ? upload(gpu, r, dtype) : undefined, M, N, K, wLayout: "nk", dtype, swiglu: layout,
        }, { rowThreads, subgroups: rowThreads !== 8 })
        const want = referenceSwiglu({ x, w, b: bias ? b : undefined, M, N, K, wLayout: "nk", residual: residual ? r : undefined }, layout)
        expect(relError(await y.read(), want)).toBeLessThan(tolerance(dtype))
      })
    }
  }

  // RMSNORM ("nk"): the CPU reference is rmsnorm (rounded to the dtype, as the separate kernel stores it)
  // then the plain or swiglu gemv. Odd K (scalar loads), vec4, packed f16, M from 1 to MAX_M (each row its own rstd),
  // x offsets, with bias and residual (the norm weight bound after both), swiglu, the workgroup-memory reduction.
  type NormCase = [M: number, N: number, K: number, swiglu: GluLayout | undefined, bias: boolean, residual: boolean, xOffset: number, subgroups: boolean]
  const normCases: NormCase[] = [
    [1, 257, 1031, undefined, false, false, 0, true],
    [1, 1032, 4096, undefined, false, false, 0, true],
    [3, 67, 516, "halves", false, true, 0, true],
    [8, 130, 264, "halves", true, false, 8, true],
    [2, 67, 512, undefined, true, true, 16, true],
    [5, 33, 1031, undefined, false, false, 3, false],
    [2, 65, 256, "halves", false, false, 0, false],
    [3, 86, 512, "blocks", false, false, 0, true],
  ]
  for (const dtype of dtypesOf(gpu)) {
    for (const [M, N, K, swiglu, bias, residual, xOffset, sg] of normCases) {
      const subgroups = sg && gpu.adapter.subgroups
      it(`rmsnorm ${dtype} ${M}×${N}×${K}${swiglu !== undefined ? ` swiglu ${swiglu}` : ""}${bias ? " +b" : ""}${residual ? " +residual" : ""}${xOffset ? ` xOffset=${xOffset}` : ""}${subgroups ? " subgroups" : ""}`, async () => {
        const round = (a: Float32Array) => (dtype === "f16" ? roundF16(a) : a)
        const Nw = swiglu !== undefined ? gluRows(N, swiglu) : N
        const x = round(randomFloats(xOffset + M * K, M * 11 + K, -3, 3))
        const g = round(randomFloats(K, K + 1, 0.5, 1.5))
        const w = round(randomFloats(Nw * K, N + 2, -0.5, 0.5))
        const b = round(randomFloats(Nw, N + 3))
        const r = round(randomFloats(M * N, N + 4, -2, 2))
        const y = guardedOutput(gpu, M * N, dtype)
        const eps = 1e-5
        encode(gpu, {
          x: upload(gpu, x, dtype), w: upload(gpu, w, dtype), b: bias ? upload(gpu, b, dtype) : undefined, y: y.binding,
          residual: residual ? upload(gpu, r, dtype) : undefined, M, N, K, wLayout: "nk", dtype, xOffset, swiglu,
          rmsnorm: { weight: upload(gpu, g, dtype), eps },
        }, { subgroups })
        const h = round(rmsnormReference(x.subarray(xOffset), g, M, K, eps))
        const ref = { x: h, w, b: bias ? b : undefined, M, N, K, wLayout: "nk" as const, residual: residual ? r : undefined }
        const want = swiglu !== undefined ? referenceSwiglu(ref, swiglu) : reference(ref)
        expect(relError(await y.read(), want)).toBeLessThan(tolerance(dtype))
      })
    }
  }

  // The fused norm against the separate kernel it replaces (rmsnorm storing h, then the gemv): the fused one scales the
  // sum by rstd instead of rounding each normalized x to the dtype, so f32 agrees to rounding and f16 to the rounding
  // of h (under 1e-3).
  for (const dtype of dtypesOf(gpu)) {
    it(`rmsnorm ${dtype} agrees with the rmsnorm kernel followed by the gemv`, async () => {
      const [M, N, K, eps] = [2, 96, 4096, 1e-6]
      const round = (a: Float32Array) => (dtype === "f16" ? roundF16(a) : a)
      const x = upload(gpu, round(randomFloats(M * K, 41, -3, 3)), dtype)
      const g = upload(gpu, round(randomFloats(K, 42, 0.5, 1.5)), dtype)
      const w = upload(gpu, round(randomFloats(N * K, 43, -0.5, 0.5)), dtype)
      const h = guardedOutput(gpu, M * K, dtype)
      rmsnormEncode(gpu, { x, weight: g, y: h.binding, rows: M, cols: K, eps, dtype })
      const unfused = guardedOutput(gpu, M * N, dtype)
      encode(gpu, { x: h.binding, w, y: unfused.binding, M, N, K, wLayout: "nk", dtype })
      const fused = guardedOutput(gpu, M * N, dtype)
      encode(gpu, { x, w, y: fused.binding, M, N, K, wLayout: "nk", dtype, rmsnorm: { weight: g, eps } })
      expect(relError(await fused.read(), await unfused.read())).toBeLessThan(dtype === "f16" ? 1e-3 : 1e-6)
    })
  }

  it("rmsnorm rejects kn weights", () => {
    const args = { x: { buffer: 0 }, w: { buffer: 0 }, y: { buffer: 0 }, M: 1, N: 4, K: 4, wLayout: "kn", rmsnorm: { weight: { buffer: 0 }, eps: 1e-5 } } as const
    expect(() => encode(gpu, args)).toThrow(/rmsnorm/)
  })

  it("swiglu rejects kn weights, an activation and one row a workgroup", () => {
    const args = { x: { buffer: 0 }, w: { buffer: 0 }, y: { buffer: 0 }, M: 1, N: 4, K: 4, swiglu: "halves" } as const
    expect(() => encode(gpu, { ...args, wLayout: "kn" })).toThrow(/swiglu/)
    expect(() => encode(gpu, { ...args, wLayout: "nk", activation: "gelu_tanh" })).toThrow(/swiglu/)
    expect(() => encode(gpu, { ...args, wLayout: "nk" }, { rowThreads: 256 })).toThrow(/swiglu/)
  })

  it("honours the tuning options (threads per row, column-threads, split-K, unpacked f16)", async () => {
    const dtype: DType = gpu.adapter.f16 ? "f16" : "f32"
    const [M, N, K] = [2, 72, 264]
    const { x, w, b } = inputs(M, N, K, 0, dtype, 77)
    const options = [{ rowThreads: 8 }, { rowThreads: 128 }, { columnThreads: 16, targetGroups: 64, minChunk: 16 }, { columnThreads: 128 }, { packed: false }]
    for (const wLayout of ["nk", "kn"] as const) {
      for (const o of options) {
        const y = guardedOutput(gpu, M * N, dtype)
        encode(gpu, { x: upload(gpu, x, dtype), w: upload(gpu, w, dtype), b: upload(gpu, b, dtype), y: y.binding, M, N, K, wLayout, dtype }, o)
        expect(relError(await y.read(), reference({ x, w, b, M, N, K, wLayout }))).toBeLessThan(tolerance(dtype))
      }
    }
  })

  it("splits K for narrow kn matrices and not for wide ones", () => {
    expect(knSplit(1032, 256, 4).chunks).toBeGreaterThan(1)
    expect(knSplit(64, 60, 1).chunks).toBe(1)
    const { chunk, chunks } = knSplit(4096, 4096, 4)
    expect(chunk * chunks).toBeGreaterThanOrEqual(4096)
    expect(chunk * (chunks - 1)).toBeLessThan(4096)
  })

  it("a kernel without the residual epilogue rejects one", () => {
    const args = { x: { buffer: 0 }, w: { buffer: 0 }, y: { buffer: 0 }, residual: { buffer: 1 }, M: 9, N: 4, K: 4, wLayout: "nk" } as const
    expect(() => checkShape("matmul", args)).toThrow(/residual/)
    expect(() => checkShape("gemv", args, { residual: true })).not.toThrow()
  })

  it(`rejects M > ${MAX_M}`, () => {
    expect(() => encode(gpu, { x: { buffer: 0 }, w: { buffer: 0 }, y: { buffer: 0 }, M: MAX_M + 1, N: 4, K: 4, wLayout: "nk" })).toThrow(/MAX_M/)
  })
})
