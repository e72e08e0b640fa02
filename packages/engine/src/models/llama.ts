import { envVar, type Binding, type DType, type GpuDevice } from "@djinn/gpu"
import { attention, copy2d, embedding, fill, gemv, matmul, rmsnorm, rope, silu_mul } from "@djinn/kernels"
import { Schema } from "effect"
import { engineError } from "../errors.ts"
import { allocTensor, binding, type Memory, type Tensor } from "../memory.ts"
import type { WeightSource } from "../weights.ts"
import type { CausalLM, KvCache, StepArgs } from "./causal-lm.ts"
import { ParamLoader, type TensorSpec } from "./params.ts"

export const LlamaConfig = Schema.Struct({
  model_type: Schema.Literal("llama"),
  vocab_size: Schema.Int,
  hidden_size: Schema.Int,
  intermediate_size: Schema.Int,
  num_hidden_layers: Schema.Int,
  num_attention_heads: Schema.Int,
  num_key_value_heads: Schema.optional(Schema.NullOr(Schema.Int)),
  head_dim: Schema.optional(Schema.NullOr(Schema.Int)),
  max_position_embeddings: Schema.Int,
  rms_norm_eps: Schema.optional(Schema.Number),
  /** Released Llama checkpoints (transformers 4). */
  rope_theta: Schema.optional(Schema.Number),
  /** transformers 5. */
  rope_parameters: Schema.optional(Schema.NullOr(Schema.Struct({
    rope_theta: Schema.optional(Schema.Number),
    rope_type: Schema.optional(Schema.String),
  }))),
  rope_scaling: Schema.optional(Schema.NullOr(Schema.Unknown)),
  hidden_act: Schema.optional(Schema.String),
  tie_word_embeddings: Schema.optional(Schema.Boolean),
  attention_bias: Schema.optional(Schema.Boolean),
  mlp_bias: Schema.optional(Schema.Boolean),
})
export type LlamaConfig = typeof LlamaConfig.Type

/** Derived sizes of a config. */
export const llamaDims = (c: LlamaConfig) => {
  const H = c.num_attention_heads
  const Hkv = c.num_key_value_heads ?? H
  const hd = c.head_dim ?? c.hidden_size / H
  return { D: c.hidden_size, F: c.intermediate_size, V: c.vocab_size, H, Hkv, hd, qD: H * hd, kvD: Hkv * hd }
}

export const ropeTheta = (c: LlamaConfig): number => c.rope_parameters?.rope_theta ?? c.rope_theta ?? 10000

/** Every tensor of `LlamaForCausalLM`, by HF name (nn.Linear weights are [out, in]). */
export const llamaTensors = (c: LlamaConfig): TensorSpec[] => {
  const { D, F, V, qD, kvD } = llamaDims(c)
  const out: TensorSpec[] = [{ name: "model.embed_tokens.weight", shape: [V, D] }]
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const p = `model.layers.${i}.`
    out.push(
      { name: `${p}input_layernorm.weight`, shape: [D] },
      { name: `${p}self_attn.q_proj.weight`, shape: [qD, D] },
      { name: `${p}self_attn.k_proj.weight`, shape: [kvD, D] },
      { name: `${p}self_attn.v_proj.weight`, shape: [kvD, D] },
      { name: `${p}self_attn.o_proj.weight`, shape: [D, qD] },
      { name: `${p}post_attention_layernorm.weight`, shape: [D] },
      { name: `${p}mlp.gate_proj.weight`, shape: [F, D] },
      { name: `${p}mlp.up_proj.weight`, shape: [F, D] },
      { name: `${p}mlp.down_proj.weight`, shape: [D, F] },
    )
  }
  out.push({ name: "model.norm.weight", shape: [D] })
  if (c.tie_word_embeddings !== true) out.push({ name: "lm_head.weight", shape: [V, D] })
  return out
}

