import { afterAll, describe, expect, it } from "vitest"
import { openGpu, type GpuDevice } from "@djinn/gpu"
import { registry } from "../index.ts"
import * as layernorm from "../layernorm/layernorm.ts"
import { guardedOutput, randomFloats, relError, roundF16, testDevice, tolerance, upload } from "../testing/harness.ts"
import { activate, gluRows, linear, reference, referenceSwiglu, sgmat, type Activation, type WLayout } from "./matmul.ts"
import { emulatedSpec } from "./sgmat_emulate.ts"

/**
 * Where the adapter lacks subgroup matrices (lavapipe), cases marked `emulate` run on matmul_sgmat with emulated ones
 * (sgmat_emulate.ts: the kernel's own staging, schedule and epilogue; bank padding dropped to fit 32 KiB). Cold,
 * lavapipe compiles an emulated variant in 3–25 s with vec4 tiles, up to ~70 s with f16 ones, so only some cases are
 * marked (about a minute of compiling on two cores, the rest sharing their pipelines); DJINN_TEST_SGMAT_EMULATE=all
 * emulates every case (~30 minutes on two cores), =0 none.
 */
interface Extra {
  /** Split-K with this many splits (the default: `splitsOf`). */
  splits?: number
  emulate?: boolean
}
const EMULATE = process.env.DJINN_TEST_SGMAT_EMULATE
const emulated = (extra: Extra | undefined): boolean => EMULATE === "all" || (EMULATE !== "0" && extra?.emulate === true)
const E: Extra = { emulate: true }

type Case = [M: number, N: number, K: number, layout: WLayout, bias: boolean, activation: Activation, xOffset: number, tile?: sgmat.SgTile, extra?: Extra]

