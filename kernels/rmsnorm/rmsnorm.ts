import { grid, packUniforms, type Binding, type DType, type GpuDevice, type KernelSpec } from "@djinn/gpu"
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

export const encode = (gpu: GpuDevice, args: RmsNormArgs): void => {
  if (args.cols < 1) throw new Error(`rmsnorm: cols ${args.cols} must be positive`)
  const pipeline = gpu.pipeline(spec.id, { dtype: args.dtype ?? "f32" })
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
