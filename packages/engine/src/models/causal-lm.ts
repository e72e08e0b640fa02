import type { DType, GpuDevice } from "@djinn/gpu"
import { argmax } from "@djinn/kernels"
import { engineError } from "../errors.ts"
import { allocTensor, binding, readTensor, type Memory, type Tensor } from "../memory.ts"

/** One session's KV cache: per layer, keys and values [capacity, kvDim]; `length` tokens are filled. */
export interface KvCache {
  readonly capacity: number
  length: number
  readonly keys: readonly Tensor[]
  readonly values: readonly Tensor[]
  /** Where keys and values are views of one allocation (layer l's keys at l·stride, values at (L + l)·stride). */
  readonly slab?: { readonly tensor: Tensor; readonly strideElements: number }
}

export interface DecodeArgs {
  /** i32 ids: token t is read from ids[idsOffset + t] and its successor written to ids[idsOffset + t + 1]. */
  readonly ids: Tensor
  readonly idsOffset: number
  readonly n: number
  readonly cache: KvCache
}

export interface StepArgs {
  /** i32 token ids on the GPU; the step reads ids[idsOffset … idsOffset+T). */
  readonly ids: Tensor
  readonly idsOffset: number
  readonly T: number
  readonly cache: KvCache
  /** Activation buffers from `newScratch`, for at least T tokens. */
  readonly scratch: unknown
  /** Output logits: [T, vocab] with allLogits, else [1, vocab] for the last token. */
  readonly logits: Tensor
  readonly allLogits: boolean
}

/**
 * A decoder-only LM the generation loop can drive: every method only records GPU work (a long `step` may submit part
 * of what it recorded, so that the GPU starts early; the caller submits the rest).
 */
export interface CausalLM {
  readonly dtype: DType
  readonly vocabSize: number
  readonly maxPositions: number
  readonly weightBytes: number
  newCache(mem: Memory, capacity: number): KvCache
  newScratch(mem: Memory, capacity: number): unknown
  kvBytesPerToken(): number
  step(args: StepArgs): void
  /**
   * Optional fused greedy decode: records n steps (each one's argmax feeding the next) as one piece of GPU work and
   * returns true, or returns false having recorded nothing (the caller then runs `step` + argmax per token).
   */
  decodeGreedy?(args: DecodeArgs): boolean
}

export interface GenerateOptions {
  readonly maxNewTokens: number
  /** Called with newly available tokens, in order, while generation runs. */
  readonly onTokens?: (tokens: readonly number[]) => void
  /** Read tokens back every this many steps for streaming (default: only at the end). */
  readonly streamEvery?: number
  /** Reuse a session's cache: the prompt is appended after what it already holds. */
  readonly cache?: KvCache
  /** Use the model's fused greedy decode where it has one (default true; false forces one step per token). */
  readonly fused?: boolean
  /**
   * The caller reads the logits tensor (label "logits") after generation: it must hold the last step's logits, so the
   * last token runs as a per-op step (the fused decode computes logits but keeps none). Default false.
   */
  readonly lastLogits?: boolean
}

export interface GenerateResult {
  readonly tokens: number[]
  readonly promptTokens: number
  readonly cache: KvCache
}

const checkIds = (model: CausalLM, ids: readonly number[]) => {
  for (const id of ids) {
    if (!Number.isInteger(id) || id < 0 || id >= model.vocabSize) throw engineError("Input", `token id ${id} is outside the vocabulary [0, ${model.vocabSize})`)
  }
}

/**
 * Greedy generation with the loop on the GPU: argmax writes each next token into the ids buffer, where the next step's
 * embedding reads it, so no step waits for the CPU. Each step is its own submit (the CPU encodes step n+1 while the GPU
 * runs step n); tokens come back by asynchronous reads — every `streamEvery` steps when streaming, else once.
 */