// Aligned (K, N multiples of 8) and unaligned shapes, partial tiles in every dimension, both layouts, each tile shape,
// bias and both activations, an x offset that breaks 16-byte alignment.
const cases: Case[] = [
  [16, 16, 16, "nk", false, "none", 0],
  [300, 136, 72, "kn", true, "none", 0, "128x128/4"],
  [200, 136, 72, "nk", true, "none", 0, "128x128/8"],
  [200, 136, 72, "kn", true, "gelu_tanh", 0, "128x128/4"],
  [130, 264, 520, "kn", false, "none", 8, "64x64/4"],
  [130, 264, 520, "nk", true, "none", 0, "128x256/8"],
  [67, 300, 45, "kn", false, "gelu_tanh", 0, "128x256/8"],
  [200, 136, 72, "nk", true, "none", 0, "128x128/8+ws"],
  [130, 264, 520, "kn", true, "gelu_erf", 0, "128x256/8+ws"],
  [67, 131, 45, "nk", false, "none", 1, "64x64/4+ws"],
  [300, 264, 520, "nk", true, "none", 0, "128x128/4+ws8"],
  [260, 136, 72, "kn", true, "gelu_tanh", 8, "128x128/4+ws8"],
  [67, 131, 45, "nk", true, "gelu_erf", 3],
  [67, 131, 45, "kn", false, "none", 0, "128x128/8"],
  [9, 40, 36, "nk", true, "none", 0],
  // Tiles of 16-byte pieces ("+v") on every shape and staging, aligned and not; 256-row tiles; a deep full-tile case.
  [200, 136, 72, "nk", true, "none", 0, "128x128/8+v", E],
  [300, 264, 520, "kn", true, "gelu_tanh", 8, "128x128/8+v"],
  [67, 131, 45, "nk", false, "none", 1, "128x128/8+v"],
  [256, 256, 1024, "nk", true, "none", 0, "128x128/8+v"],
  [300, 136, 72, "nk", true, "none", 0, "256x128/8"],
  [300, 264, 520, "kn", true, "gelu_erf", 0, "256x128/8"],
  [300, 264, 520, "nk", true, "none", 0, "256x128/8+v"],
  [520, 264, 520, "kn", true, "gelu_erf", 0, "256x128/8+v"],
  [67, 300, 45, "nk", false, "gelu_tanh", 3, "256x128/8+v"],
  [512, 256, 1024, "nk", true, "none", 0, "256x128/8+v"],
  [130, 264, 520, "nk", true, "none", 0, "128x256/8+v"],
  [200, 136, 72, "kn", true, "none", 0, "128x128/4+v"],
  [200, 136, 72, "nk", true, "none", 0, "128x128/4+ws+v"],
  [260, 136, 72, "kn", true, "gelu_tanh", 8, "256x128/8+ws8+v"],
  [130, 264, 520, "kn", false, "none", 8, "64x64/4+v"],
  // Loads two K-steps ahead ("+p2") as the "+v" rows above, on every shape, aligned and not; short K: one step
  // (K = 16 and 8 at BK = 16, 32 at BK = 32) and two (K = 32, 24 and 20 at BK = 16; 64 and 45 at BK = 32).
  [200, 136, 72, "nk", true, "none", 0, "128x128/8+v+p2", E],
  [300, 264, 520, "kn", true, "gelu_tanh", 8, "128x128/8+v+p2", E],
  [67, 131, 45, "nk", false, "none", 1, "128x128/8+v+p2", E],
  [256, 256, 1024, "nk", true, "none", 0, "128x128/8+v+p2"],
  [300, 264, 520, "nk", true, "none", 0, "256x128/8+v+p2", E],
  [520, 264, 520, "kn", true, "gelu_erf", 0, "256x128/8+v+p2"],
  [67, 300, 45, "nk", false, "gelu_tanh", 3, "256x128/8+v+p2"],
  [512, 256, 1024, "nk", true, "none", 0, "256x128/8+v+p2"],
  [300, 264, 16, "nk", true, "none", 0, "256x128/8+v+p2", E],
  [300, 136, 8, "kn", false, "none", 0, "256x128/8+v+p2"],
  [300, 264, 32, "nk", true, "none", 0, "256x128/8+v+p2", E],
  [67, 131, 24, "kn", true, "none", 0, "256x128/8+v+p2"],
  [260, 136, 20, "nk", false, "none", 0, "256x128/8+v+p2"],
  [200, 136, 32, "nk", true, "none", 0, "128x128/8+v+p2", E],
  [200, 136, 64, "kn", true, "gelu_tanh", 8, "128x128/8+v+p2", E],
  [300, 136, 72, "nk", true, "none", 0, "256x128/8+p2"],
  [200, 136, 72, "kn", true, "gelu_tanh", 0, "128x128/8+p2"],
  [130, 264, 520, "nk", true, "none", 0, "128x256/8+v+p2"],
  [67, 300, 45, "kn", false, "gelu_tanh", 0, "128x256/8+p2"],
  [200, 136, 72, "kn", true, "none", 0, "128x128/4+v+p2"],
  [130, 264, 520, "kn", false, "none", 8, "64x64/4+v+p2", E],
  // Split-K (too few tiles for the GPU, long K): BERT-base's down and up projections at 128 tokens, and a ragged one.
  [128, 768, 3072, "nk", true, "none", 0],
  [128, 3072, 768, "nk", true, "gelu_erf", 0],
  [70, 200, 1100, "kn", true, "gelu_tanh", 3],
  [128, 768, 3072, "nk", true, "none", 0, "64x64/4+ws+v"],
  [128, 768, 3072, "nk", true, "gelu_erf", 0, "64x64/4+v+p2", E],
  [70, 200, 1100, "kn", true, "gelu_tanh", 3, "64x64/4+p2"],
  // Given splits whose last one is short: K = 200 in 3 splits of 96 (the last 8 deep: one step), K = 256 (the last 64
  // deep: two steps at BK = 32), with 64×64 and 256×128 tiles (BK = 16: six steps a split, then one).
  [70, 200, 200, "nk", true, "none", 0, "64x64/4+v+p2", { splits: 3, emulate: true }],
  [70, 200, 256, "kn", true, "none", 0, "64x64/4+v+p2", { splits: 3 }],
  [300, 264, 200, "nk", true, "gelu_tanh", 0, "256x128/8+v+p2", { splits: 3, emulate: true }],
  [300, 264, 200, "nk", true, "gelu_tanh", 0, "256x128/8+v", { splits: 3 }],
  // One stage of K-steps twice as deep ("+s1": 64 for 128x128/8 and 64x64/4, 32 for the 64×64-per-subgroup tiles), every
  // shape it takes, aligned and not, both layouts; K shorter than a step, exactly one, one and a half; split-K with a
  // short last split (K = 200 asked in 3 splits: 64x64/4+v+s1 makes two of 128, two steps each, the last 72 deep;
  // 256x128/8+v+s1 three of 96, the last 8 deep: one step).
  [200, 136, 72, "nk", true, "none", 0, "128x128/8+v+s1", E],
  [300, 264, 520, "kn", true, "gelu_tanh", 8, "128x128/8+v+s1", E],
  [67, 131, 45, "nk", false, "none", 1, "128x128/8+v+s1"],
  [256, 256, 1024, "nk", true, "none", 0, "128x128/8+v+s1"],
  [300, 264, 520, "nk", true, "none", 0, "256x128/8+v+s1", E],
  [520, 264, 520, "kn", true, "gelu_erf", 0, "256x128/8+v+s1"],
  [67, 300, 45, "nk", false, "gelu_tanh", 3, "256x128/8+v+s1"],
  [512, 256, 1024, "nk", true, "none", 0, "256x128/8+v+s1"],
  [300, 264, 16, "nk", true, "none", 0, "256x128/8+v+s1", E],
  [300, 264, 32, "nk", true, "none", 0, "256x128/8+v+s1"],
  [300, 264, 48, "kn", true, "none", 0, "256x128/8+v+s1", E],
  [200, 136, 64, "kn", true, "gelu_tanh", 8, "128x128/8+v+s1"],
  [300, 136, 72, "nk", true, "none", 0, "256x128/8+s1"],
  [200, 136, 72, "kn", true, "gelu_tanh", 0, "128x128/8+s1"],
  [130, 264, 520, "nk", true, "none", 0, "128x256/8+v+s1", E],
  [67, 300, 45, "kn", false, "gelu_tanh", 0, "128x256/8+s1"],
  [130, 264, 520, "kn", false, "none", 8, "64x64/4+v+s1", E],
  [128, 768, 3072, "nk", true, "gelu_erf", 0, "64x64/4+v+s1"],
  [70, 200, 200, "nk", true, "none", 0, "64x64/4+v+s1", { splits: 3, emulate: true }],
  [300, 264, 200, "nk", true, "gelu_tanh", 0, "256x128/8+v+s1", { splits: 3 }],
]

