import { grid, packUniforms, type Binding, type DType, type GpuDevice, type KernelSpec } from "@djinn/gpu"
import { wgsl } from "../source.ts"

/** Bindings: q, k, v, out, then mask only in the MASK variant. q, k, v may be one buffer (all read-only). */
export const spec: KernelSpec = { id: "attention", wgsl: wgsl("attention"), storage: ["read", "read", "read", "read_write", "read"], uniforms: true }

/** Shapes and layout (everything but the buffers). Strides and offsets are in elements. */
export interface AttentionShape {
  readonly B: number
  /** Queries per batch. */
  readonly T: number
  /** Keys per batch. */
  readonly S: number
  /** Query heads. */
  readonly H: number
  /** KV heads; H % Hkv == 0 (grouped-query attention). */
  readonly Hkv: number
  readonly headDim: number
  /** Elements between consecutive tokens' rows. */
  readonly qStride: number
  readonly kStride: number
  readonly vStride: number
  readonly outStride: number
  readonly qOffset?: number
  readonly kOffset?: number
  readonly vOffset?: number
  readonly outOffset?: number
  /** Elements between batches: default T·qStride, S·kStride (S·vStride for v), T·outStride. */
  readonly qBatchStride?: number
  readonly kvBatchStride?: number
  readonly outBatchStride?: number
  readonly causal: boolean
  /** Absolute position of query 0: with causal, query t sees keys 0..queryPos0 + t (default 0). */
  readonly queryPos0?: number
  readonly scale: number
}

export interface AttentionArgs extends AttentionShape {
  readonly q: Binding
  readonly k: Binding
  readonly v: Binding
  readonly out: Binding
  /** i32 [B, S]: 1 keep, 0 masked (padding). */
  readonly mask?: Binding
  readonly dtype?: DType
}

/** Largest head size: one thread per output element of a head. */
export const MAX_HEAD_DIM = 256

const workgroupSize = (headDim: number): number => (headDim <= 128 ? 128 : 256)

export const encode = (gpu: GpuDevice, args: AttentionArgs): void => {
  const { B, T, S, H, Hkv, headDim } = args
  if (headDim < 1 || headDim > MAX_HEAD_DIM) throw new Error(`attention: headDim ${headDim} outside 1..${MAX_HEAD_DIM}`)
  if (Hkv < 1 || H % Hkv !== 0) throw new Error(`attention: H ${H} is not a multiple of Hkv ${Hkv}`)
  const hasMask = args.mask !== undefined
  const pipeline = gpu.pipeline(spec.id, {
    dtype: args.dtype ?? "f32",
    defines: hasMask ? ["MASK"] : [],
    constants: { WG: workgroupSize(headDim) },
  })
  const kvBatch = args.kvBatchStride
  gpu.dispatch({
    pipeline,
    bindings: hasMask ? [args.q, args.k, args.v, args.out, args.mask!] : [args.q, args.k, args.v, args.out],
    uniforms: packUniforms([
      ["u32", B], ["u32", T], ["u32", S], ["u32", H], ["u32", H / Hkv], ["u32", headDim],
      ["u32", args.qStride], ["u32", args.kStride], ["u32", args.vStride], ["u32", args.outStride],
      ["u32", args.qOffset ?? 0], ["u32", args.kOffset ?? 0], ["u32", args.vOffset ?? 0], ["u32", args.outOffset ?? 0],
      ["u32", args.qBatchStride ?? T * args.qStride], ["u32", kvBatch ?? S * args.kStride], ["u32", kvBatch ?? S * args.vStride],
      ["u32", args.outBatchStride ?? T * args.outStride],
      ["u32", args.causal ? 1 : 0], ["u32", args.queryPos0 ?? 0], ["f32", args.scale],
    ]),
    workgroups: grid(B * T * H),
  })
}

/**
 * CPU reference in float64 with the kernel's layout rules; writes into (a copy of) `out`, so elements outside the
 * heads it writes keep their values.
 */
export const reference = (q: Float32Array, k: Float32Array, v: Float32Array, out: Float32Array, a: AttentionShape & { mask?: Int32Array }): Float32Array => {
  const { B, T, S, H, Hkv, headDim: hd } = a
  const y = out.slice()
  const qBatch = a.qBatchStride ?? T * a.qStride
  const kBatch = a.kvBatchStride ?? S * a.kStride
  const vBatch = a.kvBatchStride ?? S * a.vStride
  const oBatch = a.outBatchStride ?? T * a.outStride
  const scores = new Float64Array(S)
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < H; h++) {
        const hk = Math.floor(h / (H / Hkv))
        const qb = (a.qOffset ?? 0) + b * qBatch + t * a.qStride + h * hd
        const ob = (a.outOffset ?? 0) + b * oBatch + t * a.outStride + h * hd
        let m = -Infinity
        for (let s = 0; s < S; s++) {
          const kept = (!a.causal || s <= (a.queryPos0 ?? 0) + t) && (a.mask === undefined || a.mask[b * S + s] !== 0)
          if (!kept) { scores[s] = -Infinity; continue }
          const kb = (a.kOffset ?? 0) + b * kBatch + s * a.kStride + hk * hd
          let dot = 0
          for (let d = 0; d < hd; d++) dot += q[qb + d] * k[kb + d]
          scores[s] = dot * a.scale
          m = Math.max(m, scores[s])
        }
        let l = 0
        const acc = new Float64Array(hd)
        if (m > -Infinity) {
          for (let s = 0; s < S; s++) {
            if (scores[s] === -Infinity) continue
            const w = Math.exp(scores[s] - m)
            l += w
            const vb = (a.vOffset ?? 0) + b * vBatch + s * a.vStride + hk * hd
            for (let d = 0; d < hd; d++) acc[d] += w * v[vb + d]
          }
        }
        for (let d = 0; d < hd; d++) y[ob + d] = l > 0 ? acc[d] / l : 0
      }
    }
  }
  return y
}
