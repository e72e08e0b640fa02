import { envVar, grid, type Binding, type DType, type GpuDevice, type KernelSpec } from "@djinn/gpu"
import { wgsl } from "../source.ts"

/** Bindings: x, y, then (QKV) k and v. */
export const spec: KernelSpec = { id: "rope", wgsl: wgsl("rope"), storage: ["read", "read_write", "read_write", "read_write"], uniforms: true }

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

/** inv_freq as the uniform block's tail (MAX_HALF floats), per (headDim, theta): computed once, not per dispatch. */
const freqTables = new Map<string, Float32Array>()
const freqTable = (headDim: number, theta: number): Float32Array => {
  const key = `${headDim}|${theta}`
  let table = freqTables.get(key)
  if (table === undefined) {
    table = new Float32Array(MAX_HALF)
    table.set(invFreq(headDim, theta))
    freqTables.set(key, table)
  }
  return table
}

const HEADER = 16

/** The uniform block: 16 u32 fields in Params order, then inv_freq. */
const uniforms = (header: readonly number[], headDim: number, theta: number): Uint8Array => {
  const u = new Uint32Array(HEADER + MAX_HALF)
  u.set(header)
  new Float32Array(u.buffer, HEADER * 4).set(freqTable(headDim, theta))
  return new Uint8Array(u.buffer)
}

/** DJINN_ROPE_VEC=0 keeps the scalar variants (A/B runs). */
const VEC_OFF = envVar("DJINN_ROPE_VEC") === "0"

/**
 * The vectorised variant (VEC: eight pairs a thread, 16-byte loads and stores) takes f16 heads of a multiple of 16
 * values whose offsets and strides (in elements) are multiples of 8, in 16-byte-aligned bindings.
 */
const vectorFits = (dtype: DType | undefined, headDim: number, elements: readonly (number | undefined)[], bindings: readonly Binding[]): boolean =>
  dtype === "f16" && headDim % 16 === 0 && elements.every((e) => (e ?? 0) % 8 === 0) && bindings.every((b) => (b.offset ?? 0) % 16 === 0)

export const vectorOf = (a: RopeArgs): boolean => vectorFits(a.dtype, a.headDim, [a.stride, a.xOffset, a.yOffset, a.yStride], [a.x, a.y])
export const vectorOfQkv = (a: RopeQkvArgs): boolean =>
  vectorFits(a.dtype, a.headDim, [a.stride, a.xOffset, a.qOffset, a.qStride, a.kOffset, a.kStride, a.vOffset, a.vStride], [a.x, a.q, a.k, a.v])

/** A dispatch's pipeline defines and thread count (one a pair, or one per eight with VEC), once its shape is checked. */
const variantOf = (a: RopeShape | RopeQkvShape, vector: boolean, fits: boolean, pairs: number, defines: string[]) => {
  check(a)
  if (vector && !fits) throw new Error("rope: the vector variant needs f16, headDim a multiple of 16, offsets and strides multiples of 8 and 16-byte-aligned bindings")
  return { defines: vector ? [...defines, "VEC"] : defines, n: vector ? pairs / 8 : pairs }
}

export const encode = (gpu: GpuDevice, args: RopeArgs, vector = !VEC_OFF && vectorOf(args)): void => {
  const half = args.headDim / 2
  const { defines, n } = variantOf(args, vector, vectorOf(args), args.T * args.heads * half, [])
  const pipeline = gpu.pipeline(spec.id, { dtype: args.dtype ?? "f32", defines })
  const workgroups = grid(Math.ceil(n / WG))
  const header = [
    args.T, args.heads, half, args.stride, args.xOffset ?? 0, args.yOffset ?? 0, args.yStride ?? args.stride, args.pos0,
    n, workgroups[0] * WG, 0, 0, 0, 0, 0, 0,
  ]
  gpu.dispatch({ pipeline, bindings: [args.x, args.y], uniforms: uniforms(header, args.headDim, args.theta), workgroups })
}

/** Where q, k and v of a fused projection go: rows of each, from an element offset, `stride` elements apart. */
export interface RopeQkvShape {
  readonly T: number
  /** Query heads, and key / value heads (GQA: fewer). */
  readonly heads: number
  readonly kvHeads: number
  /** Even. */
  readonly headDim: number
  /** Elements between consecutive tokens of the fused x rows [q | k | v]. */
  readonly stride: number
  /** Element offset of token 0's q within x's binding. Default 0. */
  readonly xOffset?: number
  readonly qOffset?: number
  readonly qStride: number
  readonly kOffset?: number
  readonly kStride: number
  readonly vOffset?: number
  readonly vStride: number
  readonly pos0: number
  readonly theta: number
}

export interface RopeQkvArgs extends RopeQkvShape {
  readonly x: Binding
  /** Rotated q; rotated k and v as they are (e.g. into the KV cache). k and v may share a buffer; x may not. */
  readonly q: Binding
  readonly k: Binding
  readonly v: Binding
  readonly dtype?: DType
}

/** One dispatch for a fused q|k|v projection: RoPE on q (into q) and k (into k), v copied into v. */
export const encodeQkv = (gpu: GpuDevice, args: RopeQkvArgs, vector = !VEC_OFF && vectorOfQkv(args)): void => {
  const half = args.headDim / 2
  const { defines, n } = variantOf(args, vector, vectorOfQkv(args), args.T * (args.heads + 2 * args.kvHeads) * half, ["QKV"])
  const pipeline = gpu.pipeline(spec.id, { dtype: args.dtype ?? "f32", defines })
  const workgroups = grid(Math.ceil(n / WG))
  const header = [
    args.T, args.heads, half, args.stride, args.xOffset ?? 0, args.qOffset ?? 0, args.qStride, args.pos0,
    n, workgroups[0] * WG, args.kvHeads, 0, args.kOffset ?? 0, args.kStride, args.vOffset ?? 0, args.vStride,
  ]
  gpu.dispatch({ pipeline, bindings: [args.x, args.q, args.k, args.v], uniforms: uniforms(header, args.headDim, args.theta), workgroups })
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

/** CPU reference of `encodeQkv`: q, k and v, each from element 0 through its last written element. */
export const referenceQkv = (x: Float32Array, a: RopeQkvShape): { q: Float32Array; k: Float32Array; v: Float32Array } => {
  const xOff = a.xOffset ?? 0
  const kvD = a.kvHeads * a.headDim
  const common = { T: a.T, headDim: a.headDim, stride: a.stride, pos0: a.pos0, theta: a.theta }
  const q = reference(x, { ...common, heads: a.heads, xOffset: xOff, yOffset: a.qOffset, yStride: a.qStride })
  const k = reference(x, { ...common, heads: a.kvHeads, xOffset: xOff + a.heads * a.headDim, yOffset: a.kOffset, yStride: a.kStride })
  const vOff = a.vOffset ?? 0
  const v = new Float32Array(vOff + (a.T - 1) * a.vStride + kvD)
  for (let t = 0; t < a.T; t++) {
    const from = xOff + t * a.stride + (a.heads + a.kvHeads) * a.headDim
    v.set(x.subarray(from, from + kvD), vOff + t * a.vStride)
  }
  return { q, k, v }
}