// The residual epilogue (ResNet: relu(x·W + b + shortcut), 1×1 and 3×3 convolutions as GEMMs): before and after the
// activation, aligned and not (an odd residual offset forces element loads), each tile, and split-K (stage 4 at
// batch 8: 392 rows, too few tiles).
type ResidualCase = [M: number, N: number, K: number, before: boolean, activation: Activation, rOffset: number, tile?: sgmat.SgTile, extra?: Extra]
const residualCases: ResidualCase[] = [
  [300, 136, 72, true, "relu", 0, "128x128/4+ws"],
  [200, 264, 520, true, "relu", 8, "64x64/4+ws"],
  [67, 131, 45, true, "relu", 3],
  [130, 264, 520, false, "gelu_tanh", 0, "128x256/8"],
  [260, 136, 72, true, "relu", 0, "128x128/8"],
  [260, 136, 72, true, "relu", 0, "128x128/8+v"],
  [300, 264, 520, false, "gelu_tanh", 0, "256x128/8+v"],
  [67, 131, 45, true, "relu", 3, "256x128/8"],
  [260, 136, 72, true, "relu", 0, "128x128/8+v+p2"],
  [300, 264, 520, false, "gelu_tanh", 0, "256x128/8+v+p2"],
  [67, 131, 45, true, "relu", 3, "256x128/8+p2"],
  [260, 136, 72, true, "relu", 0, "128x128/8+v+s1"],
  [300, 264, 520, false, "gelu_tanh", 0, "256x128/8+v+s1"],
  [67, 131, 45, true, "relu", 3, "64x64/4+s1"],
  [392, 512, 2048, true, "relu", 0],
  [392, 512, 4608, false, "none", 5],
]