const checkSupported = (c: LlamaConfig): void => {
  const { D, H, Hkv, hd } = llamaDims(c)
  const fail = (m: string) => { throw engineError("Unsupported", `llama: ${m}`) }
  if ((c.hidden_act ?? "silu") !== "silu") fail(`hidden_act '${c.hidden_act}'`)
  if (c.attention_bias === true || c.mlp_bias === true) fail("attention_bias / mlp_bias")
  const ropeType = c.rope_parameters?.rope_type ?? "default"
  if (ropeType !== "default" || (c.rope_scaling !== undefined && c.rope_scaling !== null)) fail(`RoPE scaling '${ropeType}'`)
  if (H % Hkv !== 0) throw engineError("Config", `llama: ${H} heads are not a multiple of ${Hkv} KV heads`)
  if (!Number.isInteger(hd) || hd % 2 !== 0) throw engineError("Config", `llama: head size ${hd} (hidden ${D} / ${H} heads) must be an even integer`)
}

interface Layer { inNorm: Tensor; wqkv: Tensor; wo: Tensor; postNorm: Tensor; wgu: Tensor; wdown: Tensor }

/** Activation buffers for up to `capacity` tokens (the stack segment); gu (gate_up's output) only for "halves". */
interface Scratch {
  readonly capacity: number
  x: Tensor; x2: Tensor; h: Tensor; qkv: Tensor; q: Tensor; att: Tensor; gu?: Tensor; mlp: Tensor; last: Tensor
}

/**
 * The order of gate_up's rows. "blocks" (the default) lets the prefill GEMM's epilogue compute silu(gate)·up (no
 * silu_mul pass, no [T, 2·I] intermediate); decode's gemv reads either. DJINN_FUSED_SWIGLU=0 keeps HF's [gate; up]
 * and the separate silu_mul (A/B runs).
 */
const gluLayoutOf = (): matmul.GluLayout => (envVar("DJINN_FUSED_SWIGLU") === "0" ? "halves" : "blocks")
/** DJINN_LLAMA_SUBMITS=0 (A/B runs): a prefill records everything before the caller's one submit, as before session 6. */
const PREFILL_SUBMITS = envVar("DJINN_LLAMA_SUBMITS") !== "0"

/**
 * Layer l's gate and up projections ([F, D] each) as one weight of gluRows(F) rows in `layout`: concatenated on the
 * CPU from a checkpoint; from a seeded source filled on the GPU and, for "blocks", moved into place from `staging`
 * (the same values either way: the synthetic test compares the two).
 */
const loadGateUp = (gpu: GpuDevice, p: ParamLoader, l: string, F: number, D: number, layout: matmul.GluLayout, staging: () => Binding): Tensor => {
  const gate = `${l}mlp.gate_proj.weight`, up = `${l}mlp.up_proj.weight`
  if (layout === "halves") return p.load(gate, up)
  const rows = matmul.gluRows(F, layout)
  const label = `${gate}+${up} (blocks of ${matmul.GLU_BLOCK})`
  if (!p.synthetic) return p.upload(matmul.fuseGlu(p.values(gate), p.values(up), F, D, layout), [rows, D], label)
  const t = p.allocate([rows, D], label)
  const B = matmul.GLU_BLOCK, full = Math.floor(F / B), rest = F % B
  const dtype = p.dtype
  for (const [name, at] of [[gate, 0], [up, B]] as const) {
    const src = staging()
    p.fillInto(name, [F, D], src)
    // Block b's 16 rows (16·D elements) go to rows 32b + at; the last, partial block likewise.
    if (full > 0) copy2d.encode(gpu, { src, dst: binding(t), rows: full, cols: B * D, srcStride: B * D, dstStride: 2 * B * D, dstOffset: at * D, dtype })
    if (rest > 0) {
      copy2d.encode(gpu, { src, dst: binding(t), rows: 1, cols: rest * D, srcStride: rest * D, dstStride: rest * D, srcOffset: full * B * D, dstOffset: (2 * full * B + at) * D, dtype })
      // The rows that pad the last block to 16: zero.
      fill.encode(gpu, { y: binding(t), n: (B - rest) * D, offset: (2 * full * B + at + rest) * D, seed: 0, center: 0, scale: 0, dtype })
    }
  }
  return t
}

