import { grid, u32s, type Binding, type DType, type GpuDevice, type KernelSpec } from "@djinn/gpu"
import { wgsl } from "../source.ts"

/** Bindings: x, y, then mask only in the MASK variant. */
export const spec: KernelSpec = { id: "softmax", wgsl: wgsl("softmax"), storage: ["read", "read_write", "read"], uniforms: true }

export interface SoftmaxArgs {
  /** [rows, cols] from element xOffset. */
  readonly x: Binding
  /** [rows, cols] from element yOffset. */
  readonly y: Binding
  readonly rows: number
  readonly cols: number
  /** Mask columns after the row's query position (r % rowsPerBatch) + queryOffset. */
  readonly causal?: boolean
  readonly queryOffset?: number
  /** Rows of one batch (default: all rows are one batch). */
  readonly rowsPerBatch?: number
  /** i32 [batch, cols]: 1 keep, 0 masked; row r uses batch r / rowsPerBatch. */
  readonly mask?: Binding
  readonly xOffset?: number
  readonly yOffset?: number
  readonly dtype?: DType
}

export const encode = (gpu: GpuDevice, args: SoftmaxArgs): void => {
  const rowsPerBatch = args.rowsPerBatch ?? Math.max(args.rows, 1)
  if (rowsPerBatch < 1) throw new Error(`softmax: rowsPerBatch must be ≥ 1, got ${rowsPerBatch}`)
  const hasMask = args.mask !== undefined
  const pipeline = gpu.pipeline(spec.id, { dtype: args.dtype ?? "f32", defines: hasMask ? ["MASK"] : [] })
  gpu.dispatch({
    pipeline,
    bindings: hasMask ? [args.x, args.y, args.mask!] : [args.x, args.y],
    uniforms: u32s(args.rows, args.cols, args.causal === true ? 1 : 0, args.queryOffset ?? 0, rowsPerBatch, args.xOffset ?? 0, args.yOffset ?? 0, 0),
    workgroups: grid(args.rows),
  })
}

/** CPU reference in float64, with the kernel's masking rules. */
export const reference = (
  x: Float32Array,
  a: { rows: number; cols: number; causal?: boolean; queryOffset?: number; rowsPerBatch?: number; mask?: Int32Array },
): Float32Array => {
  const { rows, cols } = a
  const perBatch = a.rowsPerBatch ?? Math.max(rows, 1)
  const y = new Float32Array(rows * cols)
  for (let r = 0; r < rows; r++) {
    const q = (r % perBatch) + (a.queryOffset ?? 0)
    const b = Math.floor(r / perBatch)
    const keep = (c: number) => (a.causal !== true || c <= q) && (a.mask === undefined || a.mask[b * cols + c] !== 0)
    let m = -Infinity
    for (let c = 0; c < cols; c++) if (keep(c)) m = Math.max(m, x[r * cols + c])
    let s = 0
    for (let c = 0; c < cols; c++) if (keep(c)) s += Math.exp(x[r * cols + c] - m)
    for (let c = 0; c < cols; c++) y[r * cols + c] = keep(c) && s > 0 ? Math.exp(x[r * cols + c] - m) / s : 0
  }
  return y
}