// SwiGLU in the epilogue (W's gate and up rows in blocks of 16; N outputs, gluRows(N) columns of the GEMM): each tile
// shape, staging subgroups, "+p2", aligned and not (N = 86 and 131: a partial block, element stores), partial tiles,
// bias over W's rows, a shape that split-K would take without swiglu, Llama-2-7B's gate_up at 1k tokens shrunk in K.
type SwigluCase = [M: number, N: number, K: number, bias: boolean, tile?: sgmat.SgTile, extra?: Extra]
const swigluCases: SwigluCase[] = [
  [200, 136, 72, true, "128x128/8+v"],
  [200, 136, 72, false, "128x128/8"],
  [300, 264, 520, false, "256x128/8+v"],
  [300, 264, 520, true, "256x128/8"],
  [130, 264, 520, false, "128x256/8+v"],
  [200, 136, 72, true, "128x128/4+ws+v"],
  [260, 136, 72, false, "256x128/8+ws8+v"],
  [256, 256, 1024, true, "128x128/8+v+p2"],
  [300, 264, 520, false, "256x128/8+v+p2"],
  [130, 264, 512, false, "64x64/4+p2"],
  [256, 256, 1024, true, "128x128/8+v+s1"],
  [300, 264, 520, false, "256x128/8+v+s1"],
  [130, 131, 64, true, "64x64/4+v"],
  [67, 86, 45, false],
  [67, 86, 45, true, "256x128/8+v"],
  [128, 768, 3072, false],
  [1024, 11008, 256, false],
]

