import type { DType, GpuDevice } from "@djinn/gpu"
import { attention, copy2d, embedding, gpt2_decode, layernorm, matmul } from "@djinn/kernels"
import { Schema } from "effect"
import { engineError } from "../errors.ts"
import { alignUp, allocTensor, binding, encodeValues, numel, uploadTensor, type Memory, type Tensor } from "../memory.ts"
import type { WeightSource } from "../weights.ts"
import type { CausalLM, DecodeArgs, KvCache, StepArgs } from "./causal-lm.ts"

export const Gpt2Config = Schema.Struct({
  model_type: Schema.Literal("gpt2"),
  vocab_size: Schema.Int,
  n_positions: Schema.Int,
  n_embd: Schema.Int,
  n_layer: Schema.Int,
  n_head: Schema.Int,
  n_inner: Schema.optional(Schema.NullOr(Schema.Int)),
  layer_norm_epsilon: Schema.optional(Schema.Number),
  activation_function: Schema.optional(Schema.String),
})
export type Gpt2Config = typeof Gpt2Config.Type

/** A layer's tensors: its field here and its HF name after `h.{i}.`, in the order gpt2_decode's offset table expects. */
const LAYER_TENSORS = [
  ["ln1g", "ln_1.weight"], ["ln1b", "ln_1.bias"], ["attnW", "attn.c_attn.weight"], ["attnB", "attn.c_attn.bias"],
  ["projW", "attn.c_proj.weight"], ["projB", "attn.c_proj.bias"], ["ln2g", "ln_2.weight"], ["ln2b", "ln_2.bias"],
  ["fcW", "mlp.c_fc.weight"], ["fcB", "mlp.c_fc.bias"], ["fcProjW", "mlp.c_proj.weight"], ["fcProjB", "mlp.c_proj.bias"],
] as const
type LayerField = (typeof LAYER_TENSORS)[number][0]
type Layer = Record<LayerField, Tensor>

/** Activation buffers for up to `capacity` tokens per forward (the stack segment). */
interface Scratch {
  readonly capacity: number
  x: Tensor; x2: Tensor; h: Tensor; qkv: Tensor; att: Tensor; mlp: Tensor; last: Tensor
}

/**
 * GPT-2 (`GPT2LMHeadModel`): HF tensor names, `Conv1D` weights stored [in, out], lm_head tied to wte.
 * Forward = embeddings (wte + wpe) → n_layer × (ln_1 → c_attn → attention over the KV cache → c_proj → residual →
 * ln_2 → c_fc + gelu_new → c_proj → residual) → ln_f → lm_head.
 */
export class Gpt2 implements CausalLM {
  readonly config: Gpt2Config
  readonly dtype: DType
  readonly vocabSize: number
  readonly maxPositions: number
  private readonly gpu: GpuDevice
  private readonly wte: Tensor
  private readonly wpe: Tensor
  private readonly layers: Layer[]
  private readonly lnfG: Tensor
  private readonly lnfB: Tensor
  private readonly eps: number
  private readonly gelu: "gelu_tanh" | "gelu_erf"
  readonly weightBytes: number
  /**
   * Small models (gpt2_decode.fits): every weight lives in one allocation, so that the fused decode kernel binds them
   * all at once; `offsets` is the kernel's table of element offsets into `packed`. Undefined for larger models.
   */
  private readonly packed: { readonly weights: Tensor; readonly offsets: Tensor } | undefined

