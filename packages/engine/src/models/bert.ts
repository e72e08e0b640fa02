import { envVar, type DType, type GpuDevice } from "@djinn/gpu"
import { add, attention, copy2d, embedding, layernorm, matmul, tanh } from "@djinn/kernels"
import { Schema } from "effect"
import { engineError } from "../errors.ts"
import { allocTensor, binding, readTensor, type Memory, type Tensor } from "../memory.ts"
import { ForwardReplays } from "../replay.ts"
import type { WeightSource } from "../weights.ts"
import { ParamLoader, releaseAll, type TensorSpec } from "./params.ts"

export const BertConfig = Schema.Struct({
  model_type: Schema.Literal("bert"),
  vocab_size: Schema.Int,
  hidden_size: Schema.Int,
  num_hidden_layers: Schema.Int,
  num_attention_heads: Schema.Int,
  intermediate_size: Schema.Int,
  max_position_embeddings: Schema.Int,
  type_vocab_size: Schema.optional(Schema.Int),
  hidden_act: Schema.optional(Schema.String),
  layer_norm_eps: Schema.optional(Schema.Number),
  position_embedding_type: Schema.optional(Schema.String),
})
export type BertConfig = typeof BertConfig.Type

/** Every tensor of `BertModel` (with its pooler), by HF name. */
export const bertTensors = (c: BertConfig): TensorSpec[] => {
  const { hidden_size: D, intermediate_size: F } = c
  const ln = (p: string): TensorSpec[] => [{ name: `${p}LayerNorm.weight`, shape: [D] }, { name: `${p}LayerNorm.bias`, shape: [D] }]
  const dense = (p: string, out: number, inp: number): TensorSpec[] => [{ name: `${p}.weight`, shape: [out, inp] }, { name: `${p}.bias`, shape: [out] }]
  const out: TensorSpec[] = [
    { name: "embeddings.word_embeddings.weight", shape: [c.vocab_size, D] },
    { name: "embeddings.position_embeddings.weight", shape: [c.max_position_embeddings, D] },
    { name: "embeddings.token_type_embeddings.weight", shape: [c.type_vocab_size ?? 2, D] },
    ...ln("embeddings."),
  ]
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const p = `encoder.layer.${i}.`
    out.push(
      ...dense(`${p}attention.self.query`, D, D), ...dense(`${p}attention.self.key`, D, D), ...dense(`${p}attention.self.value`, D, D),
      ...dense(`${p}attention.output.dense`, D, D), ...ln(`${p}attention.output.`),
      ...dense(`${p}intermediate.dense`, F, D), ...dense(`${p}output.dense`, D, F), ...ln(`${p}output.`),
    )
  }
  out.push(...dense("pooler.dense", D, D))
  return out
}

/** How the forward is recorded (A/B switches; the defaults come from the environment). */
export interface BertOptions {
  /**
   * The residual LayerNorms after o_proj and the FFN's down projection sum those GEMMs' split-K partials themselves
   * (layernorm's PARTIALS: one dispatch less each) where the GEMM splits K. Default on; DJINN_BERT_FUSED_LN=0 turns
   * it off.
   */
  readonly fusedNorms?: boolean
  /**
   * "stream" runs attention.wgsl (one dispatch, no key splits to combine) instead of the routed kernel (at 128 tokens
   * flash.wgsl with key splits and attention_combine). Default "auto"; DJINN_BERT_ATTENTION=stream.
   */
  readonly attention?: "auto" | "stream"
}

const optionsFromEnv = (): Required<BertOptions> => ({
  fusedNorms: envVar("DJINN_BERT_FUSED_LN") !== "0",
  attention: envVar("DJINN_BERT_ATTENTION") === "stream" ? "stream" : "auto",
})

interface Norm { g: Tensor; b: Tensor }
interface Layer { wqkv: Tensor; bqkv: Tensor; wo: Tensor; bo: Tensor; ln1: Norm; wi: Tensor; bi: Tensor; wout: Tensor; bout: Tensor; ln2: Norm }

/** Activations for a [B, S] batch (the stack segment). */
export interface BertScratch {
  readonly B: number
  readonly S: number
  x: Tensor; t: Tensor; h: Tensor; qkv: Tensor; att: Tensor; inter: Tensor; cls: Tensor; pool: Tensor
}

export interface BertArgs {
  readonly B: number
  readonly S: number
  /** i32 [B, S]. */
  readonly ids: Tensor
  /** i32 [B, S]: 1 attend, 0 padding; none: every position attends. */
  readonly mask?: Tensor
  /** i32 [B, S]; none: all 0. */
  readonly tokenTypes?: Tensor
  readonly scratch: BertScratch
  /** [B, S, hidden]. */
  readonly lastHidden: Tensor
  /** [B, hidden] (tanh pooler over [CLS]); none: not computed. */
  readonly pooled?: Tensor
}

