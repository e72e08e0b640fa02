import { packUniforms, type GpuDevice, type KernelSpec } from "@djinn/gpu"
import { wgsl } from "../source.ts"
import * as gemv from "../gemv/gemv.ts"
import * as sgmat from "./sgmat.ts"
import { checkShape, dtypeOf, epilogueDefines, epilogueWgsl, gluRows, type LinearArgs } from "./linear.ts"

export * as sgmat from "./sgmat.ts"
export {
  reference, referenceAt, referenceSwiglu, activate, erf, fuseGlu, gluRow, gluRows, GLU_BLOCK,
  type Activation, type GluLayout, type LinearArgs, type ReferenceArgs, type WLayout,
} from "./linear.ts"

/** Bindings: x, W, y, then b (only in BIAS variants), then the residual (only in RESIDUAL variants). */
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
    uniforms: packUniforms([["u32", args.M], ["u32", N], ["u32", args.K], ["u32", args.xOffset ?? 0], ["u32", args.yOffset ?? 0], ["u32", args.residualOffset ?? 0], ["u32", args.N]]),
    workgroups: [gx, gy, 1],
  })
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
