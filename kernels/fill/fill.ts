import { grid, packUniforms, type Binding, type DType, type GpuDevice, type KernelSpec } from "@djinn/gpu"
import { wgsl } from "../source.ts"

export const spec: KernelSpec = { id: "fill", wgsl: wgsl("fill"), storage: ["read_write"], uniforms: true }

export interface FillArgs {
  readonly y: Binding
  /** Values written: y[offset … offset+n). */
  readonly n: number
  /** Element offset of the first value. */
  readonly offset?: number
  /** u32 state of the generator; value i depends only on (seed, i). */
  readonly seed: number
  /** Values are uniform in [center − scale, center + scale). */
  readonly center: number
  readonly scale: number
  readonly dtype?: DType
}

const WG = 256

export const encode = (gpu: GpuDevice, args: FillArgs): void => {
  if (!Number.isInteger(args.n) || args.n < 0 || args.n >= 2 ** 32) throw new Error(`fill: n ${args.n} must be a u32`)
  if (args.n === 0) return
  const pipeline = gpu.pipeline(spec.id, { dtype: args.dtype ?? "f32" })
  const workgroups = grid(Math.ceil(args.n / WG))
  gpu.dispatch({
    pipeline,
    bindings: [args.y],
    uniforms: packUniforms([
      ["u32", args.n], ["u32", args.seed >>> 0], ["f32", args.center], ["f32", args.scale],
      ["u32", args.offset ?? 0], ["u32", workgroups[0] * WG], ["u32", 0], ["u32", 0],
    ]),
    workgroups,
  })
}

/** CPU reference in float64: the same counter-based mulberry32 stream. */
export const reference = (n: number, seed: number, center: number, scale: number): Float32Array => {
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) {
    let t = ((seed >>> 0) + Math.imul(i + 1, 0x6d2b79f5)) >>> 0
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296
    out[i] = center + 2 * scale * (u - 0.5)
  }
  return out
}
