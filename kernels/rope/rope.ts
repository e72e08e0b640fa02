import { grid, packUniforms, type Binding, type DType, type GpuDevice, type KernelSpec, type UniformField } from "@djinn/gpu"
import { wgsl } from "../source.ts"

export const spec: KernelSpec = { id: "rope", wgsl: wgsl("rope"), storage: ["read", "read_write"], uniforms: true }

/** The uniform block holds inv_freq for up to this many rotation pairs (headDim ≤ 512). */
const MAX_HALF = 256
const WG = 256

export interface RopeShape {
  /** Tokens. */
  readonly T: number
  readonly heads: number
  /** Even. */
  readonly headDim: number
  /** Elements between consecutive tokens of x (e.g. the row length of a fused QKV buffer). */
  readonly stride: number
  /** Element offset of token 0 of x within its binding (e.g. where K starts in a fused QKV row). Default 0. */
  readonly xOffset?: number
  /** Element offset of token 0 of y within its binding. Default 0. */
  readonly yOffset?: number
  /** Elements between consecutive tokens of y. Default: `stride` (y laid out like x). */
  readonly yStride?: number
  /** Absolute position of token 0. */
  readonly pos0: number
  /** RoPE base (Llama: 10000). */
  readonly theta: number
}

export interface RopeArgs extends RopeShape {
  /** [T, stride] from xOffset: heads × headDim values per token. */
  readonly x: Binding
  /** A different buffer range from x; only the rotated head values are written. */
  readonly y: Binding
  readonly dtype?: DType
}

/** inv_freq[i] = 1 / theta^(2i/headDim), rounded the way transformers' f32 `LlamaRotaryEmbedding` rounds it. */
export const invFreq = (headDim: number, theta: number): Float32Array => {
  const out = new Float32Array(headDim / 2)
  for (let i = 0; i < out.length; i++) out[i] = Math.fround(1 / Math.fround(theta ** Math.fround((2 * i) / headDim)))
  return out
}

const check = (a: RopeShape): void => {
  if (a.headDim % 2 !== 0 || a.headDim < 2) throw new Error(`rope: headDim ${a.headDim} must be even and positive`)
  if (a.headDim / 2 > MAX_HALF) throw new Error(`rope: headDim ${a.headDim} exceeds ${2 * MAX_HALF}`)
  if (a.pos0 < 0 || !Number.isInteger(a.pos0)) throw new Error(`rope: pos0 ${a.pos0} must be a non-negative integer`)
}

export const encode = (gpu: GpuDevice, args: RopeArgs): void => {
  check(args)
  const half = args.headDim / 2
  const n = args.T * args.heads * half
  const pipeline = gpu.pipeline(spec.id, { dtype: args.dtype ?? "f32" })
  const workgroups = grid(Math.ceil(n / WG))
  const fields: UniformField[] = [
    ["u32", args.T], ["u32", args.heads], ["u32", half], ["u32", args.stride],
    ["u32", args.xOffset ?? 0], ["u32", args.yOffset ?? 0], ["u32", args.yStride ?? args.stride], ["u32", args.pos0],
    ["u32", n], ["u32", workgroups[0] * WG], ["u32", 0], ["u32", 0],
  ]
  const freqs = invFreq(args.headDim, args.theta)
  for (let i = 0; i < MAX_HALF; i++) fields.push(["f32", i < half ? freqs[i] : 0])
  gpu.dispatch({ pipeline, bindings: [args.x, args.y], uniforms: packUniforms(fields), workgroups })
}

/**
 * CPU reference, float64 trig. Angles are `fround(pos · invFreq)` as transformers computes them in f32, or with
 * `exactAngles` the float64 pos · theta^(−2i/headDim). Returns y from element 0 through its last written element,
 * zero where nothing is written.
 */
export const reference = (x: Float32Array, a: RopeShape, exactAngles = false): Float32Array => {
  check(a)
  const half = a.headDim / 2
  const xOff = a.xOffset ?? 0, yOff = a.yOffset ?? 0, yStride = a.yStride ?? a.stride
  const y = new Float32Array(yOff + (a.T - 1) * yStride + a.heads * a.headDim)
  const freqs = invFreq(a.headDim, a.theta)
  for (let t = 0; t < a.T; t++) {
    const pos = a.pos0 + t
    for (let h = 0; h < a.heads; h++) {
      for (let i = 0; i < half; i++) {
        const angle = exactAngles ? pos * a.theta ** ((-2 * i) / a.headDim) : Math.fround(pos * freqs[i])
        const c = Math.cos(angle), s = Math.sin(angle)
        const xi = xOff + t * a.stride + h * a.headDim + i
        const yi = yOff + t * yStride + h * a.headDim + i
        const x1 = x[xi], x2 = x[xi + half]
        y[yi] = x1 * c - x2 * s
        y[yi + half] = x2 * c + x1 * s
      }
    }
  }
  return y
}
