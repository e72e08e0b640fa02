import { envPositiveInt, envVar, grid, packUniforms, type Binding, type DType, type GpuDevice, type KernelSpec } from "@djinn/gpu"
import { wgsl } from "../source.ts"

export const spec: KernelSpec = { id: "rmsnorm", wgsl: wgsl("rmsnorm"), storage: ["read", "read", "read_write"], uniforms: true }

export interface RmsNormArgs {
  /** [rows, cols], contiguous. */
  readonly x: Binding
  /** [cols]. */
  readonly weight: Binding
  /** [rows, cols]; a different buffer range from x. */
  readonly y: Binding
  readonly rows: number
  readonly cols: number
  readonly eps: number
  readonly dtype?: DType
}

/** The VEC variant's reach: four 16-byte pieces of eight halves for each of its 256 threads. */
const VEC_MAX_COLS = 4 * 256 * 8

/** f16 rows of whole 16-byte pieces, every binding 16-byte aligned: the vectorised variant. */
export const vectorOf = (args: RmsNormArgs): boolean =>
  args.dtype === "f16" && args.cols % 8 === 0 && args.cols <= VEC_MAX_COLS &&
  [args.x, args.weight, args.y].every((b) => (b.offset ?? 0) % 16 === 0)

/** DJINN_RMSNORM_VEC=0 keeps the scalar variant (A/B runs). */
const VEC_OFF = envVar("DJINN_RMSNORM_VEC") === "0"

/**
 * The vector variant's workgroup: the fewest threads (a power of two, 32 to 256) whose four pieces each cover the row
 * (Llama-2-7B's 4096: 128), so a row's reduction takes as few barrier rounds as it can; DJINN_RMSNORM_WG fixes it
 * (A/B runs; it must still cover the row).
 */
const VEC_WG = envPositiveInt("DJINN_RMSNORM_WG", 0)
export const vectorWorkgroup = (cols: number): number => {
  if (VEC_WG >= 32 && VEC_WG <= 256 && (VEC_WG & (VEC_WG - 1)) === 0) return VEC_WG
  let wg = 32
  while (wg * 32 < cols && wg < 256) wg *= 2
  return wg
}

export const encode = (gpu: GpuDevice, args: RmsNormArgs, vector = !VEC_OFF && vectorOf(args), wg = vector ? vectorWorkgroup(args.cols) : 256): void => {
  if (args.cols < 1) throw new Error(`rmsnorm: cols ${args.cols} must be positive`)
  if (vector && !vectorOf(args)) throw new Error("rmsnorm: the vector variant needs f16, cols a multiple of 8 up to 8192 and 16-byte-aligned bindings")
  if (vector && wg * 32 < args.cols) throw new Error(`rmsnorm: a workgroup of ${wg} cannot hold a row of ${args.cols}`)
  const pipeline = gpu.pipeline(spec.id, { dtype: args.dtype ?? "f32", defines: vector ? ["VEC"] : [], constants: { WG: wg } })
  const workgroups = grid(args.rows)
  gpu.dispatch({
    pipeline,
    bindings: [args.x, args.weight, args.y],
    uniforms: packUniforms([["u32", args.rows], ["u32", args.cols], ["f32", args.eps], ["u32", workgroups[0]]]),
    workgroups,
  })
}

/** CPU reference (float64 arithmetic). */
export const reference = (x: Float32Array, weight: Float32Array, rows: number, cols: number, eps: number): Float32Array => {
  const y = new Float32Array(rows * cols)
  for (let r = 0; r < rows; r++) {
    let s = 0
    for (let c = 0; c < cols; c++) s += x[r * cols + c] ** 2
    const inv = 1 / Math.sqrt(s / cols + eps)
    for (let c = 0; c < cols; c++) y[r * cols + c] = x[r * cols + c] * inv * weight[c]
  }
  return y
}
