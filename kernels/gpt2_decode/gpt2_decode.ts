import { packUniforms, type Binding, type DType, type GpuDevice, type KernelSpec } from "@djinn/gpu"
import { wgsl } from "../source.ts"
import { activate, epilogueWgsl } from "../matmul/linear.ts"

/**
 * Greedy decode of a small GPT-2 in one workgroup and one dispatch (see gpt2_decode.wgsl). Bindings: the packed
 * weights, their offset table (u32), the KV slab and the i32 ids.
 */
export const spec: KernelSpec = { id: "gpt2_decode", wgsl: wgsl("gpt2_decode") + "\n" + epilogueWgsl(), storage: ["read", "read", "read_write", "read_write"], uniforms: true }

/** The kernel's compile-time bounds (DMAX, FMAX, SMAX in the WGSL) and its smallest workgroup (head_dim ≤ WG). */
export const LIMITS = { D: 256, F: 1024, S: 1024, WG: 256 } as const

export interface Gpt2Shape {
  readonly L: number
  readonly D: number
  readonly H: number
  readonly F: number
  readonly V: number
}

/** Whether the fused kernel can run this model shape up to `positions` positions. */
export const fits = (s: Gpt2Shape, positions: number): boolean =>
  s.D <= LIMITS.D && s.F <= LIMITS.F && positions <= LIMITS.S && s.D % s.H === 0 && s.D / s.H <= LIMITS.WG

export interface Gpt2DecodeArgs extends Gpt2Shape {
  /** Every weight, at the element offsets of `offsets`. */
  readonly weights: Binding
  /** u32 [4 + 12 L]: wte, wpe, ln_f w, ln_f b, then per layer ln_1 w, b, c_attn W, b, c_proj W, b, ln_2 w, b, c_fc W, b, mlp c_proj W, b. */
  readonly offsets: Binding
  /** Layer l's keys at element kvBase + l·kvStride, its values at kvBase + (L + l)·kvStride, each [capacity, D]. */
  readonly kv: Binding
  readonly kvBase: number
  readonly kvStride: number
  /** i32: reads ids[idsIn + t], writes ids[idsIn + t + 1] for t < n. */
  readonly ids: Binding
  readonly idsIn: number
  /** Position of the first token (what the cache holds before it). */
  readonly pos0: number
  readonly n: number
  readonly eps: number
  readonly gelu: "gelu_tanh" | "gelu_erf"
  readonly dtype?: DType
  /** Use subgroup reductions where the adapter has them (default true). */
  readonly subgroups?: boolean
}

export const encode = (gpu: GpuDevice, a: Gpt2DecodeArgs): void => {
  if (!fits(a, a.pos0 + a.n)) throw new Error(`gpt2_decode: shape D=${a.D} F=${a.F} H=${a.H} at ${a.pos0 + a.n} positions is outside the kernel's limits`)
  if (a.n <= 0) return
  const defines: string[] = []
  defines.push(a.gelu === "gelu_erf" ? "GELU_ERF" : "GELU_TANH")
  if (gpu.adapter.subgroups && a.subgroups !== false) defines.push("SUBGROUPS")
  gpu.dispatch({
    pipeline: gpu.pipeline(spec.id, { dtype: a.dtype ?? "f32", defines }),
    bindings: [a.weights, a.offsets, a.kv, a.ids],
    uniforms: packUniforms([
      ["u32", a.L], ["u32", a.D], ["u32", a.H], ["u32", a.F], ["u32", a.V], ["u32", a.pos0], ["u32", a.n], ["u32", a.idsIn],
      ["u32", a.kvBase], ["u32", a.kvStride], ["f32", a.eps], ["f32", 1 / Math.sqrt(a.D / a.H)],
    ]),
    workgroups: [1, 1, 1],
  })
}

