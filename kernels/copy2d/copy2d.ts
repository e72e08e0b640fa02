import { grid, u32s, type Binding, type DType, type GpuDevice, type KernelSpec } from "@djinn/gpu"
import { wgsl } from "../source.ts"

export const spec: KernelSpec = { id: "copy2d", wgsl: wgsl("copy2d"), storage: ["read", "read_write"], uniforms: true }

export interface Copy2dArgs {
  readonly src: Binding
  readonly dst: Binding
  readonly rows: number
  readonly cols: number
  /** Elements between consecutive rows of src / dst. */
  readonly srcStride: number
  readonly dstStride: number
  /** Elements before row 0 of src / dst (for starts that are not 256-byte aligned). */
  readonly srcOffset?: number
  readonly dstOffset?: number
  readonly dtype?: DType
}

const WG = 256

export const encode = (gpu: GpuDevice, args: Copy2dArgs): void => {
  const { rows, cols } = args
  if (rows * cols >= 2 ** 32) throw new Error(`copy2d: ${rows}×${cols} elements exceed u32 indexing`)
  const pipeline = gpu.pipeline(spec.id, { dtype: args.dtype ?? "f32" })
  const workgroups = grid(Math.ceil((rows * cols) / WG))
  gpu.dispatch({
    pipeline,
    bindings: [args.src, args.dst],
    uniforms: u32s(rows, cols, args.srcStride, args.dstStride, args.srcOffset ?? 0, args.dstOffset ?? 0, workgroups[0] * WG, 0),
    workgroups,
  })
}

/** CPU reference: copies into (a copy of) `dst`, leaving the elements it does not write as they were. */
export const reference = (
  src: Float32Array,
  dst: Float32Array,
  a: { rows: number; cols: number; srcStride: number; dstStride: number; srcOffset?: number; dstOffset?: number },
): Float32Array => {
  const out = dst.slice()
  for (let r = 0; r < a.rows; r++) {
    for (let c = 0; c < a.cols; c++) out[(a.dstOffset ?? 0) + r * a.dstStride + c] = src[(a.srcOffset ?? 0) + r * a.srcStride + c]
  }
  return out
}
