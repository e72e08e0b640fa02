import { packUniforms, type GpuDevice, type KernelSpec } from "@djinn/gpu"
import { wgsl } from "../source.ts"
import * as gemv from "../gemv/gemv.ts"
import { deviceWorkspace } from "../workspace.ts"
import * as sgmat from "./sgmat.ts"
import { checkShape, dtypeOf, epilogueDefines, epilogueWgsl, gluRows, splitK, type LinearArgs, type Partials, type ProductArgs } from "./linear.ts"

export * as sgmat from "./sgmat.ts"
export {
  reference, referenceAt, referenceSwiglu, activate, erf, fuseGlu, gluRow, gluRows, GLU_BLOCK,
  type Activation, type GluLayout, type LinearArgs, type Partials, type ProductArgs, type ReferenceArgs, type WLayout,
} from "./linear.ts"

/**
 * Bindings: x, W, y (the f32 partials in SPLITK variants), then b (only in BIAS variants), then the residual (only in
 * RESIDUAL variants).
 */
export const spec: KernelSpec = {
  id: "matmul",
  wgsl: wgsl("matmul") + "\n" + epilogueWgsl(),
  storage: ["read", "read", "read_write", "read", "read"],
  uniforms: true,
}

const MAX_GROUPS = 65535

/** 128×128 tiles (8×8 per thread) pay off once there are enough of them to fill the GPU; 64×64 otherwise. */
export const tileOf = (M: number, N: number): 64 | 128 => (M >= 512 && N >= 512 ? 128 : 64)

/**
 * Tiled GEMM, any M, N, K: y[M,N] = act(x[M,K] · W + b) (+ residual), or act(x·W + b + residual); or with `swiglu`
 * ("blocks") silu(gate) · up from a fused gate_up W of gluRows(N) rows.
 */
export const encode = (gpu: GpuDevice, args: LinearArgs): void => {
  checkShape("matmul", args, { residual: true, residualBeforeActivation: true, swiglu: ["blocks"] })
  // The GEMM's columns: W's rows, gate and up with swiglu.
  const N = args.swiglu === undefined ? args.N : gluRows(args.N, args.swiglu)
  const tile = tileOf(args.M, N)
  const defines = epilogueDefines(args)
  if (args.wLayout === "nk") defines.push("W_NK")
  if (tile === 128) defines.push("TILE_8X8")
  const gx = Math.ceil(N / tile)
  const gy = Math.ceil(args.M / tile)
  if (gx > MAX_GROUPS || gy > MAX_GROUPS) throw new Error(`matmul: ${args.M}×${args.N} needs more than ${MAX_GROUPS} tiles per dimension`)
  const bindings = [args.x, args.w, args.y]
  if (args.b !== undefined) bindings.push(args.b)
  if (args.residual !== undefined) bindings.push(args.residual)
  gpu.dispatch({
    pipeline: gpu.pipeline(spec.id, { dtype: dtypeOf(args), defines }),
    bindings,
    uniforms: packUniforms([["u32", args.M], ["u32", N], ["u32", args.K], ["u32", args.xOffset ?? 0], ["u32", args.yOffset ?? 0], ["u32", args.residualOffset ?? 0], ["u32", args.N], ["u32", 0]]),
    workgroups: [gx, gy, 1],
  })
}

/** The tiled GEMM's K-step. */
const BK = 16
/** The least k a split of the tiled GEMM takes (two K-steps). */
const MIN_SPLIT_K = 32
/** Workgroups to aim for with split-K (an H100's 132 SMs about twice over, as the tensor-core GEMM aims for). */
const FILL_TILES = 264

/**
 * K-splits of the tiled GEMM for `encodePartials`: 1 for 128×128 tiles or enough 64×64 tiles to fill a large GPU,
 * else enough splits to reach FILL_TILES workgroups, each at least MIN_SPLIT_K deep, at most 16. (The tiled GEMM's
 * own `encode` never splits; only callers that fuse the reduce into what follows use its partials. Unmeasured on a
 * GPU; on lavapipe the extra workgroups use more cores.)
 */
