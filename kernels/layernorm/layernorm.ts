import { grid, packUniforms, type Binding, type DType, type GpuDevice, type KernelSpec } from "@djinn/gpu"
import { wgsl } from "../source.ts"

/** Bindings: x (f32 split-K partials in PARTIALS variants), gamma, beta, y, then res (ADD), then bias (BIAS). */
export const spec: KernelSpec = { id: "layernorm", wgsl: wgsl("layernorm"), storage: ["read", "read", "read", "read_write", "read", "read"], uniforms: true }

/**
 * A GEMM's output left as f32 split-K partials (`matmul.linearPartials`), normalized with its reduce pass fused: the
 * row's input is E(Σ_z x[z] + bias), as matmul_reduce would have stored it.
 */
export interface LayerNormPartials {
  /** Partials [splits, rows, cols] in x (from element xOffset, in f32 elements). */
  readonly splits: number
  /** [cols], added to the partials' sum. */
  readonly bias?: Binding
}

export interface LayerNormArgs {
  /** [rows, cols] from element xOffset; with `partials`, f32 [splits, rows, cols]. */
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
  /** Normalizes x + res instead of x (each sum rounded to the dtype, as the add kernel stores it): [resRows, cols]. */
  readonly res?: Binding
  readonly resOffset?: number
  /** Rows of res; row r adds res row r mod resRows (default rows; 1 broadcasts one row to every row). */
  readonly resRows?: number
  readonly partials?: LayerNormPartials
  readonly dtype?: DType
}

/** Variant defines of a call. */
export const definesOf = (args: Pick<LayerNormArgs, "res" | "partials">): string[] => [
  ...(args.res !== undefined ? ["ADD"] : []),
  ...(args.partials !== undefined ? ["PARTIALS"] : []),
  ...(args.partials?.bias !== undefined ? ["BIAS"] : []),
]

export const encode = (gpu: GpuDevice, args: LayerNormArgs): void => {
  const resRows = args.resRows ?? args.rows
  if (args.res !== undefined && (!Number.isInteger(resRows) || resRows < 1)) throw new Error(`layernorm: resRows must be a positive integer, got ${resRows}`)
  const splits = args.partials?.splits ?? 1
  if (!Number.isInteger(splits) || splits < 1) throw new Error(`layernorm: splits must be a positive integer, got ${splits}`)
  const bindings = [args.x, args.gamma, args.beta, args.y]
  if (args.res !== undefined) bindings.push(args.res)
  if (args.partials?.bias !== undefined) bindings.push(args.partials.bias)
  gpu.dispatch({
    pipeline: gpu.pipeline(spec.id, { dtype: args.dtype ?? "f32", defines: definesOf(args) }),
    bindings,
    uniforms: packUniforms([
      ["u32", args.rows], ["u32", args.cols], ["f32", args.eps], ["u32", args.xOffset ?? 0], ["u32", args.yOffset ?? 0],
      ["u32", args.resOffset ?? 0], ["u32", Math.max(1, resRows)], ["u32", splits],
    ]),
    workgroups: grid(args.rows),
  })
}

/** CPU reference in float64 (population variance, like torch.nn.LayerNorm). */
export const reference = (x: ArrayLike<number>, gamma: ArrayLike<number>, beta: ArrayLike<number>, rows: number, cols: number, eps: number): Float32Array => {
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
