import { grid, u32s, type Binding, type DType, type GpuDevice, type KernelSpec } from "@djinn/gpu"
import { wgsl } from "../source.ts"

export const spec: KernelSpec = { id: "argmax", wgsl: wgsl("argmax"), storage: ["read", "read_write"], uniforms: true }

export interface ArgmaxArgs {
  /** [rows, cols] from element xOffset. */
  readonly x: Binding
  /** i32 [rows] from element outOffset. */
  readonly out: Binding
  readonly rows: number
  readonly cols: number
  readonly xOffset?: number
  readonly outOffset?: number
  readonly dtype?: DType
}

/** Threads per row: vocabulary-sized rows (decode's greedy sampling) get a full workgroup of 1024 where the device
 * allows one (Dawn's null backend and some adapters stop at 256), others 256; always a power of two. */
export const workgroupSize = (cols: number, limits: Readonly<Record<string, number>> = {}): number => {
  const cap = Math.min(limits.maxComputeInvocationsPerWorkgroup ?? 256, limits.maxComputeWorkgroupSizeX ?? 256)
  let wg = cols >= 8192 ? 1024 : 256
  while (wg > cap && wg > 1) wg /= 2
  return wg
}

export const encode = (gpu: GpuDevice, args: ArgmaxArgs): void => {
  const pipeline = gpu.pipeline(spec.id, { dtype: args.dtype ?? "f32", constants: { WG: workgroupSize(args.cols, gpu.adapter.limits) } })
  gpu.dispatch({
    pipeline,
    bindings: [args.x, args.out],
    uniforms: u32s(args.rows, args.cols, args.xOffset ?? 0, args.outOffset ?? 0),
    workgroups: grid(args.rows),
  })
}

/** CPU reference: first index of the maximum, NaN as -inf, -1 for an empty row. */
export const reference = (x: Float32Array, rows: number, cols: number, xOffset = 0): Int32Array => {
  const out = new Int32Array(rows)
  for (let r = 0; r < rows; r++) {
    let best = -1
    let bestValue = -Infinity
    for (let c = 0; c < cols; c++) {
      let v = x[xOffset + r * cols + c]
      if (Number.isNaN(v)) v = -Infinity
      if (best < 0 || v > bestValue) { best = c; bestValue = v }
    }
    out[r] = best
  }
  return out
}
