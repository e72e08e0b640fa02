import { describe, expect, it } from "vitest"
import type { DType } from "@djinn/gpu"
import { dtypesOf, guardedOutput, randomFloats, relError, roundF16, testDevice, tolerance, upload } from "../testing/harness.ts"
import * as gemv from "../gemv/gemv.ts"
import { encode, encodePartials, erf, fuseGlu, gluRow, gluRows, linear, linearPartials, reference, referenceSwiglu, sgmat, splitsOf, type Activation, type WLayout } from "./matmul.ts"

type Case = [M: number, N: number, K: number, layout: WLayout, bias: boolean, activation: Activation, xOffset: number]

// Sizes of 1, primes and non-multiples of the 64/128 tiles and of the K-step 16; both layouts with both tiles
// (520×515 takes the 128×128 path), bias and each activation. Cases share variants where they can: every variant is a
// shader compile, and lavapipe compiles slowly.
const f32Cases: Case[] = [
  [1, 1, 1, "kn", false, "none", 0],
  [17, 67, 257, "kn", true, "gelu_tanh", 3],
  [9, 1031, 17, "kn", false, "none", 0],
  [67, 17, 31, "nk", false, "none", 0],
  [64, 64, 16, "nk", false, "none", 5],
  [130, 257, 67, "nk", true, "gelu_erf", 0],
  [256, 1031, 257, "nk", false, "none", 0],
  [520, 515, 33, "kn", true, "none", 0],
  [520, 515, 33, "nk", false, "none", 1],
]
const f16Cases: Case[] = [
  [1, 1, 1, "kn", false, "none", 0],
  [130, 257, 67, "kn", false, "none", 0],
  [17, 67, 257, "nk", true, "gelu_tanh", 3],
  [520, 515, 33, "kn", false, "none", 0],
]

// The residual epilogue [M, N rows from rOffset]: before the activation (ResNet's shortcut before its ReLU) or after,
// with either tile, relu or none.
type ResidualCase = [M: number, N: number, K: number, layout: WLayout, before: boolean, activation: Activation, rOffset: number]
const residualCases: Record<DType, ResidualCase[]> = {
  f32: [[67, 131, 45, "nk", true, "relu", 3], [520, 515, 33, "nk", true, "relu", 0], [17, 67, 257, "kn", false, "none", 5]],
  f16: [[67, 131, 45, "nk", true, "relu", 0], [130, 257, 67, "nk", false, "relu", 8]],
}

const inputs = (M: number, N: number, K: number, xOffset: number, dtype: DType, seed: number) => {
  const round = (a: Float32Array) => (dtype === "f16" ? roundF16(a) : a)
  const x = round(randomFloats(xOffset + M * K, seed))
  const w = round(randomFloats(N * K, seed + 1, -0.5, 0.5))
  const b = round(randomFloats(N, seed + 2))
  return { x, w, b }
}

