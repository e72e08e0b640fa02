import { engineError } from "./errors.ts"
import { SafetensorsCheckpoint, toFloat32 } from "./safetensors.ts"

/** Where a model's parameters come from: a checkpoint, or seeded synthetic values of the same shapes. */
export interface WeightSource {
  readonly kind: "checkpoint" | "synthetic"
  has(name: string): boolean
  /** Values as f32 and the stored shape; throws a typed error when missing or mis-shaped. */
  get(name: string, expectedShape: readonly number[]): Float32Array
  /**
   * Seeded sources only: the generator of a tensor, so a model fills it where it lives (the `fill` kernel) instead of
   * computing values on the CPU and uploading them. Gives the same values as `get`.
   */
  init?(name: string, shape: readonly number[]): SyntheticInit
  /** The stored shape of a tensor, where the source knows it (checkpoints): lets a model infer widths. */
  shape?(name: string): readonly number[] | undefined
}

/** Values uniform in [center − scale, center + scale), value i from mulberry32's counter stream at `seed`. */
export interface SyntheticInit {
  readonly seed: number
  readonly center: number
  readonly scale: number
}

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i])

export const checkpointWeights = (ckpt: SafetensorsCheckpoint): WeightSource => ({
  kind: "checkpoint",
  has: (name) => ckpt.has(name),
  shape: (name) => ckpt.tensors.get(name)?.shape,
  get: (name, expected) => {
    const raw = ckpt.read(name)
    if (!sameShape(raw.shape, expected)) {
      throw engineError("TensorShape", `tensor '${name}' has shape [${raw.shape.join(", ")}], expected [${expected.join(", ")}]`)
    }
    return toFloat32(raw)
  },
})

/**
 * Seeded synthetic weights: every tensor is a deterministic function of (seed, name), so any shape of a model runs
 * without a checkpoint and two processes with the same seed hold the same model. Norm weights and BatchNorm variances
 * are ~1, biases and means ~0, matrices ~N(0, 0.02)-like uniform, as initialisers do.
 */
export const syntheticWeights = (seed: number): WeightSource => ({
  kind: "synthetic",
  has: () => true,
  get: (name, shape) => syntheticValues(syntheticInit(seed, name), shape.reduce((a, b) => a * b, 1)),
  init: (name) => syntheticInit(seed, name),
})

const isNorm = /(ln_|norm|LayerNorm)[^.]*\.weight$|\.ln_f\.weight$|(^|\.)gamma$|(^|\.)bn\d*\.weight$|downsample\.1\.weight$|running_var$/
const isBias = /\.bias$|(^|\.)beta$|running_mean$/

export const syntheticInit = (seed: number, name: string): SyntheticInit => {
  const norm = isNorm.test(name)
  return { seed: (seed ^ hash(name)) >>> 0, center: norm ? 1 : 0, scale: isBias.test(name) ? 0.02 : norm ? 0.1 : 0.04 }
}

/** The stream the `fill` kernel writes: state_i = seed + (i+1)·0x6d2b79f5, mixed as mulberry32 does. */
export const syntheticValues = (init: SyntheticInit, n: number): Float32Array => {
  const out = new Float32Array(n)
  let s = init.seed
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5
    out[i] = init.center + 2 * init.scale * u
  }
  return out
}

const hash = (s: string): number => {
  let h = 2166136261
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619)
  return h >>> 0
}