/**
 * Llama (`LlamaForCausalLM`): HF tensor names; q|k|v and gate|up fused at load into one projection each.
 * Forward = embed_tokens → L × (RMSNorm → qkv → RoPE (one dispatch: q to scratch, k and the unrotated v straight into
 * the KV cache) → GQA attention over the cache → o_proj → residual → RMSNorm → gate_up → silu(gate)·up → down_proj →
 * residual) → norm → lm_head.
 * Decode (T ≤ gemv.MAX_M) fuses the residual adds and silu(gate)·up into the gemvs' epilogues, and each RMSNorm into
 * the prologue of the gemv that follows it (qkv, gate_up, lm_head). Prefill fuses the residual adds and, with gate_up's
 * rows in blocks of 16 gate then 16 up (`gluLayout`), silu(gate)·up into the GEMMs' epilogues.
 */
export class Llama implements CausalLM {
  readonly config: LlamaConfig
  readonly dtype: DType
  readonly vocabSize: number
  readonly maxPositions: number
  readonly weightBytes: number
  private readonly gpu: GpuDevice
  private readonly embed: Tensor
  private readonly layers: Layer[]
  private readonly norm: Tensor
  private readonly lmHead: Tensor
  private readonly dims: ReturnType<typeof llamaDims>
  private readonly eps: number
  private readonly theta: number
  /** How gate_up's rows are ordered (see gluLayoutOf). */
  readonly gluLayout: matmul.GluLayout

  constructor(gpu: GpuDevice, mem: Memory, config: LlamaConfig, weights: WeightSource, dtype: DType) {
    checkSupported(config)
    this.gpu = gpu
    this.config = config
    this.dtype = dtype
    this.dims = llamaDims(config)
    this.vocabSize = config.vocab_size
    this.maxPositions = config.max_position_embeddings
    this.eps = config.rms_norm_eps ?? 1e-6
    this.theta = ropeTheta(config)
    this.gluLayout = gluLayoutOf()
    const p = new ParamLoader(gpu, mem, weights, dtype, llamaTensors(config))
    const { D, F } = this.dims
    // One staging buffer for the seeded gate and up weights on their way into "blocks", made on first use.
    let staging: Binding | undefined
    const stagingOf = (): Binding => {
      if (staging !== undefined) return staging
      const size = Math.ceil((F * D * (dtype === "f16" ? 2 : 4)) / 4) * 4
      staging = { buffer: gpu.createBuffer(size, "llama gate_up staging"), offset: 0, size }
      return staging
    }
    this.embed = p.load("model.embed_tokens.weight")
    this.layers = Array.from({ length: config.num_hidden_layers }, (_, i) => {
      const l = `model.layers.${i}.`
      return {
        inNorm: p.load(`${l}input_layernorm.weight`),
        wqkv: p.load(`${l}self_attn.q_proj.weight`, `${l}self_attn.k_proj.weight`, `${l}self_attn.v_proj.weight`),
        wo: p.load(`${l}self_attn.o_proj.weight`),
        postNorm: p.load(`${l}post_attention_layernorm.weight`),
        wgu: loadGateUp(gpu, p, l, F, D, this.gluLayout, stagingOf),
        wdown: p.load(`${l}mlp.down_proj.weight`),
      }
    })
    this.norm = p.load("model.norm.weight")
    this.lmHead = config.tie_word_embeddings === true ? this.embed : p.load("lm_head.weight")
    this.weightBytes = p.bytes
    if (staging !== undefined) gpu.destroyBuffer(staging.buffer)
  }