describe("matmul", async () => {
  const gpu = await testDevice()
  for (const dtype of dtypesOf(gpu)) {
    for (const [M, N, K, wLayout, bias, activation, xOffset] of dtype === "f32" ? f32Cases : f16Cases) {
      it(`${dtype} ${M}×${N}×${K} ${wLayout}${bias ? " +b" : ""} ${activation}${xOffset ? ` xOffset=${xOffset}` : ""}`, async () => {
        const { x, w, b } = inputs(M, N, K, xOffset, dtype, M * 7 + N * 3 + K)
        const y = guardedOutput(gpu, M * N, dtype)
        encode(gpu, {
          x: upload(gpu, x, dtype), w: upload(gpu, w, dtype), b: bias ? upload(gpu, b, dtype) : undefined, y: y.binding,
          M, N, K, wLayout, activation, dtype, xOffset,
        })
        const want = reference({ x, w, b: bias ? b : undefined, M, N, K, wLayout, activation, xOffset })
        expect(relError(await y.read(), want)).toBeLessThan(tolerance(dtype))
      })
    }
  }

  for (const dtype of dtypesOf(gpu)) {
    for (const [M, N, K, wLayout, before, activation, rOffset] of residualCases[dtype]) {
      it(`${dtype} ${M}×${N}×${K} ${wLayout} +b ${activation} + residual ${before ? "before" : "after"} the activation${rOffset ? ` residualOffset=${rOffset}` : ""}`, async () => {
        const { x, w, b } = inputs(M, N, K, 0, dtype, M * 5 + N + K)
        let residual = randomFloats(rOffset + M * N, M + N, -2, 2)
        if (dtype === "f16") residual = roundF16(residual)
        const y = guardedOutput(gpu, M * N, dtype)
        encode(gpu, {
          x: upload(gpu, x, dtype), w: upload(gpu, w, dtype), b: upload(gpu, b, dtype), y: y.binding, M, N, K, wLayout, activation, dtype,
          residual: upload(gpu, residual, dtype), residualOffset: rOffset, residualBeforeActivation: before,
        })
        const want = reference({ x, w, b, M, N, K, wLayout, activation, residual, residualOffset: rOffset, residualBeforeActivation: before })
        expect(relError(await y.read(), want)).toBeLessThan(tolerance(dtype))
      })
    }
  }

  // SwiGLU in the epilogue (W's gate and up rows in blocks of 16): N short of a whole block (Llama-mini's 86), of a
  // tile (64 and 128 columns of W), both tiles (600×1000 takes 128×128), bias over W's rows, M past the tile.
  type SwigluCase = [M: number, N: number, K: number, bias: boolean, dtypes: readonly DType[]]
  const swigluCases: SwigluCase[] = [
    [12, 86, 32, false, ["f32", "f16"]],
    [67, 40, 45, true, ["f32"]],
    [9, 1, 16, false, ["f32"]],
    [600, 520, 33, true, ["f32", "f16"]],
  ]
  for (const dtype of dtypesOf(gpu)) {
    for (const [M, N, K, bias] of swigluCases.filter((c) => c[4].includes(dtype))) {
      it(`swiglu blocks ${dtype} ${M}×${N}×${K}${bias ? " +b" : ""}`, async () => {
        const rows = gluRows(N, "blocks")
        const { x, w, b } = inputs(M, rows, K, 0, dtype, M + N * 3 + K)
        const y = guardedOutput(gpu, M * N, dtype)
        encode(gpu, { x: upload(gpu, x, dtype), w: upload(gpu, w, dtype), b: bias ? upload(gpu, b, dtype) : undefined, y: y.binding, M, N, K, wLayout: "nk", dtype, swiglu: "blocks" })
        const want = referenceSwiglu({ x, w, b: bias ? b : undefined, M, N, K, wLayout: "nk" }, "blocks")
        expect(relError(await y.read(), want)).toBeLessThan(tolerance(dtype))
      })
    }
  }

  it("swiglu: the blocks layout, its fusion of gate and up, and what the GEMM rejects", () => {
    // N = 20: one whole block, one of 4 outputs padded to 16 (rows 52 .. 63 and 36 .. 47 zero).
    const [N, K] = [20, 3]
    const gate = Float32Array.from({ length: N * K }, (_, i) => i + 1)
    const up = Float32Array.from({ length: N * K }, (_, i) => -(i + 1))
    const fused = fuseGlu(gate, up, N, K, "blocks")
    expect(gluRows(N, "blocks")).toBe(64)
    expect(fused.length).toBe(64 * K)
    for (let n = 0; n < N; n++) {
      expect(Array.from(fused.subarray(gluRow(n, false, N, "blocks") * K, gluRow(n, false, N, "blocks") * K + K))).toEqual(Array.from(gate.subarray(n * K, n * K + K)))
      expect(Array.from(fused.subarray(gluRow(n, true, N, "blocks") * K, gluRow(n, true, N, "blocks") * K + K))).toEqual(Array.from(up.subarray(n * K, n * K + K)))
    }
    expect([gluRow(0, false, N, "blocks"), gluRow(15, true, N, "blocks"), gluRow(16, false, N, "blocks"), gluRow(19, true, N, "blocks")]).toEqual([0, 31, 32, 51])
    expect(fused.subarray(36 * K, 48 * K).every((v) => v === 0) && fused.subarray(52 * K).every((v) => v === 0)).toBe(true)
    expect(Array.from(fuseGlu(gate, up, N, K, "halves"))).toEqual([...gate, ...up])
    const args = { x: { buffer: 0 }, w: { buffer: 0 }, y: { buffer: 0 }, M: 9, N: 4, K: 4, wLayout: "nk" } as const
    expect(() => encode(gpu, { ...args, swiglu: "halves" })).toThrow(/no swiglu epilogue/)
    expect(() => encode(gpu, { ...args, swiglu: "blocks", residual: { buffer: 0 } })).toThrow(/no residual with swiglu/)
    expect(() => encode(gpu, { ...args, swiglu: "blocks", activation: "relu" })).toThrow(/swiglu excludes/)
  })

  it("linear sends a residual before the activation to matmul even at M ≤ 8 (gemv has no such epilogue)", async () => {
    const [M, N, K] = [3, 40, 36]
    const { x, w, b } = inputs(M, N, K, 0, "f32", 11)
    const residual = randomFloats(M * N, 12, -2, 2)
    const y = guardedOutput(gpu, M * N)
    const args = { x: upload(gpu, x), w: upload(gpu, w), b: upload(gpu, b), y: y.binding, M, N, K, wLayout: "nk", activation: "relu", residual: upload(gpu, residual), residualBeforeActivation: true } as const
    linear(gpu, args)
    expect(relError(await y.read(), reference({ x, w, b, M, N, K, wLayout: "nk", activation: "relu", residual, residualBeforeActivation: true }))).toBeLessThan(1e-5)
    expect(() => gemv.encode(gpu, args)).toThrow(/no residual before the activation/)
  })

  // Split-K partials (`encodePartials`: the first pass alone, f32 [splits, M, N] for a fused reduce): 1–16 splits, K
  // not a multiple of the split or the K-step, both layouts and tiles (600×520 takes 128×128), an x offset. The
  // workspace beyond the partials (up to its first 1 MiB) is poisoned first and must stay so.
  type PartialsCase = [M: number, N: number, K: number, layout: WLayout, splits: number, xOffset: number]
  const partialsCases: Record<DType, PartialsCase[]> = {
    f32: [[1, 1, 1, "nk", 1, 0], [17, 67, 257, "kn", 3, 3], [67, 17, 31, "nk", 2, 0], [32, 64, 128, "nk", 16, 0], [130, 257, 67, "nk", 5, 1], [600, 520, 33, "kn", 2, 0]],
    f16: [[17, 67, 257, "nk", 7, 0], [600, 520, 33, "nk", 3, 0]],
  }
  for (const dtype of dtypesOf(gpu)) {
    for (const [M, N, K, wLayout, splits, xOffset] of partialsCases[dtype]) {
      it(`${dtype} ${M}×${N}×${K} ${wLayout}: split-K partials, ${splits} splits${xOffset ? ` xOffset=${xOffset}` : ""}`, async () => {
        const { x, w } = inputs(M, N, K, xOffset, dtype, M * 3 + N + K * 5)
        const args = { x: upload(gpu, x, dtype), w: upload(gpu, w, dtype), M, N, K, wLayout, dtype, xOffset } as const
        const first = encodePartials(gpu, args, splits)
        const buffer = first.part.buffer
        const bytes = first.splits * M * N * 4
        // The workspace holds at least 1 MiB (or the partials, if more).
        const total = Math.max(bytes, 1 << 20)
        gpu.writeBuffer(buffer, 0, new Uint8Array(total).fill(0x7f))
        const { part, splits: used } = encodePartials(gpu, args, splits)
        expect(part.buffer).toBe(buffer)
        expect(used).toBe(Math.ceil(K / (Math.ceil(Math.ceil(K / splits) / 16) * 16)))
        const raw = await gpu.read(buffer, 0, total)
        expect(raw.subarray(bytes).every((v) => v === 0x7f)).toBe(true)
        const got = new Float32Array(raw.buffer, raw.byteOffset, used * M * N)
        const sum = new Float32Array(M * N)
        for (let z = 0; z < used; z++) for (let i = 0; i < M * N; i++) sum[i] += got[z * M * N + i]
        expect(relError(sum, reference({ x, w, M, N, K, wLayout, xOffset }))).toBeLessThan(1e-5)
      })
    }
  }

  it("split-K partials only where the GEMM splits: splitsOf and linearPartials", async () => {
    // BERT-base at 128 tokens (24 tiles of 64×64): as many splits as fill ~264 workgroups; bert-mini's (one tile).
    expect(splitsOf(128, 768, 3072)).toBe(11)
    expect(splitsOf(128, 768, 768)).toBe(11)
    expect(splitsOf(32, 64, 64)).toBe(2)
    expect(splitsOf(32, 64, 128)).toBe(4)
    // K too short, enough tiles, or 128×128 tiles: no split.
    expect(splitsOf(128, 768, 48)).toBe(1)
    expect(splitsOf(1024, 768, 3072)).toBe(1)
    expect(splitsOf(512, 512, 4096)).toBe(1)
    const [N, K] = [40, 96]
    const { x, w } = inputs(9, N, K, 0, "f32", 5)
    const args = { x: upload(gpu, x), w: upload(gpu, w), N, K, wLayout: "nk" } as const
    // gemv's M, and a K that does not split: nothing (the caller runs linear).
    expect(linearPartials(gpu, { ...args, M: 8 })).toBeUndefined()
    expect(linearPartials(gpu, { ...args, M: 9, K: 48 })).toBeUndefined()
    if (!sgmat.usable(gpu.adapter)) {
      const p = linearPartials(gpu, { ...args, M: 9 })
      expect(p?.splits).toBe(3)
      const got = new Float32Array((await gpu.read(p!.part.buffer, 0, 3 * 9 * N * 4)).buffer)
      const sum = Float32Array.from({ length: 9 * N }, (_, i) => got[i] + got[9 * N + i] + got[18 * N + i])
      expect(relError(sum, reference({ x, w, M: 9, N, K, wLayout: "nk" }))).toBeLessThan(1e-5)
    }
  })

  it("relu and the residual's placement in the reference", () => {
    const base = { x: [1, 2], w: [1, -1], b: [0.5], M: 1, N: 1, K: 2, wLayout: "nk", activation: "relu", residual: [0.25] } as const
    // x·W + b = −0.5: relu(−0.5) + 0.25 = 0.25 after, relu(−0.25) = 0 before.
    expect(reference(base)[0]).toBe(0.25)
    expect(reference({ ...base, residualBeforeActivation: true })[0]).toBe(0)
  })

  it("writes at yOffset and nowhere else", async () => {
    const [M, N, K] = [5, 33, 20]
    const { x, w, b } = inputs(M, N, K, 0, "f32", 99)
    const y = guardedOutput(gpu, 7 + M * N)
    encode(gpu, { x: upload(gpu, x), w: upload(gpu, w), b: upload(gpu, b), y: y.binding, M, N, K, wLayout: "kn", yOffset: 7 })
    const got = await y.read()
    expect(Array.from(got.subarray(0, 7), (v) => new Uint32Array(new Float32Array([v]).buffer)[0])).toEqual(Array(7).fill(0x7f7f7f7f))
    expect(relError(got.subarray(7), reference({ x, w, b, M, N, K, wLayout: "kn" }))).toBeLessThan(1e-5)
  })

  it("linear picks gemv up to M = 8 and matmul beyond", async () => {
    for (const M of [1, 9]) {
      const [N, K] = [40, 36]
      const { x, w, b } = inputs(M, N, K, 0, "f32", M)
      const y = guardedOutput(gpu, M * N)
      linear(gpu, { x: upload(gpu, x), w: upload(gpu, w), b: upload(gpu, b), y: y.binding, M, N, K, wLayout: "nk" })
      expect(relError(await y.read(), reference({ x, w, b, M, N, K, wLayout: "nk" }))).toBeLessThan(1e-5)
    }
  })

  it("rejects empty shapes", () => {
    expect(() => encode(gpu, { x: { buffer: 0 }, w: { buffer: 0 }, y: { buffer: 0 }, M: 0, N: 1, K: 1, wLayout: "kn" })).toThrow(/M must be/)
  })

  it("reference erf is accurate to double precision", () => {
    const known: [number, number][] = [[0.5, 0.5204998778130465], [1, 0.8427007929497149], [2, 0.9953222650189527], [3, 0.9999779095030014], [-1, -0.8427007929497149]]
    for (const [z, want] of known) expect(Math.abs(erf(z) - want)).toBeLessThan(1e-14)
  })
})
