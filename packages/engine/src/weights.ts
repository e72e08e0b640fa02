import { engineError } from "./errors.ts"
import { SafetensorsCheckpoint, toFloat32 } from "./safetensors.ts"

/** Where a model's parameters come from: a checkpoint, or seeded synthetic values of the same shapes. */
export interface WeightSource {
  readonly kind: "checkpoint" | "synthetic"
  has(name: string): boolean
  /** Values as f32 and the stored shape; throws a typed error when missing or mis-shaped. */
  get(name: string, expectedShape: readonly number[]): Float32Array
}

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i])

export const checkpointWeights = (ckpt: SafetensorsCheckpoint): WeightSource => ({
  kind: "checkpoint",
  has: (name) => ckpt.has(name),
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
 * without a checkpoint and two processes with the same seed hold the same model. Norm weights are ~1, biases ~0,
 * matrices ~N(0, 0.02)-like uniform, as initialisers do.
 */
export const syntheticWeights = (seed: number): WeightSource => ({
  kind: "synthetic",
  has: () => true,
  get: (name, shape) => {
    const n = shape.reduce((a, b) => a * b, 1)
    let s = (seed ^ hash(name)) >>> 0
    const out = new Float32Array(n)
    const isNorm = /(ln_|norm|LayerNorm)[^.]*\.weight$|\.ln_f\.weight$|(^|\.)gamma$/.test(name)
    const isBias = /\.bias$|(^|\.)beta$/.test(name)
    const scale = isBias ? 0.02 : isNorm ? 0.1 : 0.04
    for (let i = 0; i < n; i++) {
      s = (s + 0x6d2b79f5) >>> 0
      let t = s
      t = Math.imul(t ^ (t >>> 15), t | 1)
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
      const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5
      out[i] = (isNorm ? 1 : 0) + 2 * scale * u
    }
    return out
  },
})

const hash = (s: string): number => {
  let h = 2166136261
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619)
  return h >>> 0
}