/**
 * BERT encoder (`BertModel`, or the `bert.` part of a BertFor… checkpoint): HF tensor names; query|key|value fused at
 * load. Forward = word + position + token-type embeddings → LayerNorm → L × (fused qkv → bidirectional attention with
 * the padding mask → dense → residual + LayerNorm → intermediate (GELU) → dense → residual + LayerNorm) → tanh pooler
 * over the first token.
 */
export class Bert {
  readonly config: BertConfig
  readonly dtype: DType
  readonly weightBytes: number
  readonly hasPooler: boolean
  private readonly gpu: GpuDevice
  private readonly words: Tensor
  private readonly positions: Tensor
  private readonly tokenTypes: Tensor
  private readonly embNorm: Norm
  private readonly layers: Layer[]
  private readonly poolW: Tensor | undefined
  private readonly poolB: Tensor | undefined
  private readonly eps: number
  private readonly gelu: "gelu_erf" | "gelu_tanh"
  private readonly replays = new ForwardReplays()
  private readonly options: Required<BertOptions>

  constructor(gpu: GpuDevice, mem: Memory, config: BertConfig, weights: WeightSource, dtype: DType, options: BertOptions = {}) {
    const act = config.hidden_act ?? "gelu"
    if (!["gelu", "gelu_new", "gelu_pytorch_tanh"].includes(act)) throw engineError("Unsupported", `bert: hidden_act '${act}'`)
    if ((config.position_embedding_type ?? "absolute") !== "absolute") throw engineError("Unsupported", `bert: position_embedding_type '${config.position_embedding_type}'`)
    if (config.hidden_size % config.num_attention_heads !== 0) throw engineError("Config", `bert: hidden_size ${config.hidden_size} is not a multiple of ${config.num_attention_heads} heads`)
    this.gpu = gpu
    this.options = { ...optionsFromEnv(), ...options }
    this.config = config
    this.dtype = dtype
    this.gelu = act === "gelu" ? "gelu_erf" : "gelu_tanh"
    this.eps = config.layer_norm_eps ?? 1e-12
    const prefix = weights.kind === "checkpoint" && !weights.has("embeddings.word_embeddings.weight") && weights.has("bert.embeddings.word_embeddings.weight") ? "bert." : ""
    const p = new ParamLoader(gpu, mem, weights, dtype, bertTensors(config), prefix)
    const norm = (q: string): Norm => ({ g: p.load(`${q}LayerNorm.weight`), b: p.load(`${q}LayerNorm.bias`) })
    this.words = p.load("embeddings.word_embeddings.weight")
    this.positions = p.load("embeddings.position_embeddings.weight")
    this.tokenTypes = p.load("embeddings.token_type_embeddings.weight")
    this.embNorm = norm("embeddings.")
    this.layers = Array.from({ length: config.num_hidden_layers }, (_, i) => {
      const l = `encoder.layer.${i}.`
      const a = `${l}attention.self.`
      return {
        wqkv: p.load(`${a}query.weight`, `${a}key.weight`, `${a}value.weight`),
        bqkv: p.load(`${a}query.bias`, `${a}key.bias`, `${a}value.bias`),
        wo: p.load(`${l}attention.output.dense.weight`), bo: p.load(`${l}attention.output.dense.bias`),
        ln1: norm(`${l}attention.output.`),
        wi: p.load(`${l}intermediate.dense.weight`), bi: p.load(`${l}intermediate.dense.bias`),
        wout: p.load(`${l}output.dense.weight`), bout: p.load(`${l}output.dense.bias`),
        ln2: norm(`${l}output.`),
      }
    })
    // BertModel(add_pooling_layer=False) checkpoints have no pooler.
    this.hasPooler = weights.kind === "synthetic" || weights.has(`${prefix}pooler.dense.weight`)
    this.poolW = this.hasPooler ? p.load("pooler.dense.weight") : undefined
    this.poolB = this.hasPooler ? p.load("pooler.dense.bias") : undefined
    this.weightBytes = p.bytes
  }

  get hidden(): number { return this.config.hidden_size }

  newScratch(mem: Memory, B: number, S: number): BertScratch {
    const { hidden_size: D, intermediate_size: F } = this.config
    const t = (shape: number[], label: string) => allocTensor(mem, shape, this.dtype, "stack", label)
    const T = B * S
    return {
      B, S,
      x: t([T, D], "x"), t: t([T, D], "t"), h: t([T, D], "h"), qkv: t([T, 3 * D], "qkv"), att: t([T, D], "att"),
      inter: t([T, F], "intermediate"), cls: t([B, D], "cls"), pool: t([B, D], "pool"),
    }
  }

