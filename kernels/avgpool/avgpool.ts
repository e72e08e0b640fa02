import { grid, u32s, type Binding, type DType, type GpuDevice, type KernelSpec } from "@djinn/gpu"
import { wgsl } from "../source.ts"

export const spec: KernelSpec = { id: "avgpool", wgsl: wgsl("avgpool"), storage: ["read", "read_write"], uniforms: true }

export interface AvgPoolArgs {
  /** [N, C, H, W]. */
  readonly x: Binding
  /** [N, C]; a different buffer range from x. */
  readonly y: Binding
  readonly N: number
  readonly C: number
  readonly H: number
  readonly W: number
  readonly dtype?: DType
}

export const encode = (gpu: GpuDevice, args: AvgPoolArgs): void => {
  const planes = args.N * args.C
  const pipeline = gpu.pipeline(spec.id, { dtype: args.dtype ?? "f32" })
  const workgroups = grid(planes)
  gpu.dispatch({ pipeline, bindings: [args.x, args.y], uniforms: u32s(planes, args.H * args.W, workgroups[0], 0), workgroups })
}

/** CPU reference (float64 sums). */
export const reference = (x: Float32Array, N: number, C: number, H: number, W: number): Float32Array => {
  const hw = H * W
  const y = new Float32Array(N * C)
  for (let plane = 0; plane < N * C; plane++) {
    let s = 0
    for (let i = 0; i < hw; i++) s += x[plane * hw + i]
    y[plane] = s / hw
  }
  return y
}