  newCache(mem: Memory, capacity: number): KvCache {
    if (capacity > this.maxPositions) throw engineError("Input", `llama: ${capacity} positions exceed max_position_embeddings ${this.maxPositions}`)
    const { kvD } = this.dims
    return {
      capacity,
      length: 0,
      keys: this.layers.map((_, i) => allocTensor(mem, [capacity, kvD], this.dtype, "data", `k${i}`)),
      values: this.layers.map((_, i) => allocTensor(mem, [capacity, kvD], this.dtype, "data", `v${i}`)),
    }
  }

  kvBytesPerToken(): number {
    return 2 * this.config.num_hidden_layers * this.dims.kvD * (this.dtype === "f16" ? 2 : 4)
  }

  newScratch(mem: Memory, capacity: number): Scratch {
    const { D, F, qD, kvD } = this.dims
    const t = (shape: number[], label: string) => allocTensor(mem, shape, this.dtype, "stack", label)
    return {
      capacity,
      x: t([capacity, D], "x"), x2: t([capacity, D], "x2"), h: t([capacity, D], "h"), qkv: t([capacity, qD + 2 * kvD], "qkv"),
      q: t([capacity, qD], "q"), att: t([capacity, qD], "att"),
      gu: this.gluLayout === "halves" ? t([capacity, 2 * F], "gate_up") : undefined,
      mlp: t([capacity, F], "mlp"), last: t([1, D], "last"),
    }
  }

