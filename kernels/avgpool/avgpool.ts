import { grid, u32s, type Binding, type DType, type GpuDevice, type KernelSpec } from "@djinn/gpu"
import { wgsl } from "../source.ts"

export const spec: KernelSpec = { id: "avgpool", wgsl: wgsl("avgpool"), storage: ["read", "read_write"], uniforms: true }

export interface AvgPoolArgs {
  /** [N, C, H, W], or [N, H, W, C] with layout "nhwc". */
  readonly x: Binding
  /** [N, C]; a different buffer range from x. */
  readonly y: Binding
  readonly N: number
  readonly C: number
  readonly H: number
  readonly W: number
  readonly dtype?: DType
  readonly layout?: "nchw" | "nhwc"
}

/** Threads of a workgroup (the WGSL's WG). */
const WG = 64

export const encode = (gpu: GpuDevice, args: AvgPoolArgs): void => {
  const planes = args.N * args.C
  const nhwc = args.layout === "nhwc"
  const pipeline = gpu.pipeline(spec.id, { dtype: args.dtype ?? "f32", defines: nhwc ? ["NHWC"] : [] })
  // NCHW: a workgroup per plane; NHWC: a thread per (n, c).
  const workgroups = grid(nhwc ? Math.ceil(planes / WG) : planes)
  gpu.dispatch({ pipeline, bindings: [args.x, args.y], uniforms: u32s(planes, args.H * args.W, workgroups[0], args.C), workgroups })
}

/** CPU reference (float64 sums), y [N, C] from x in either layout. */
export const reference = (x: Float32Array, N: number, C: number, H: number, W: number, layout: "nchw" | "nhwc" = "nchw"): Float32Array => {
  const hw = H * W
  const y = new Float32Array(N * C)
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      let s = 0
      for (let i = 0; i < hw; i++) s += x[layout === "nhwc" ? (n * hw + i) * C + c : (n * C + c) * hw + i]
      y[n * C + c] = s / hw
    }
  }
  return y
}