  /**
   * Records the forward of a [B, S] batch (no readback), or replays the device's recording of an earlier forward with
   * the same arguments (`ForwardReplays`: the same shapes and tensors; the inputs' values are the caller's writes).
   */
  encode(args: BertArgs): void {
    this.replays.run(this.gpu, args, () => this.record(args))
  }

  /** The forward's device calls; a function of the model and of the arguments' structure only (see ForwardReplays). */
  private record(args: BertArgs): void {
    const { gpu, dtype, eps } = this
    const { B, S, scratch: s } = args
    const D = this.hidden
    const H = this.config.num_attention_heads
    const hd = D / H
    const T = B * S
    if (S > this.config.max_position_embeddings) throw engineError("Input", `bert: ${S} positions exceed max_position_embeddings ${this.config.max_position_embeddings}`)
    if (B > s.B || S !== s.S) throw engineError("Input", `bert: a [${B}, ${S}] batch does not fit the scratch for [${s.B}, ${s.S}]`)
    const linear = (x: Tensor, w: Tensor, b: Tensor, y: Tensor, N: number, K: number, M = T, activation?: "gelu_erf" | "gelu_tanh") =>
      matmul.linear(gpu, { x: binding(x), w: binding(w), b: binding(b), y: binding(y), M, N, K, wLayout: "nk", activation, dtype })
    // LayerNorm(x + res): res has resRows rows (fewer broadcast), each sum rounded as the add kernel stores it.
    const lnAdd = (x: Tensor, res: Tensor, n: Norm, y: Tensor, resRows = T) =>
      layernorm.encode(gpu, { x: binding(x), res: binding(res), resRows, gamma: binding(n.g), beta: binding(n.b), y: binding(y), rows: T, cols: D, eps, dtype })
    // Post-LN residual block: y = LayerNorm(res + (x·Wᵀ + b)). Where the GEMM splits K, the LayerNorm sums its f32
    // partials and adds the bias itself (matmul_reduce's pass fused: the same sums, rounded the same way); else the
    // GEMM's epilogue adds the bias into t and the LayerNorm adds the residual.
    const projectNorm = (x: Tensor, w: Tensor, b: Tensor, K: number, res: Tensor, n: Norm, y: Tensor) => {
      const parts = this.options.fusedNorms ? matmul.linearPartials(gpu, { x: binding(x), w: binding(w), M: T, N: D, K, wLayout: "nk", dtype }) : undefined
      if (parts === undefined) {
        linear(x, w, b, s.t, D, K)
        lnAdd(res, s.t, n, y)
        return
      }
      layernorm.encode(gpu, {
        x: parts.part, partials: { splits: parts.splits, bias: binding(b) }, res: binding(res), gamma: binding(n.g), beta: binding(n.b),
        y: binding(y), rows: T, cols: D, eps, dtype,
      })
    }
    const sum = (a: Tensor, b: Tensor, out: Tensor, bLen = T * D) => add.encode(gpu, { a: binding(a), b: binding(b), out: binding(out), n: T * D, bLen, dtype })

