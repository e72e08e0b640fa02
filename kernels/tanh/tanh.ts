import { grid, u32s, type Binding, type DType, type GpuDevice, type KernelSpec } from "@djinn/gpu"
import { wgsl } from "../source.ts"

export const spec: KernelSpec = { id: "tanh", wgsl: wgsl("tanh"), storage: ["read", "read_write"], uniforms: true }

export interface TanhArgs {
  readonly x: Binding
  /** A different buffer range from x. */
  readonly y: Binding
  readonly n: number
  readonly dtype?: DType
}

const WG = 256

export const encode = (gpu: GpuDevice, args: TanhArgs): void => {
  const pipeline = gpu.pipeline(spec.id, { dtype: args.dtype ?? "f32" })
  const workgroups = grid(Math.ceil(args.n / WG))
  gpu.dispatch({ pipeline, bindings: [args.x, args.y], uniforms: u32s(args.n, workgroups[0] * WG, 0, 0), workgroups })
}

/** CPU reference (float64). */
export const reference = (x: Float32Array): Float32Array => x.map(Math.tanh)
