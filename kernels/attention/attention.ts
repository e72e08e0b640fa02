import { envPositiveInt, envVar, grid, packUniforms, u32s, type AdapterDescription, type Binding, type DType, type GpuDevice, type KernelSpec, type UniformField } from "@djinn/gpu"
import { usable as tensorCores } from "../matmul/sgmat.ts"
import { wgsl } from "../source.ts"
import { deviceWorkspace } from "../workspace.ts"
import { checkVariant, routedSgmat, SGMAT_FROM_ENV, SGMAT_SHAPES, sgmatDefines, withEnvSoftmax, type SgmatVariant } from "./sgmat_variants.ts"

/** Bindings: q, k, v, out (partials in the SPLIT variant), then mask only in the MASK variant. q, k, v may be one buffer. */
export const spec: KernelSpec = { id: "attention", wgsl: wgsl("attention"), storage: ["read", "read", "read", "read_write", "read"], uniforms: true }
/** Merges split partials into out. */
export const combineSpec: KernelSpec = { id: "attention_combine", wgsl: wgsl("attention", "combine.wgsl"), storage: ["read", "read_write"], uniforms: true }
/** Query-tiled flash attention for prefill-shaped calls; bindings as `spec`. */
export const flashSpec: KernelSpec = { id: "attention_flash", wgsl: wgsl("attention", "flash.wgsl") + "\n" + wgsl("attention", "flash_stage.wgsl"), storage: ["read", "read", "read", "read_write", "read"], uniforms: true }
/** Flash attention on tensor cores (f16, head_dim 64 or 128, 8-aligned layouts, no mask, no key splits); bindings q, k, v, out. */
export const flashSgmatSpec: KernelSpec = { id: "attention_flash_sgmat", wgsl: ["flash_sgmat.wgsl", "flash_sgmat_stage.wgsl", "flash_sgmat_matrix.wgsl", "flash_sgmat_probe.wgsl"].map((f) => wgsl("attention", f)).join("\n"), storage: ["read", "read", "read", "read_write"], uniforms: true }
export const specs: readonly KernelSpec[] = [spec, combineSpec, flashSpec, flashSgmatSpec]

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
  /**
   * Workspace for split (decode-shaped) calls, f32 [B·T·H · splits · (headDim + 2)] (`scratchBytes` says how much).
   * When absent, encode keeps one per device and grows it as needed.
   */
  readonly scratch?: Binding
  /** Force the number of key splits, of either kernel (tests; default: enough workgroups to fill a large GPU). */
  readonly splits?: number
  /** Force a kernel (tests; default: `route`'s choice). */
  readonly kernel?: Route
  /** Launch shape or timing probe of the tensor-core kernel (tests, benches; default: sgmat_variants.ts's from the environment). */
  readonly sgmat?: SgmatVariant
  readonly dtype?: DType
}

/** Largest head size: one lane per element of a head. */
export const MAX_HEAD_DIM = 256
/** Workgroups to aim for when splitting keys (an H100 has 132 SMs). */
const TARGET_WORKGROUPS = 1024
/** The smallest piece of keys a split takes. */
const SPLIT_KEYS = 64

const pow2 = (n: number): number => 2 ** Math.ceil(Math.log2(Math.max(n, 1)))

export interface Plan { readonly wg: number; readonly hdPad: number; readonly splits: number; readonly chunk: number }

/** Workgroup size and how the keys are split. */
export const plan = (a: AttentionShape & { splits?: number }): Plan => {
  const hdPad = pow2(a.headDim)
  const wg = a.headDim <= 64 ? 128 : 256
  const bth = a.B * a.T * a.H
  // The most keys any query sees.
  const maxKeys = a.causal ? Math.max(0, Math.min(a.S, (a.queryPos0 ?? 0) + a.T)) : a.S
  // Splits take keys in pieces of SPLIT_KEYS (fewer than a workgroup's block: a decode over 512 keys then runs 9
  // workgroups per head instead of 3, each with one short block).
  const blocks = Math.max(1, Math.ceil(maxKeys / SPLIT_KEYS))
  let splits = a.splits ?? (bth >= TARGET_WORKGROUPS ? 1 : Math.min(blocks, Math.ceil(TARGET_WORKGROUPS / Math.max(bth, 1))))
  splits = Math.max(1, Math.min(splits, blocks))
  const chunk = splits === 1 ? Math.max(wg, Math.ceil(maxKeys / wg) * wg) : Math.ceil(blocks / splits) * SPLIT_KEYS
  return { wg, hdPad, splits: Math.max(1, Math.ceil(maxKeys / chunk)), chunk }
}