  constructor(gpu: GpuDevice, mem: Memory, config: Gpt2Config, weights: WeightSource, dtype: DType) {
    this.gpu = gpu
    this.config = config
    this.dtype = dtype
    this.vocabSize = config.vocab_size
    this.maxPositions = config.n_positions
    this.eps = config.layer_norm_epsilon ?? 1e-5
    const act = config.activation_function ?? "gelu_new"
    if (!["gelu_new", "gelu_pytorch_tanh", "gelu"].includes(act)) throw engineError("Unsupported", `gpt2: activation_function '${act}' is not supported`)
    this.gelu = act === "gelu" ? "gelu_erf" : "gelu_tanh"
    const { n_embd: D, vocab_size: V, n_positions: P } = config
    if (D % config.n_head !== 0) throw engineError("Config", `gpt2: n_embd ${D} is not a multiple of n_head ${config.n_head}`)
    const F = config.n_inner ?? 4 * D
    let bytes = 0
    const prefix = weights.has("transformer.wte.weight") || weights.kind === "synthetic" ? "transformer." : ""
    const eb = dtype === "f16" ? 2 : 4
    const H = config.n_head
    const layerShapes: Record<LayerField, number[]> = {
      ln1g: [D], ln1b: [D], attnW: [D, 3 * D], attnB: [3 * D], projW: [D, D], projB: [D],
      ln2g: [D], ln2b: [D], fcW: [D, F], fcB: [F], fcProjW: [F, D], fcProjB: [D],
    }
    // Every tensor by HF name (after the prefix), in the order of gpt2_decode's offset table.
    const shapes: [string, number[]][] = [["wte.weight", [V, D]], ["wpe.weight", [P, D]], ["ln_f.weight", [D]], ["ln_f.bias", [D]]]
    for (let i = 0; i < config.n_layer; i++) for (const [field, name] of LAYER_TENSORS) shapes.push([`h.${i}.${name}`, layerShapes[field]])
    // Each tensor of the packed allocation starts 256-byte aligned, so the per-op kernels bind it as they would alone.
    const starts: number[] = []
    let total = 0
    for (const [, shape] of shapes) { starts.push(total); total = alignUp(total + numel(shape) * eb) }
    const pack = gpt2_decode.fits({ L: config.n_layer, D, H, F, V }, 1) && total <= (gpu.adapter.limits.maxStorageBufferBindingSize ?? 0)
    const slab = pack ? allocTensor(mem, [total / eb], dtype, "text", "gpt2 weights") : undefined
    const index = new Map(shapes.map(([name], i) => [name, i]))
    const load = (name: string): Tensor => {
      const i = index.get(name)!
      const shape = shapes[i][1]
      bytes += numel(shape) * eb
      if (slab === undefined) return uploadTensor(gpu, mem, weights.get(prefix + name, shape), shape, dtype, "text", name)
      const t: Tensor = { buffer: slab.buffer, offset: slab.offset + starts[i], shape, dtype }
      gpu.writeBuffer(t.buffer, t.offset, encodeValues(weights.get(prefix + name, shape), dtype))
      return t
    }
    this.wte = load("wte.weight")
    this.wpe = load("wpe.weight")
    this.layers = Array.from({ length: config.n_layer }, (_, i) =>
      Object.fromEntries(LAYER_TENSORS.map(([field, name]) => [field, load(`h.${i}.${name}`)])) as unknown as Layer)
    this.lnfG = load("ln_f.weight")
    this.lnfB = load("ln_f.bias")
    this.weightBytes = bytes
    if (slab === undefined) this.packed = undefined
    else {
      const offsets = allocTensor(mem, [shapes.length], "i32", "text", "gpt2 weight offsets")
      gpu.writeBuffer(offsets.buffer, offsets.offset, new Uint8Array(Uint32Array.from(starts, (b) => b / eb).buffer))
      this.packed = { weights: slab, offsets }
    }
  }

  private get D() { return this.config.n_embd }
  private get F() { return this.config.n_inner ?? 4 * this.config.n_embd }

  newCache(mem: Memory, capacity: number): KvCache {
    if (capacity > this.maxPositions) throw engineError("Input", `gpt2: ${capacity} positions exceed n_positions ${this.maxPositions}`)
    const D = this.D
    const L = this.layers.length
    if (this.packed !== undefined && capacity <= gpt2_decode.LIMITS.S) {
      // One slab for every layer's keys and values (each 256-byte aligned), which the fused decode kernel binds whole.
      const eb = this.dtype === "f16" ? 2 : 4
      const stride = alignUp(capacity * D * eb)
      const slab = allocTensor(mem, [(2 * L * stride) / eb], this.dtype, "data", "kv")
      const view = (j: number): Tensor => ({ buffer: slab.buffer, offset: slab.offset + j * stride, shape: [capacity, D], dtype: this.dtype })
      return {
        capacity,
        length: 0,
        keys: this.layers.map((_, i) => view(i)),
        values: this.layers.map((_, i) => view(L + i)),
        slab: { tensor: slab, strideElements: stride / eb },
      }
    }
    return {
      capacity,
      length: 0,
      keys: this.layers.map((_, i) => allocTensor(mem, [capacity, D], this.dtype, "data", `k${i}`)),
      values: this.layers.map((_, i) => allocTensor(mem, [capacity, D], this.dtype, "data", `v${i}`)),
    }
  }

  /**
   * Records greedy decode of `n` tokens in one dispatch (gpt2_decode): ids[idsOffset + t] in, ids[idsOffset + t + 1]
   * out, the cache advanced by n. False (nothing recorded) where the model or the cache is outside the kernel's limits.
   */
  decodeGreedy(args: DecodeArgs): boolean {
    const { cache, n } = args
    const slab = cache.slab
    if (this.packed === undefined || slab === undefined || n <= 0) return false
    const { D, F } = this
    const shape = { L: this.layers.length, D, H: this.config.n_head, F, V: this.vocabSize }
    if (!gpt2_decode.fits(shape, cache.length + n) || cache.length + n > cache.capacity) return false
    gpt2_decode.encode(this.gpu, {
      ...shape, weights: binding(this.packed.weights), offsets: binding(this.packed.offsets),
      kv: binding(slab.tensor), kvBase: 0, kvStride: slab.strideElements, ids: binding(args.ids), idsIn: args.idsOffset,
      pos0: cache.length, n, eps: this.eps, gelu: this.gelu, dtype: this.dtype,
    })
    cache.length += n
    return true
  }