export const generate = async (gpu: GpuDevice, mem: Memory, model: CausalLM, prompt: readonly number[], options: GenerateOptions): Promise<GenerateResult> => {
  const N = options.maxNewTokens
  const P = prompt.length
  if (P === 0) throw engineError("Input", "the prompt is empty")
  if (!Number.isInteger(N) || N < 0) throw engineError("Input", `max new tokens must be a non-negative integer, got ${N}`)
  checkIds(model, prompt)
  const cache = options.cache ?? model.newCache(mem, Math.min(model.maxPositions, P + Math.max(N, 1)))
  const start = cache.length
  if (start + P + N > cache.capacity) throw engineError("Input", `${start} cached + ${P} prompt + ${N} new tokens exceed the cache capacity ${cache.capacity}`)
  const ids = allocTensor(mem, [P + N + 1], "i32", "stack", "ids")
  const scratch = model.newScratch(mem, P)
  const logits = allocTensor(mem, [1, model.vocabSize], model.dtype, "stack", "logits")
  const stack = [ids, logits]
  try {
    gpu.writeBuffer(ids.buffer, ids.offset, new Uint8Array(Int32Array.from(prompt).buffer))
    const every = options.streamEvery ?? 0
    const reads: Promise<void>[] = []
    let delivered = 0
    const deliver = (upTo: number) => {
      const from = delivered
      if (upTo <= from) return
      delivered = upTo
      reads.push(gpu.read(ids.buffer, ids.offset + (P + from) * 4, (upTo - from) * 4).then((raw) => {
        options.onTokens?.(Array.from(new Int32Array(raw.buffer, raw.byteOffset, upTo - from)))
      }))
    }
    for (let i = 0; i < Math.max(N, 1);) {
      const prefill = i === 0
      // Token i reads ids[P + i − 1] and writes ids[P + i]: the fused path runs up to the next streaming read in one go.
      // With lastLogits the final token is left to a per-op step, whose logits stay in the logits tensor.
      const last = options.lastLogits === true ? 1 : 0
      const fused = prefill ? 0 : Math.max(0, every > 0 ? Math.min(N - last - i, every - (i % every)) : N - last - i)
      if (fused > 0 && options.fused !== false && model.decodeGreedy?.({ ids, idsOffset: P + i - 1, n: fused, cache }) === true) {
        gpu.submit()
        i += fused
        if (every > 0 && i % every === 0) deliver(i)
        continue
      }
      model.step({ ids, idsOffset: prefill ? 0 : P + i - 1, T: prefill ? P : 1, cache, scratch, logits, allLogits: false })
      if (N > 0) argmax.encode(gpu, { x: binding(logits), out: binding(ids), rows: 1, cols: model.vocabSize, outOffset: P + i, dtype: model.dtype })
      gpu.submit()
      i++
      if (every > 0 && i % every === 0) deliver(i)
    }
    if (every > 0) deliver(N)
    const all = await gpu.read(ids.buffer, ids.offset + P * 4, Math.max(N, 1) * 4)
    await Promise.all(reads)
    const tokens = N === 0 ? [] : Array.from(new Int32Array(all.buffer, all.byteOffset, N))
    if (every === 0 && N > 0) options.onTokens?.(tokens)
    // The last generated token is not in the cache yet; the next request feeds it like any prompt token.
    return { tokens, promptTokens: P, cache }
  } finally {
    for (const t of stack) mem.release({ buffer: t.buffer, offset: t.offset, size: 0 })
    releaseScratch(mem, scratch)
  }
}

export const releaseScratch = (mem: Memory, scratch: unknown): void => {
  for (const t of Object.values(scratch as Record<string, unknown>)) {
    if (typeof t === "object" && t !== null && "buffer" in t) mem.release({ buffer: (t as Tensor).buffer, offset: (t as Tensor).offset, size: 0 })
  }
}

/** One forward over the whole prompt (a fresh cache), reading back all logits [T, vocab] or only the last row's. */
const forwardPrompt = async (gpu: GpuDevice, mem: Memory, model: CausalLM, prompt: readonly number[], allLogits: boolean): Promise<Float32Array> => {
  checkIds(model, prompt)
  const T = prompt.length
  if (T === 0) throw engineError("Input", "the input is empty")
  const cache = model.newCache(mem, T)
  const ids = allocTensor(mem, [T], "i32", "stack", "ids")
  const scratch = model.newScratch(mem, T)
  const logits = allocTensor(mem, [allLogits ? T : 1, model.vocabSize], model.dtype, "stack", "logits")
  try {
    gpu.writeBuffer(ids.buffer, ids.offset, new Uint8Array(Int32Array.from(prompt).buffer))
    model.step({ ids, idsOffset: 0, T, cache, scratch, logits, allLogits })
    return await readTensor(gpu, logits)
  } finally {
    for (const t of [ids, logits, ...cache.keys, ...cache.values]) mem.release({ buffer: t.buffer, offset: t.offset, size: 0 })
    releaseScratch(mem, scratch)
  }
}

/** The last position's logits [vocab] as f32 (what a prefill needs: no [T, vocab] readback). */
export const forwardLastLogits = (gpu: GpuDevice, mem: Memory, model: CausalLM, prompt: readonly number[]): Promise<Float32Array> =>
  forwardPrompt(gpu, mem, model, prompt, false)

/** All logits [T, vocab] as f32. */
export const forwardLogits = (gpu: GpuDevice, mem: Memory, model: CausalLM, prompt: readonly number[]): Promise<Float32Array> =>
  forwardPrompt(gpu, mem, model, prompt, true)
