import { grid, u32s, type Binding, type DType, type GpuDevice, type KernelSpec } from "@djinn/gpu"
import { wgsl } from "../source.ts"

export const spec: KernelSpec = { id: "silu_mul", wgsl: wgsl("silu_mul"), storage: ["read", "read", "read_write"], uniforms: true }

export interface SiluMulArgs {
  readonly gate: Binding
  readonly up: Binding
  /** n elements, compact; a different buffer range from gate and up. */
  readonly y: Binding
  readonly n: number
  /** Element offsets of the first gate / up value within their bindings. Default 0. */
  readonly gateOffset?: number
  readonly upOffset?: number
  /** gate and up as rows of `cols` elements, `stride` apart (a fused gate_up output). Default: one row of n. */
  readonly cols?: number
  readonly stride?: number
  readonly dtype?: DType
}

const WG = 256

export const encode = (gpu: GpuDevice, args: SiluMulArgs): void => {
  const cols = args.cols ?? Math.max(args.n, 1)
  if (args.n % cols !== 0) throw new Error(`silu_mul: cols ${cols} does not divide n ${args.n}`)
  const pipeline = gpu.pipeline(spec.id, { dtype: args.dtype ?? "f32" })
  const workgroups = grid(Math.ceil(args.n / WG))
  gpu.dispatch({
    pipeline,
    bindings: [args.gate, args.up, args.y],
    uniforms: u32s(args.n, cols, args.stride ?? cols, args.gateOffset ?? 0, args.upOffset ?? 0, workgroups[0] * WG, 0, 0),
    workgroups,
  })
}

/** CPU reference (float64) over compact gate and up of equal length. */
export const reference = (gate: Float32Array, up: Float32Array): Float32Array =>
  gate.map((g, i) => (g / (1 + Math.exp(-g))) * up[i])