/** Queries per batch from which a call goes to the query-tiled kernel (flash.wgsl). */
export const FLASH_MIN_T = 16
/** Largest head the query-tiled kernel takes (4 chunks of 32 dims). */
export const FLASH_MAX_HEAD_DIM = 128
/** Workgroup memory of the query-tiled kernel by rows per workgroup (see flash.wgsl). */
const FLASH_SHARED: Readonly<Record<32 | 64, number>> = { 32: 18944, 64: 28672 }
/** Workgroups the query-tiled kernel aims for: tiles of 64 rows from 3 per SM of an H100, key splits below 2 per SM. */
const FLASH_BIG = 3 * 132
// DJINN_FLASH_FILL (A/B runs): the workgroups below which keys are split; 1 never splits.
const FLASH_FILL = envPositiveInt("DJINN_FLASH_FILL", 2 * 132)

export type Route = "flash_sgmat" | "flash" | "stream"

/** Every stride and offset of a call's layout (absent ones undefined), for alignment checks. */
const stridesAndOffsets = (a: AttentionShape): Array<number | undefined> =>
  [a.qStride, a.kStride, a.vStride, a.outStride, a.qOffset, a.kOffset, a.vOffset, a.outOffset, a.qBatchStride, a.kvBatchStride, a.outBatchStride]

/** Workgroup memory of the tensor-core kernel (flash_sgmat.wgsl, head_dim 128). */
const FLASH_SGMAT_SHARED = 48128
/** Tiles of 64 rows from which the tensor-core kernel runs (it never splits keys: fewer tiles leave SMs idle). */
const FLASH_SGMAT_MIN_TILES = 132
/** DJINN_FLASH_SGMAT=0 keeps prefill on flash.wgsl (A/B runs). */
const FLASH_SGMAT_OFF = envVar("DJINN_FLASH_SGMAT") === "0"

/** Whether a call fits the tensor-core kernel: f16, head_dim 64 or 128, every stride and offset a multiple of 8, no mask. */
export const fitsFlashSgmat = (a: AttentionShape & { mask?: unknown; dtype?: DType }): boolean => {
  const eight = (x: number | undefined) => (x ?? 0) % 8 === 0
  return (a.dtype ?? "f32") === "f16" && (a.headDim === 64 || a.headDim === 128) && a.mask === undefined &&
    stridesAndOffsets(a).every(eight)
}

/**
 * Which kernel a call runs: "flash_sgmat" (flash_sgmat.wgsl, tensor cores) for large f16 prefills where the adapter
 * has subgroup matrices, else "flash" (flash.wgsl, query-tiled) for prefill shapes, else "stream" (attention.wgsl).
 */
export const route = (a: AttentionShape & { mask?: unknown; dtype?: DType }, maxWorkgroupStorage = Infinity, adapter?: AdapterDescription): Route => {
  if (a.T < FLASH_MIN_T || a.headDim > FLASH_MAX_HEAD_DIM || maxWorkgroupStorage < FLASH_SHARED[32]) return "stream"
  const tiles = a.B * a.Hkv * Math.ceil((a.T * (a.H / a.Hkv)) / 64)
  const sgmat = adapter !== undefined && tensorCores(adapter) && !FLASH_SGMAT_OFF && maxWorkgroupStorage >= FLASH_SGMAT_SHARED
  return sgmat && fitsFlashSgmat(a) && tiles >= FLASH_SGMAT_MIN_TILES ? "flash_sgmat" : "flash"
}