/** A GPT-2's weights as f32 arrays, for the reference. Conv1D layout [in, out]. */
export interface Gpt2RefWeights {
  readonly wte: Float32Array
  readonly wpe: Float32Array
  readonly lnfG: Float32Array
  readonly lnfB: Float32Array
  readonly layers: readonly {
    readonly ln1g: Float32Array; readonly ln1b: Float32Array; readonly attnW: Float32Array; readonly attnB: Float32Array
    readonly projW: Float32Array; readonly projB: Float32Array; readonly ln2g: Float32Array; readonly ln2b: Float32Array
    readonly fcW: Float32Array; readonly fcB: Float32Array; readonly fcProjW: Float32Array; readonly fcProjB: Float32Array
  }[]
}

const layerNorm = (x: Float64Array, g: Float32Array, b: Float32Array, eps: number): Float64Array => {
  const n = x.length
  const mean = x.reduce((a, v) => a + v, 0) / n
  const variance = x.reduce((a, v) => a + (v - mean) ** 2, 0) / n
  const r = 1 / Math.sqrt(variance + eps)
  return Float64Array.from(x, (v, j) => (v - mean) * r * g[j] + b[j])
}

const linear = (x: Float64Array, W: Float32Array, b: Float32Array, out: number): Float64Array => {
  const y = Float64Array.from(b)
  for (let k = 0; k < x.length; k++) for (let j = 0; j < out; j++) y[j] += x[k] * W[k * out + j]
  return y
}


/**
 * CPU reference in float64: greedy decode of `n` tokens after `history` (the tokens already in the cache, then the
 * first input token last). Returns the n tokens chosen (first index on ties). GELU: tanh form.
 */
export const reference = (w: Gpt2RefWeights, s: Gpt2Shape, eps: number, history: readonly number[], n: number): number[] => {
  const { D, H, F, V } = s
  const hd = D / H
  const keys: Float64Array[][] = w.layers.map(() => [])
  const values: Float64Array[][] = w.layers.map(() => [])
  const out: number[] = []
  const tokens = [...history]
  // Every position runs through the layers (filling the cache); the logits of the last n positions choose tokens.
  for (let pos = 0; pos < history.length - 1 + n; pos++) {
    const tok = tokens[pos]
    let x = Float64Array.from({ length: D }, (_, j) => w.wte[tok * D + j] + w.wpe[pos * D + j])
    w.layers.forEach((L, l) => {
      const h = layerNorm(x, L.ln1g, L.ln1b, eps)
      const qkv = linear(h, L.attnW, L.attnB, 3 * D)
      keys[l].push(qkv.slice(D, 2 * D))
      values[l].push(qkv.slice(2 * D))
      const att = new Float64Array(D)
      for (let hh = 0; hh < H; hh++) {
        const scores = keys[l].map((k) => {
          let d = 0
          for (let i = 0; i < hd; i++) d += qkv[hh * hd + i] * k[hh * hd + i]
          return d / Math.sqrt(hd)
        })
        const m = Math.max(...scores)
        const e = scores.map((v) => Math.exp(v - m))
        const sum = e.reduce((a, v) => a + v, 0)
        for (let i = 0; i < hd; i++) att[hh * hd + i] = e.reduce((a, p, t) => a + p * values[l][t][hh * hd + i], 0) / sum
      }
      const proj = linear(att, L.projW, L.projB, D)
      const x2 = Float64Array.from(x, (v, j) => v + proj[j])
      const h2 = layerNorm(x2, L.ln2g, L.ln2b, eps)
      const mlp = linear(h2, L.fcW, L.fcB, F).map((v) => activate(v, "gelu_tanh"))
      const down = linear(mlp, L.fcProjW, L.fcProjB, D)
      x = Float64Array.from(x2, (v, j) => v + down[j])
    })
    if (pos < history.length - 1) continue
    const h = layerNorm(x, w.lnfG, w.lnfB, eps)
    let best = 0, bestV = -Infinity
    for (let v = 0; v < V; v++) {
      let acc = 0
      for (let k = 0; k < D; k++) acc += h[k] * w.wte[v * D + k]
      if (acc > bestV) { bestV = acc; best = v }
    }
    out.push(best)
    tokens.push(best)
  }
  return out
}
