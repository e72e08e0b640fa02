import { grid, packUniforms, type Binding, type DType, type GpuDevice, type KernelSpec } from "@djinn/gpu"
import { wgsl } from "../source.ts"

/** Bindings: x, gamma, beta, y, then res in the ADD variant. */
export const spec: KernelSpec = { id: "layernorm", wgsl: wgsl("layernorm"), storage: ["read", "read", "read", "read_write", "read"], uniforms: true }

export interface LayerNormArgs {
  /** [rows, cols] from element xOffset. */
  readonly x: Binding
  /** [cols]. */
  readonly gamma: Binding
  /** [cols]. */
  readonly beta: Binding
  /** [rows, cols] from element yOffset. */
  readonly y: Binding
  readonly rows: number
  readonly cols: number
  readonly eps: number
  /** Elements before row 0 (e.g. only the last token's row at decode, when it does not start 256-byte aligned). */
  readonly xOffset?: number
  readonly yOffset?: number
  /** Normalizes x + res instead of x (each sum rounded to the dtype, as the add kernel stores it): [rows, cols]. */
  readonly res?: Binding
  readonly resOffset?: number
  readonly dtype?: DType
}

export const encode = (gpu: GpuDevice, args: LayerNormArgs): void => {
  const add = args.res !== undefined
  const pipeline = gpu.pipeline(spec.id, { dtype: args.dtype ?? "f32", defines: add ? ["ADD"] : [] })
  gpu.dispatch({
    pipeline,
    bindings: add ? [args.x, args.gamma, args.beta, args.y, args.res!] : [args.x, args.gamma, args.beta, args.y],
    uniforms: packUniforms([
      ["u32", args.rows], ["u32", args.cols], ["f32", args.eps], ["u32", args.xOffset ?? 0], ["u32", args.yOffset ?? 0],
      ["u32", args.resOffset ?? 0],
    ]),
    workgroups: grid(args.rows),
  })
}

/** CPU reference in float64 (population variance, like torch.nn.LayerNorm). */
export const reference = (x: Float32Array, gamma: Float32Array, beta: Float32Array, rows: number, cols: number, eps: number): Float32Array => {
  const y = new Float32Array(rows * cols)
  for (let r = 0; r < rows; r++) {
    let mean = 0
    for (let c = 0; c < cols; c++) mean += x[r * cols + c]
    mean /= cols
    let v = 0
    for (let c = 0; c < cols; c++) v += (x[r * cols + c] - mean) ** 2
    const rstd = 1 / Math.sqrt(v / cols + eps)
    for (let c = 0; c < cols; c++) y[r * cols + c] = (x[r * cols + c] - mean) * rstd * gamma[c] + beta[c]
  }
  return y
}