export interface FlashPlan {
  /** Rows (query, head of the group) per workgroup. */
  readonly bq: 32 | 64
  /** Head-dim chunks of 32. */
  readonly nc: number
  /** Row tiles per (batch, kv head). */
  readonly tiles: number
  readonly splits: number
  /** Keys per split, a multiple of 32. */
  readonly chunk: number
  /** head_dim, strides and offsets all multiples of 4: vec4 loads and stores. */
  readonly aligned: boolean
}

/** Tile shape and key splits of the query-tiled kernel. */
export const flashPlan = (a: AttentionShape & { splits?: number }, maxWorkgroupStorage = Infinity): FlashPlan => {
  const R = a.T * (a.H / a.Hkv)
  const bh = a.B * a.Hkv
  const bq = bh * Math.ceil(R / 64) >= FLASH_BIG && maxWorkgroupStorage >= FLASH_SHARED[64] ? 64 : 32
  const tiles = Math.ceil(R / bq)
  const maxKeys = Math.max(1, a.causal ? Math.min(a.S, (a.queryPos0 ?? 0) + a.T) : a.S)
  const blocks = Math.ceil(maxKeys / 32)
  const wgs = bh * tiles
  let splits = a.splits ?? (wgs >= FLASH_FILL ? 1 : Math.ceil(FLASH_FILL / wgs))
  splits = Math.max(1, Math.min(splits, blocks))
  const chunk = Math.ceil(blocks / splits) * 32
  const four = (x: number | undefined) => (x ?? 0) % 4 === 0
  const aligned = [a.headDim, ...stridesAndOffsets(a)].every(four)
  return { bq, nc: Math.ceil(a.headDim / 32), tiles, splits: Math.ceil(maxKeys / chunk), chunk, aligned }
}

/** Bytes of scratch a call needs (0 when it does not split). */
export const scratchBytes = (a: AttentionShape & { splits?: number }, maxWorkgroupStorage = Infinity): number => {
  const { splits } = route(a, maxWorkgroupStorage) === "flash" ? flashPlan(a, maxWorkgroupStorage) : plan(a)
  // (flash_sgmat never splits: the plans above bound its scratch from above.)
  return splits === 1 ? 0 : a.B * a.T * a.H * splits * (a.headDim + 2) * 4
}

const workspace = deviceWorkspace("attention-scratch")

/** The uniform fields both kernels share, from q_stride to query_pos0. */
const layoutFields = (args: AttentionArgs): { outBatch: number; layout: UniformField[] } => {
  const { T, S } = args
  const kvBatch = args.kvBatchStride
  const outBatch = args.outBatchStride ?? T * args.outStride
  return {
    outBatch,
    layout: [
      ["u32", args.qStride], ["u32", args.kStride], ["u32", args.vStride], ["u32", args.outStride],
      ["u32", args.qOffset ?? 0], ["u32", args.kOffset ?? 0], ["u32", args.vOffset ?? 0], ["u32", args.outOffset ?? 0],
      ["u32", args.qBatchStride ?? T * args.qStride], ["u32", kvBatch ?? S * args.kStride], ["u32", kvBatch ?? S * args.vStride],
      ["u32", outBatch], ["u32", args.causal ? 1 : 0], ["u32", args.queryPos0 ?? 0],
    ],
  }
}