describe("matmul_sgmat", async () => {
  const gpu = await testDevice()
  const skip = !sgmat.usable(gpu.adapter)
  // The emulation's device: the registry with matmul_sgmat's WGSL swapped for the emulated one.
  const emulator: GpuDevice | undefined = skip && gpu.adapter.f16 && EMULATE !== "0"
    ? await openGpu(new Map([...registry, [sgmat.spec.id, emulatedSpec()]]), { profiling: false })
    : undefined
  afterAll(() => emulator?.destroy())
  /** The device a case runs on (the tensor cores, or the emulation for cases marked so), undefined to skip it. */
  const deviceFor = (extra: Extra | undefined): GpuDevice | undefined => (!skip ? gpu : emulated(extra) ? emulator : undefined)
  const suffix = (extra: Extra | undefined): string =>
    !skip ? "" : deviceFor(extra) !== undefined ? " (emulated subgroup matrices)" : " (skipped where the adapter lacks subgroup matrices)"
  const EMULATED_MS = 300_000 // lavapipe compiles an emulated variant for up to ~25 s (longer with the suite in parallel)

  for (const [M, N, K, wLayout, bias, activation, xOffset, tile, extra] of cases) {
    const name = `f16 ${M}×${N}×${K} ${wLayout}${bias ? " +b" : ""} ${activation}${xOffset ? ` xOffset=${xOffset}` : ""} tile ${tile ?? "auto"}${extra?.splits !== undefined ? ` splits=${extra.splits}` : ""}`
    const dev = deviceFor(extra)
    it.skipIf(dev === undefined)(`${name}${suffix(extra)}`, async () => {
      const gpu = dev!
      const x = roundF16(randomFloats(xOffset + M * K, M + N + K))
      const w = roundF16(randomFloats(N * K, M + N + K + 1, -0.5, 0.5))
      const b = roundF16(randomFloats(N, M + N + K + 2))
      const y = guardedOutput(gpu, M * N, "f16")
      const args = {
        x: upload(gpu, x, "f16"), w: upload(gpu, w, "f16"), b: bias ? upload(gpu, b, "f16") : undefined, y: y.binding,
        M, N, K, wLayout, activation, dtype: "f16", xOffset,
      } as const
      if (extra?.splits !== undefined) sgmat.encode(gpu, args, tile, extra.splits)
      else sgmat.encode(gpu, args, tile)
      const want = reference({ x, w, b: bias ? b : undefined, M, N, K, wLayout, activation, xOffset })
      expect(relError(await y.read(), want)).toBeLessThan(tolerance("f16"))
      await gpu.checkErrors()
    }, EMULATED_MS)
  }

  for (const [M, N, K, before, activation, rOffset, tile, extra] of residualCases) {
    const name = `f16 ${M}×${N}×${K} nk +b ${activation} + residual ${before ? "before" : "after"} the activation${rOffset ? ` residualOffset=${rOffset}` : ""} tile ${tile ?? "auto"}`
    const dev = deviceFor(extra)
    it.skipIf(dev === undefined)(`${name}${suffix(extra)}`, async () => {
      const gpu = dev!
      const x = roundF16(randomFloats(M * K, M + N + K))
      const w = roundF16(randomFloats(N * K, M + N + K + 1, -0.5, 0.5))
      const b = roundF16(randomFloats(N, M + N + K + 2))
      const residual = roundF16(randomFloats(rOffset + M * N, M + N + K + 3, -2, 2))
      const y = guardedOutput(gpu, M * N, "f16")
      sgmat.encode(gpu, {
        x: upload(gpu, x, "f16"), w: upload(gpu, w, "f16"), b: upload(gpu, b, "f16"), y: y.binding, M, N, K, wLayout: "nk", activation, dtype: "f16",
        residual: upload(gpu, residual, "f16"), residualOffset: rOffset, residualBeforeActivation: before,
      }, tile)
      const want = reference({ x, w, b, M, N, K, wLayout: "nk", activation, residual, residualOffset: rOffset, residualBeforeActivation: before })
      expect(relError(await y.read(), want)).toBeLessThan(tolerance("f16"))
      await gpu.checkErrors()
    }, EMULATED_MS)
  }

  for (const [M, N, K, bias, tile, extra] of swigluCases) {
    const dev = deviceFor(extra)
    it.skipIf(dev === undefined)(`f16 ${M}×${N}×${K} nk${bias ? " +b" : ""} swiglu blocks tile ${tile ?? "auto"}${suffix(extra)}`, async () => {
      const gpu = dev!
      const rows = gluRows(N, "blocks")
      const x = roundF16(randomFloats(M * K, M + N + K))
      const w = roundF16(randomFloats(rows * K, M + N + K + 1, -0.5, 0.5))
      const b = roundF16(randomFloats(rows, M + N + K + 2))
      const y = guardedOutput(gpu, M * N, "f16")
      const args = { x: upload(gpu, x, "f16"), w: upload(gpu, w, "f16"), b: bias ? upload(gpu, b, "f16") : undefined, y: y.binding, M, N, K, wLayout: "nk", dtype: "f16", swiglu: "blocks" } as const
      if (tile === undefined) sgmat.encode(gpu, args)
      else sgmat.encode(gpu, args, tile)
      const want = referenceSwiglu({ x, w, b: bias ? b : undefined, M, N, K, wLayout: "nk" }, "blocks")
      expect(relError(await y.read(), want)).toBeLessThan(tolerance("f16"))
      await gpu.checkErrors()
    }, EMULATED_MS)
  }

  // Split-K partials into the LayerNorm that fuses their reduce (BERT's o_proj and down projections at 128 tokens,
  // and a ragged unaligned one): against the CPU reference, and against the unfused path (the GEMM's reduce with the
  // bias, then LayerNorm(res + t)), which rounds the same sums the same way.
  type PartialsCase = [M: number, N: number, K: number, layout: WLayout, xOffset: number, splits: number]
  const partialsCases: PartialsCase[] = [[128, 768, 768, "nk", 0, 3], [128, 768, 3072, "nk", 0, 10], [70, 200, 1100, "kn", 3, 4]]
  for (const [M, N, K, wLayout, xOffset, splits] of partialsCases) {
    it.skipIf(skip)(`f16 ${M}×${N}×${K} ${wLayout}${xOffset ? ` xOffset=${xOffset}` : ""}: split-K partials into layernorm PARTIALS (skipped where the adapter lacks subgroup matrices)`, async () => {
      const x = roundF16(randomFloats(xOffset + M * K, M + K))
      const w = roundF16(randomFloats(N * K, M + K + 1, -0.5, 0.5))
      const b = roundF16(randomFloats(N, M + K + 2))
      const res = roundF16(randomFloats(M * N, M + K + 3, -2, 2))
      const gamma = roundF16(randomFloats(N, M + K + 4, 0.5, 1.5))
      const beta = roundF16(randomFloats(N, M + K + 5))
      const bind = { x: upload(gpu, x, "f16"), w: upload(gpu, w, "f16"), b: upload(gpu, b, "f16"), res: upload(gpu, res, "f16"), gamma: upload(gpu, gamma, "f16"), beta: upload(gpu, beta, "f16") }
      const norm = { gamma: bind.gamma, beta: bind.beta, rows: M, cols: N, eps: 1e-12, dtype: "f16" } as const
      const fused = guardedOutput(gpu, M * N, "f16")
      const parts = sgmat.encodePartials(gpu, { x: bind.x, w: bind.w, M, N, K, wLayout, dtype: "f16", xOffset })
      expect(parts?.splits).toBe(splits)
      layernorm.encode(gpu, { ...norm, x: parts!.part, partials: { splits: parts!.splits, bias: bind.b }, res: bind.res, y: fused.binding })
      const t = guardedOutput(gpu, M * N, "f16")
      const unfused = guardedOutput(gpu, M * N, "f16")
      sgmat.encode(gpu, { x: bind.x, w: bind.w, b: bind.b, y: t.binding, M, N, K, wLayout, dtype: "f16", xOffset })
      layernorm.encode(gpu, { ...norm, x: bind.res, res: t.binding, y: unfused.binding })
      const got = await fused.read()
      const input = roundF16(Float32Array.from(roundF16(Float32Array.from(reference({ x, w, b, M, N, K, wLayout, xOffset }))), (v, i) => v + res[i]))
      expect(relError(got, layernorm.reference(input, gamma, beta, M, N, 1e-12))).toBeLessThan(tolerance("f16"))
      const want = await unfused.read()
      // Expected 0 (the same partials, sums and roundings); printed rather than asserted, as the unfused ADD rounds in
      // registers, which a driver may skip (lavapipe does).
      console.log(`${M}×${N}×${K}: ${got.filter((v, i) => v !== want[i]).length} of ${M * N} outputs differ from the unfused path`)
      expect(relError(got, want)).toBeLessThan(1e-3)
    })
  }

  it("encodePartials records nothing where the shape would not split", () => {
    const args = { x: { buffer: 0 }, w: { buffer: 0 }, N: 768, K: 768, wLayout: "nk", dtype: "f16" } as const
    expect(sgmat.encodePartials(gpu, { ...args, M: 1024 })).toBeUndefined()
    expect(sgmat.encodePartials(gpu, { ...args, M: 128, K: 384 })).toBeUndefined()
  })

  it.skipIf(!gpu.adapter.f16)("linear (f16, M > 8) matches the reference on either path (tiled here without subgroup matrices)", async () => {
    const [M, N, K] = [33, 72, 48]
    const x = roundF16(randomFloats(M * K, 5))
    const w = roundF16(randomFloats(N * K, 6, -0.5, 0.5))
    const b = roundF16(randomFloats(N, 7))
    const y = guardedOutput(gpu, M * N, "f16")
    linear(gpu, { x: upload(gpu, x, "f16"), w: upload(gpu, w, "f16"), b: upload(gpu, b, "f16"), y: y.binding, M, N, K, wLayout: "nk", dtype: "f16" })
    expect(relError(await y.read(), reference({ x, w, b, M, N, K, wLayout: "nk" }))).toBeLessThan(tolerance("f16"))
  })

  it("picks big tiles only when there are enough of them", () => {
    // 128×128 with one stage of 64-deep K-steps on every big aligned shape, 64×64 likewise on small ones.
    expect(sgmat.tileOf(1024, 4096)).toBe("128x128/8+v+s1")
    expect(sgmat.tileOf(512, 12288)).toBe("128x128/8+v+s1")
    expect(sgmat.tileOf(512, 4096)).toBe("128x128/8+v+s1")
    expect(sgmat.tileOf(128, 768)).toBe("64x64/4+v+s1")
    expect(sgmat.tileOf(25088, 64)).toBe("64x64/4+v+s1")
    expect(sgmat.tileOf(120, 4096)).toBe("64x64/4+v+s1")
    expect(sgmat.splitsOf(128, 768, 3072, "64x64/4+ws")).toBe(11)
    // BERT-base's QKV (72 tiles) and FFN up (96) are not split since session 5; its out projection (24) is.
    expect(sgmat.splitsOf(128, 2304, 768, "64x64/4+ws")).toBe(1)
    expect(sgmat.splitsOf(128, 3072, 768, "64x64/4+ws")).toBe(1)
    expect(sgmat.splitsOf(128, 768, 768, "64x64/4+ws")).toBe(3)
    expect(sgmat.splitsOf(1024, 4096, 4096, "128x128/4+ws")).toBe(1)
    expect(sgmat.splitsOf(512, 4096, 4096, "128x128/4+ws")).toBe(1)
    expect(sgmat.splitsOf(128, 768, 384, "64x64/4+ws")).toBe(1)
    expect(sgmat.tileOf(1000, 4100, false)).toBe("128x128/8")
    expect(sgmat.alignedOf({ x: { buffer: 0 }, w: { buffer: 0 }, y: { buffer: 0 }, M: 3, N: 16, K: 8, wLayout: "nk", xOffset: 4 })).toBe(false)
    // Llama-2-7B's gate_up at 1k tokens: the GEMM's 22016 columns, as before the fusion.
    expect(sgmat.tileOf(1024, gluRows(11008, "blocks"))).toBe("128x128/8+v+s1")
    // Split-K cuts K in whole K-steps of the tile: 64 for "64x64/4+v+s1" (BERT-base's down projection: 11 splits asked,
    // 320 deep, so 10).
    expect(sgmat.splitsOf(128, 768, 3072, "64x64/4+v+s1")).toBe(11)
    // K-steps: the shape's, twice as deep with "+s1".
    expect([sgmat.stepOf("256x128/8+v"), sgmat.stepOf("256x128/8+v+s1"), sgmat.stepOf("128x128/8+v+s1"), sgmat.stepOf("64x64/4+s1")]).toEqual([16, 32, 64, 64])
    // "+p2" and "+s1" never combine with staging subgroups, "+s1" comes before "+p2"; "+wg" is gone.
    const args = { x: { buffer: 0 }, w: { buffer: 0 }, y: { buffer: 0 }, M: 1024, N: 4096, K: 4096, wLayout: "nk", dtype: "f16" } as const
    for (const tile of ["128x128/4+ws+p2", "128x128/4+ws+v+p2", "128x128/8+p2+v", "128x128/8+v+wg", "128x128/8+ws+s1", "128x128/8+v+p2+s1", "128x128/8+v+s1+p2", "128x128/8+v+s1n", "128x128/4+v+s1"]) {
      expect(() => sgmat.encode(gpu, args, tile as sgmat.SgTile)).toThrow(/no tile/)
    }
  })

  // The split-K reduce pass is a plain kernel: checked on every adapter with shader-f16.
  // [M, N, splits, bias, activation, yOffset, residual: none | before / after the activation, residualOffset]
  const reduceCases = [
    [3, 5, 2, true, "none", 0, "none", 0], [128, 768, 11, true, "gelu_erf", 8, "none", 0], [7, 33, 3, false, "gelu_tanh", 3, "none", 0],
    [392, 512, 5, true, "relu", 0, "before", 0], [7, 33, 3, false, "relu", 0, "after", 5], [9, 16, 2, true, "none", 8, "before", 3],
  ] as const
  for (const [M, N, splits, bias, activation, yOffset, residual, rOffset] of reduceCases) {
    const res = residual === "none" ? "" : ` + residual ${residual} the activation${rOffset ? ` residualOffset=${rOffset}` : ""}`
    it(`split-K reduce ${M}×${N}, ${splits} splits${bias ? " +b" : ""} ${activation}${yOffset ? ` yOffset=${yOffset}` : ""}${res}`, async () => {
      if (!gpu.adapter.f16) return
      const part = randomFloats(splits * M * N, M * N + splits, -2, 2)
      const b = roundF16(randomFloats(N, N + 7))
      const r = roundF16(randomFloats(rOffset + M * N, N + 8, -2, 2))
      const y = guardedOutput(gpu, yOffset + M * N, "f16")
      sgmat.encodeReduce(gpu, {
        part: upload(gpu, part), y: y.binding, b: bias ? upload(gpu, b, "f16") : undefined, M, N, splits, yOffset, activation,
        residual: residual === "none" ? undefined : upload(gpu, r, "f16"), residualOffset: rOffset, residualBeforeActivation: residual === "before",
      })
      const want = new Float32Array(M * N)
      for (let i = 0; i < M * N; i++) {
        let v = 0
        for (let z = 0; z < splits; z++) v += part[z * M * N + i]
        if (bias) v += b[i % N]
        if (residual === "before") v += r[rOffset + i]
        want[i] = activate(v, activation)
        if (residual === "after") want[i] += r[rOffset + i]
      }
      expect(relError((await y.read()).slice(yOffset), want)).toBeLessThan(tolerance("f16"))
    })
  }
})