  /**
   * Records one forward over T tokens at positions pos0…pos0+T−1 (no readback). A prefill submits what it has
   * recorded after its first layer and every fourth; the caller submits the rest.
   */
  step(args: StepArgs): void {
    const { gpu, dtype, eps, theta } = this
    const { D, F, H, Hkv, hd, qD, kvD } = this.dims
    const { ids, idsOffset, T, cache, logits, allLogits } = args
    const s = args.scratch as Scratch
    const pos0 = cache.length
    if (T > s.capacity) throw engineError("Input", `llama: ${T} tokens exceed the scratch capacity ${s.capacity}`)
    if (pos0 + T > cache.capacity) throw engineError("Input", `llama: position ${pos0 + T} exceeds the KV cache capacity ${cache.capacity}`)
    const qkvD = qD + 2 * kvD
    const decode = T <= gemv.MAX_M
    const linear = (x: Tensor, w: Tensor, y: Tensor, N: number, K: number, M = T) =>
      matmul.linear(gpu, { x: binding(x), w: binding(w), y: binding(y), M, N, K, wLayout: "nk", dtype })
    // y = x·W + residual, in the epilogue of gemv (decode) or of the GEMM (prefill).
    const linearResidual = (x: Tensor, w: Tensor, residual: Tensor, y: Tensor, N: number, K: number) => {
      if (decode) {
        gemv.encode(gpu, { x: binding(x), w: binding(w), y: binding(y), residual: binding(residual), M: T, N, K, wLayout: "nk", dtype })
        return
      }
      matmul.linear(gpu, { x: binding(x), w: binding(w), y: binding(y), residual: binding(residual), M: T, N, K, wLayout: "nk", dtype })
    }
    embedding.encode(gpu, { table: binding(this.embed), ids: binding(ids), out: binding(s.x), T, D, idsOffset, dtype })
    for (let i = 0; i < this.layers.length; i++) {
      const L = this.layers[i]
      const keys = cache.keys[i], values = cache.values[i]
      if (decode) {
        // The input RMSNorm in the qkv gemv's prologue.
        gemv.encode(gpu, { x: binding(s.x), w: binding(L.wqkv), y: binding(s.qkv), M: T, N: qkvD, K: D, wLayout: "nk", dtype, rmsnorm: { weight: binding(L.inNorm), eps } })
      } else {
        rmsnorm.encode(gpu, { x: binding(s.x), weight: binding(L.inNorm), y: binding(s.h), rows: T, cols: D, eps, dtype })
        linear(s.h, L.wqkv, s.qkv, qkvD, D)
      }
      rope.encodeQkv(gpu, {
        x: binding(s.qkv), q: binding(s.q), k: binding(keys), v: binding(values), T, heads: H, kvHeads: Hkv, headDim: hd, stride: qkvD,
        qStride: qD, kOffset: pos0 * kvD, kStride: kvD, vOffset: pos0 * kvD, vStride: kvD, pos0, theta, dtype,
      })
      attention.encode(gpu, {
        q: binding(s.q), k: binding(keys), v: binding(values), out: binding(s.att),
        B: 1, T, S: pos0 + T, H, Hkv, headDim: hd, qStride: qD, kStride: kvD, vStride: kvD, outStride: qD,
        causal: true, queryPos0: pos0, scale: 1 / Math.sqrt(hd), dtype,
      })
      linearResidual(s.att, L.wo, s.x, s.x2, D, qD)
      if (decode) {
        // The post-attention RMSNorm in the gate_up gemv's prologue, silu(gate)·up in its epilogue (W as loaded).
        gemv.encode(gpu, {
          x: binding(s.x2), w: binding(L.wgu), y: binding(s.mlp), M: T, N: F, K: D, wLayout: "nk", dtype, swiglu: this.gluLayout,
          rmsnorm: { weight: binding(L.postNorm), eps },
        })
      } else {
        rmsnorm.encode(gpu, { x: binding(s.x2), weight: binding(L.postNorm), y: binding(s.h), rows: T, cols: D, eps, dtype })
        if (s.gu === undefined) {
          // "blocks": silu(gate)·up in the GEMM's epilogue.
          matmul.linear(gpu, { x: binding(s.h), w: binding(L.wgu), y: binding(s.mlp), M: T, N: F, K: D, wLayout: "nk", dtype, swiglu: this.gluLayout })
        } else {
          linear(s.h, L.wgu, s.gu, 2 * F, D)
          silu_mul.encode(gpu, { gate: binding(s.gu), up: binding(s.gu), y: binding(s.mlp), n: T * F, cols: F, stride: 2 * F, upOffset: F, dtype })
        }
      }
      linearResidual(s.mlp, L.wdown, s.x2, s.x, D, F)
      // A prefill's recording takes ~0.15 ms a layer of CPU (Llama-2-7B: 4.7 ms at 1k tokens) against ~1–2 ms of GPU:
      // submitted after the first layer and every fourth, the GPU starts while the rest is encoded instead of after.
      if (PREFILL_SUBMITS && !decode && (i === 0 || i % 4 === 3)) gpu.submit()
    }
    if (decode) {
      // The final RMSNorm in the lm_head gemv's prologue: every row, or the last alone (at an x offset).
      gemv.encode(gpu, {
        x: binding(s.x), w: binding(this.lmHead), y: binding(logits), M: allLogits ? T : 1, N: this.vocabSize, K: D, wLayout: "nk", dtype,
        xOffset: allLogits ? 0 : (T - 1) * D, rmsnorm: { weight: binding(this.norm), eps },
      })
    } else if (allLogits) {
      rmsnorm.encode(gpu, { x: binding(s.x), weight: binding(this.norm), y: binding(s.h), rows: T, cols: D, eps, dtype })
      linear(s.h, this.lmHead, logits, this.vocabSize, D)
    } else {
      // The last row alone.
      copy2d.encode(gpu, { src: binding(s.x), dst: binding(s.last), rows: 1, cols: D, srcStride: D, dstStride: D, srcOffset: (T - 1) * D, dstOffset: 0, dtype })
      rmsnorm.encode(gpu, { x: binding(s.last), weight: binding(this.norm), y: binding(s.h), rows: 1, cols: D, eps, dtype })
      linear(s.h, this.lmHead, logits, this.vocabSize, D, 1)
    }
    cache.length = pos0 + T
  }
}