export const encode = (gpu: GpuDevice, args: AttentionArgs): void => {
  const { B, T, S, H, Hkv, headDim } = args
  if (headDim < 1 || headDim > MAX_HEAD_DIM) throw new Error(`attention: headDim ${headDim} outside 1..${MAX_HEAD_DIM}`)
  if (Hkv < 1 || H % Hkv !== 0) throw new Error(`attention: H ${H} is not a multiple of Hkv ${Hkv}`)
  const dtype = args.dtype ?? "f32"
  const maxShared = gpu.adapter.limits.maxComputeWorkgroupStorageSize ?? Infinity
  // Forced splits are the split kernels' (tests): the tensor-core kernel never splits.
  const kernel = args.kernel ?? route({ ...args, dtype }, maxShared, args.splits === undefined ? gpu.adapter : undefined)
  const { outBatch, layout } = layoutFields(args)
  if (kernel === "flash_sgmat") {
    if (!fitsFlashSgmat({ ...args, dtype }) || args.splits !== undefined) throw new Error("attention: flash_sgmat takes f16, head_dim 64 or 128, 8-aligned layouts, no mask and no splits")
    const variant = withEnvSoftmax(args.sgmat ?? SGMAT_FROM_ENV ?? routedSgmat(T * (H / Hkv), B * Hkv))
    checkVariant(variant)
    const tiles = Math.ceil((T * (H / Hkv)) / SGMAT_SHAPES[variant.shape].rows)
    const defines = sgmatDefines(variant)
    gpu.dispatch({
      pipeline: gpu.pipeline(flashSgmatSpec.id, { dtype, defines, constants: { HD: headDim } }),
      bindings: [args.q, args.k, args.v, args.out],
      uniforms: packUniforms([
        ["u32", B], ["u32", T], ["u32", S], ["u32", Hkv], ["u32", H], ["u32", H / Hkv], ...layout,
        ["f32", args.scale * Math.LOG2E], ["u32", tiles], ["u32", 0], ["u32", 0],
      ]),
      workgroups: grid(tiles * B * Hkv),
    })
    return
  }
  const flash = kernel === "flash"
  const fp = flash ? flashPlan(args, maxShared) : undefined
  const sp = flash ? undefined : plan(args)
  const splits = fp?.splits ?? sp!.splits
  const split = splits > 1
  const hasMask = args.mask !== undefined
  const bth = B * T * H
  let target = args.out
  if (split) {
    const bytes = bth * splits * (headDim + 2) * 4
    if (args.scratch !== undefined && (args.scratch.size ?? Infinity) < bytes) throw new Error(`attention: scratch of ${args.scratch.size} bytes < ${bytes} needed`)
    target = args.scratch ?? workspace(gpu, bytes)
  }
  const bindings = hasMask ? [args.q, args.k, args.v, target, args.mask!] : [args.q, args.k, args.v, target]
  if (fp !== undefined) {
    const defines = [...(hasMask ? ["MASK"] : []), ...(split ? ["SPLIT"] : []), ...(fp.aligned ? ["ALIGNED"] : [])]
    gpu.dispatch({
      pipeline: gpu.pipeline(flashSpec.id, { dtype, defines, constants: { BQ: fp.bq, NC: fp.nc } }),
      bindings,
      uniforms: packUniforms([
        ["u32", B], ["u32", T], ["u32", S], ["u32", Hkv], ["u32", H], ["u32", H / Hkv], ["u32", headDim], ...layout,
        ["f32", args.scale * Math.LOG2E], ["u32", splits], ["u32", fp.chunk], ["u32", fp.tiles],
      ]),
      workgroups: grid(fp.tiles * B * Hkv * splits),
    })
  } else {
    const { wg, hdPad, chunk } = sp!
    const defines = [...(hasMask ? ["MASK"] : []), ...(split ? ["SPLIT"] : [])]
    gpu.dispatch({
      pipeline: gpu.pipeline(spec.id, { dtype, defines, constants: { WG: wg } }),
      bindings,
      uniforms: packUniforms([
        ["u32", B], ["u32", T], ["u32", S], ["u32", H], ["u32", H / Hkv], ["u32", headDim], ...layout,
        ["f32", args.scale], ["u32", splits], ["u32", chunk], ["u32", hdPad],
      ]),
      workgroups: grid(bth * splits),
    })
  }
  if (split) {
    gpu.dispatch({
      pipeline: gpu.pipeline(combineSpec.id, { dtype }),
      bindings: [target, args.out],
      uniforms: u32s(bth, T, H, headDim, splits, args.outStride, args.outOffset ?? 0, outBatch),
      workgroups: grid(bth),
    })
  }
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