export const splitsOf = (M: number, N: number, K: number): number => {
  const tiles = Math.ceil(M / 64) * Math.ceil(N / 64)
  if (tileOf(M, N) !== 64 || tiles >= 132 || K < 2 * MIN_SPLIT_K) return 1
  return Math.max(1, Math.min(Math.floor(K / MIN_SPLIT_K), Math.ceil(FILL_TILES / tiles), 16))
}

/** The tiled GEMM's split-K partials. */
const workspace = deviceWorkspace("matmul split-K partials")

/**
 * The tiled GEMM's first pass alone: x·W as f32 partials [splits, M, N] (any splits ≥ 1; fewer if K is short), no
 * epilogue, for a consumer that fuses the reduce (layernorm's PARTIALS).
 */
export const encodePartials = (gpu: GpuDevice, args: ProductArgs, splits = splitsOf(args.M, args.N, args.K)): Partials => {
  checkShape("matmul", args)
  const { kc, splits: nSplits } = splitK(args.K, splits, BK)
  const tile = tileOf(args.M, args.N)
  const defines = ["SPLITK"]
  if (args.wLayout === "nk") defines.push("W_NK")
  if (tile === 128) defines.push("TILE_8X8")
  const gx = Math.ceil(args.N / tile)
  const gy = Math.ceil(args.M / tile)
  if (gx > MAX_GROUPS || gy > MAX_GROUPS) throw new Error(`matmul: ${args.M}×${args.N} needs more than ${MAX_GROUPS} tiles per dimension`)
  const part = workspace(gpu, nSplits * args.M * args.N * 4)
  gpu.dispatch({
    pipeline: gpu.pipeline(spec.id, { dtype: dtypeOf(args), defines }),
    bindings: [args.x, args.w, part],
    uniforms: packUniforms([["u32", args.M], ["u32", args.N], ["u32", args.K], ["u32", args.xOffset ?? 0], ["u32", 0], ["u32", 0], ["u32", args.N], ["u32", kc]]),
    workgroups: [gx, gy, nSplits],
  })
  return { part, splits: nSplits }
}

/** Every spec of this folder: the tiled GEMM and the tensor-core one. */
export const specs: readonly KernelSpec[] = [spec, sgmat.spec, sgmat.reduceSpec]

/**
 * The engine's linear layer: gemv for decode-sized M (≤ gemv.MAX_M) unless the residual goes before the activation
 * (gemv has no such epilogue); beyond, the tensor-core GEMM for f16 where the adapter has subgroup matrices
 * (sgmat.usable), else the tiled GEMM.
 */
export const linear = (gpu: GpuDevice, args: LinearArgs): void => {
  const preResidual = args.residual !== undefined && args.residualBeforeActivation === true
  if (args.M <= gemv.MAX_M && !preResidual) gemv.encode(gpu, args)
  else if (dtypeOf(args) === "f16" && sgmat.usable(gpu.adapter)) sgmat.encode(gpu, args)
  else encode(gpu, args)
}

/**
 * x·W left as f32 split-K partials for a consumer that fuses the reduce with the bias and what follows (BERT's
 * LayerNorms): where `linear` would run a GEMM that splits K — the tensor-core GEMM's split-K shapes, or the tiled
 * GEMM's (`splitsOf`). Undefined, with nothing recorded, elsewhere (gemv's M, shapes that do not split): the caller
 * runs `linear` and its own epilogue then, as the partials would only add an f32 round trip.
 */
export const linearPartials = (gpu: GpuDevice, args: ProductArgs): Partials | undefined => {
  if (args.M <= gemv.MAX_M) return undefined
  if (dtypeOf(args) === "f16" && sgmat.usable(gpu.adapter)) return sgmat.encodePartials(gpu, args)
  return splitsOf(args.M, args.N, args.K) > 1 ? encodePartials(gpu, args) : undefined
}