  kvBytesPerToken(): number {
    return 2 * this.config.n_layer * this.D * (this.dtype === "f16" ? 2 : 4)
  }

  newScratch(mem: Memory, capacity: number): Scratch {
    const { D, F, dtype } = this
    const t = (shape: number[], label: string) => allocTensor(mem, shape, dtype, "stack", label)
    return {
      capacity,
      x: t([capacity, D], "x"), x2: t([capacity, D], "x2"), h: t([capacity, D], "h"), qkv: t([capacity, 3 * D], "qkv"),
      att: t([capacity, D], "att"), mlp: t([capacity, F], "mlp"), last: t([1, D], "last"),
    }
  }

  /** Records one forward over T tokens at positions pos0…pos0+T−1 (no submit, no readback). */
  step(args: StepArgs): void {
    const { gpu, dtype, D, F, eps } = this
    const { ids, idsOffset, T, cache, logits, allLogits } = args
    const scratch = args.scratch as Scratch
    const pos0 = cache.length
    if (T > scratch.capacity) throw engineError("Input", `gpt2: ${T} tokens exceed the scratch capacity ${scratch.capacity}`)
    if (pos0 + T > cache.capacity) throw engineError("Input", `gpt2: position ${pos0 + T} exceeds the KV cache capacity ${cache.capacity}`)
    const H = this.config.n_head
    const hd = D / H
    const s = scratch
    embedding.encode(gpu, { table: binding(this.wte), ids: binding(ids), out: binding(s.x), T, D, idsOffset, pos: binding(this.wpe), posOffset: pos0, dtype })
    for (let i = 0; i < this.layers.length; i++) {
      const L = this.layers[i]
      layernorm.encode(gpu, { x: binding(s.x), gamma: binding(L.ln1g), beta: binding(L.ln1b), y: binding(s.h), rows: T, cols: D, eps, dtype })
      matmul.linear(gpu, { x: binding(s.h), w: binding(L.attnW), b: binding(L.attnB), y: binding(s.qkv), M: T, N: 3 * D, K: D, wLayout: "kn", dtype })
      copy2d.encode(gpu, { src: binding(s.qkv), dst: binding(cache.keys[i]), rows: T, cols: D, srcStride: 3 * D, dstStride: D, srcOffset: D, dstOffset: pos0 * D, dtype })
      copy2d.encode(gpu, { src: binding(s.qkv), dst: binding(cache.values[i]), rows: T, cols: D, srcStride: 3 * D, dstStride: D, srcOffset: 2 * D, dstOffset: pos0 * D, dtype })
      attention.encode(gpu, {
        q: binding(s.qkv), k: binding(cache.keys[i]), v: binding(cache.values[i]), out: binding(s.att),
        B: 1, T, S: pos0 + T, H, Hkv: H, headDim: hd, qStride: 3 * D, kStride: D, vStride: D, outStride: D,
        causal: true, queryPos0: pos0, scale: 1 / Math.sqrt(hd), dtype,
      })
      // The residual adds in the projections' epilogues.
      matmul.linear(gpu, { x: binding(s.att), w: binding(L.projW), b: binding(L.projB), y: binding(s.x2), residual: binding(s.x), M: T, N: D, K: D, wLayout: "kn", dtype })
      layernorm.encode(gpu, { x: binding(s.x2), gamma: binding(L.ln2g), beta: binding(L.ln2b), y: binding(s.h), rows: T, cols: D, eps, dtype })
      matmul.linear(gpu, { x: binding(s.h), w: binding(L.fcW), b: binding(L.fcB), y: binding(s.mlp), M: T, N: F, K: D, wLayout: "kn", activation: this.gelu, dtype })
      matmul.linear(gpu, { x: binding(s.mlp), w: binding(L.fcProjW), b: binding(L.fcProjB), y: binding(s.x), residual: binding(s.x2), M: T, N: D, K: F, wLayout: "kn", dtype })
    }
    if (allLogits) {
      layernorm.encode(gpu, { x: binding(s.x), gamma: binding(this.lnfG), beta: binding(this.lnfB), y: binding(s.h), rows: T, cols: D, eps, dtype })
      matmul.linear(gpu, { x: binding(s.h), w: binding(this.wte), y: binding(logits), M: T, N: this.vocabSize, K: D, wLayout: "nk", dtype })
    } else {
      copy2d.encode(gpu, { src: binding(s.x), dst: binding(s.last), rows: 1, cols: D, srcStride: D, dstStride: D, srcOffset: (T - 1) * D, dstOffset: 0, dtype })
      layernorm.encode(gpu, { x: binding(s.last), gamma: binding(this.lnfG), beta: binding(this.lnfB), y: binding(s.h), rows: 1, cols: D, eps, dtype })
      matmul.linear(gpu, { x: binding(s.h), w: binding(this.wte), y: binding(logits), M: 1, N: this.vocabSize, K: D, wLayout: "nk", dtype })
    }
    cache.length = pos0 + T
  }
}