    // Embeddings: LayerNorm((word + position) + token type), the last add inside the LayerNorm.
    embedding.encode(gpu, { table: binding(this.words), ids: binding(args.ids), out: binding(s.t), T, D, dtype })
    // Positions 0…S−1 repeat for every sequence: the first S rows of the table, broadcast over the batch.
    sum(s.t, this.positions, s.x, S * D)
    if (args.tokenTypes !== undefined) {
      embedding.encode(gpu, { table: binding(this.tokenTypes), ids: binding(args.tokenTypes), out: binding(s.t), T, D, dtype })
      lnAdd(s.x, s.t, this.embNorm, s.h)
    } else {
      // Every token has type 0: the table's first row.
      lnAdd(s.x, this.tokenTypes, this.embNorm, s.h, 1)
    }
    // The hidden state lives in h between layers. A submit after the first layer and then every third lets the GPU
    // start while the CPU records the rest.
    for (const [i, L] of this.layers.entries()) {
      if (i === 1 || (i > 1 && i % 3 === 1)) gpu.submit()
      linear(s.h, L.wqkv, L.bqkv, s.qkv, 3 * D, D)
      attention.encode(gpu, {
        q: binding(s.qkv), k: binding(s.qkv), v: binding(s.qkv), out: binding(s.att), mask: args.mask && binding(args.mask),
        B, T: S, S, H, Hkv: H, headDim: hd, qStride: 3 * D, kStride: 3 * D, vStride: 3 * D, outStride: D,
        qOffset: 0, kOffset: D, vOffset: 2 * D, causal: false, scale: 1 / Math.sqrt(hd), dtype,
        kernel: this.options.attention === "stream" ? "stream" : undefined,
      })
      // Post-LN residuals: LayerNorm(h + o_proj(att)), then LayerNorm(x + down(GELU(up(x)))).
      projectNorm(s.att, L.wo, L.bo, D, s.h, L.ln1, s.x)
      linear(s.x, L.wi, L.bi, s.inter, this.config.intermediate_size, D, T, this.gelu)
      projectNorm(s.inter, L.wout, L.bout, this.config.intermediate_size, s.x, L.ln2, L === this.layers.at(-1) ? args.lastHidden : s.h)
    }
    if (this.layers.length === 0) copy2d.encode(gpu, { src: binding(s.h), dst: binding(args.lastHidden), rows: T, cols: D, srcStride: D, dstStride: D, dtype })
    if (args.pooled !== undefined) {
      if (this.poolW === undefined || this.poolB === undefined) throw engineError("Unsupported", "bert: this checkpoint has no pooler")
      copy2d.encode(gpu, { src: binding(args.lastHidden), dst: binding(s.cls), rows: B, cols: D, srcStride: S * D, dstStride: D, dtype })
      linear(s.cls, this.poolW, this.poolB, s.pool, D, D, B)
      tanh.encode(gpu, { x: binding(s.pool), y: binding(args.pooled), n: B * D, dtype })
    }
  }
}

export interface EncoderInputs {
  /** [B, S] token ids. */
  readonly inputIds: Int32Array
  readonly B: number
  readonly S: number
  readonly attentionMask?: Int32Array
  readonly tokenTypeIds?: Int32Array
}

export interface EncoderOutputs {
  /** [B, S, hidden]. */
  readonly lastHiddenState: Float32Array
  /** [B, hidden]; absent for checkpoints without a pooler. */
  readonly poolerOutput?: Float32Array
}

/** One encoder forward: uploads the inputs, records, reads back last_hidden_state and pooler_output (as f32). */
export const forwardEncoder = async (gpu: GpuDevice, mem: Memory, bert: Bert, inputs: EncoderInputs): Promise<EncoderOutputs> => {
  const { B, S } = inputs
  const V = bert.config.vocab_size
  const TV = bert.config.type_vocab_size ?? 2
  const n = B * S
  if (n === 0) throw engineError("Input", "the input is empty")
  for (const [name, data, limit] of [["input_ids", inputs.inputIds, V], ["token_type_ids", inputs.tokenTypeIds, TV], ["attention_mask", inputs.attentionMask, 2]] as const) {
    if (data === undefined) continue
    if (data.length !== n) throw engineError("Input", `${name} has ${data.length} values, expected ${B}×${S}`)
    for (const v of data) if (v < 0 || v >= limit) throw engineError("Input", `${name}: value ${v} is outside [0, ${limit})`)
  }
  const upload = (data: Int32Array, label: string): Tensor => {
    const t = allocTensor(mem, [B, S], "i32", "stack", label)
    gpu.writeBuffer(t.buffer, t.offset, new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
    return t
  }
  const io: Record<string, Tensor> = {
    ids: upload(inputs.inputIds, "input_ids"),
    lastHidden: allocTensor(mem, [B, S, bert.hidden], bert.dtype, "stack", "last_hidden_state"),
  }
  if (inputs.attentionMask !== undefined) io.mask = upload(inputs.attentionMask, "attention_mask")
  if (inputs.tokenTypeIds !== undefined) io.tokenTypes = upload(inputs.tokenTypeIds, "token_type_ids")
  if (bert.hasPooler) io.pooled = allocTensor(mem, [B, bert.hidden], bert.dtype, "stack", "pooler_output")
  const scratch = bert.newScratch(mem, B, S)
  try {
    bert.encode({ B, S, ids: io.ids, mask: io.mask, tokenTypes: io.tokenTypes, scratch, lastHidden: io.lastHidden, pooled: io.pooled })
    // Both readbacks in flight at once (one wait for the GPU, not two).
    const [lastHiddenState, poolerOutput] = await Promise.all([readTensor(gpu, io.lastHidden), io.pooled === undefined ? undefined : readTensor(gpu, io.pooled)])
    return poolerOutput === undefined ? { lastHiddenState } : { lastHiddenState, poolerOutput }
  } finally {
    releaseAll(mem, io)
    releaseAll(mem, scratch as unknown as Record<string, unknown>)
  }
}
