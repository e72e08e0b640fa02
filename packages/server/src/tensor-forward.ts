// Forwards of the models that take tensors rather than a token stream: encoders (BERT) and vision models (ResNet).
// Named input tensors in; outputs left on the request's stack, where the skeletonizer keeps them as refs or the
// reply reads their values. The protocol's Result has no output names, so their order is the convention:
//   encoder: last_hidden_state [B, S, hidden], then pooler_output [B, hidden] (when the checkpoint has a pooler);
//   vision:  logits [N, classes].
import { allocTensor, binding, encodeValues, type LoadedModel, type Memory, type Tensor as EngineTensor } from "@djinn/engine"
import { f16ToF32, type GpuDevice } from "@djinn/gpu"
import { cast } from "@djinn/kernels"
import type { Tensor } from "@djinn/protocol"
import { serverError } from "./errors.ts"
import type { HostTensor } from "./inputs.ts"

export interface TensorOutput {
  readonly name: string
  readonly tensor: EngineTensor
}

/** One encoder or vision request, checked for structure; values are checked against the model when it runs. */
export interface TensorForward {
  readonly kind: "encode" | "classify"
  /** The main input's shape ([B, S] ids, [N, C, H, W] images): the plan is cached per shape. */
  readonly shape: ReadonlyArray<number>
  /** Checks the inputs against the model and records the forward (no submit). Outputs in wire order. */
  readonly record: (device: GpuDevice, mem: Memory, model: LoadedModel) => ReadonlyArray<TensorOutput>
}

const ENCODER_INPUTS = ["input_ids", "attention_mask", "token_type_ids"] as const
/** `pixel_values` is HF's name for the same input. */
const VISION_INPUTS = ["input", "pixel_values"] as const

const bad = (message: string) => serverError("BadRequest", message)
const shapeText = (s: ReadonlyArray<number>) => `[${s.join(", ")}]`

/** i32 (or u32) bytes as an Int32Array of their own (the received bytes need not be 4-byte aligned). */
const int32s = (t: HostTensor): Int32Array => new Int32Array(new Uint8Array(t.data).buffer)

/** Values outside [0, limit) (u32 above 2^31 read as negative) would index past an embedding table. */
const checkRange = (name: string, values: Int32Array, limit: number): void => {
  for (const v of values) if (v < 0 || v >= limit) throw bad(`${name}: value ${v} is outside [0, ${limit})`)
}

const upload = (device: GpuDevice, mem: Memory, values: Int32Array, shape: readonly number[], label: string): EngineTensor => {
  const t = allocTensor(mem, shape, "i32", "stack", label)
  device.writeBuffer(t.buffer, t.offset, new Uint8Array(values.buffer, values.byteOffset, values.byteLength))
  return t
}

/** A BERT forward: `input_ids` i32 [B, S] (or [S]), optional `attention_mask` (1 attend, 0 padding), `token_type_ids`. */
export const encoderForward = (inputs: ReadonlyMap<string, HostTensor>): TensorForward => {
  const unknown = [...inputs.keys()].filter((n) => !(ENCODER_INPUTS as readonly string[]).includes(n))
  if (unknown.length > 0) throw bad(`an encoder takes ${ENCODER_INPUTS.join(", ")}; got ${unknown.join(", ")}`)
  const ids = inputs.get("input_ids")
  if (ids === undefined) throw bad("an encoder forward needs input_ids")
  if (ids.shape.length !== 1 && ids.shape.length !== 2) throw bad(`input_ids must be [B, S] or [S], got ${shapeText(ids.shape)}`)
  const [B, S] = ids.shape.length === 1 ? [1, ids.shape[0]] : [ids.shape[0], ids.shape[1]]
  if (B * S === 0) throw bad("the input is empty")
  for (const name of ENCODER_INPUTS) {
    const t = inputs.get(name)
    if (t === undefined) continue
    if (t.dtype !== "i32" && t.dtype !== "u32") throw bad(`${name} must be i32 or u32, got ${t.dtype}`)
    if (t.shape.length !== ids.shape.length || t.shape.some((d, i) => d !== ids.shape[i])) {
      throw bad(`${name} has shape ${shapeText(t.shape)}, input_ids ${shapeText(ids.shape)}`)
    }
  }
  return {
    kind: "encode",
    shape: [B, S],
    record: (device, mem, model) => {
      if (model.kind !== "encoder") throw serverError("Internal", `an encoder request ran on a ${model.kind} model`)
      const bert = model.model
      const values = new Map(ENCODER_INPUTS.flatMap((n) => (inputs.has(n) ? [[n, int32s(inputs.get(n)!)] as const] : [])))
      checkRange("input_ids", values.get("input_ids")!, bert.config.vocab_size)
      if (values.has("token_type_ids")) checkRange("token_type_ids", values.get("token_type_ids")!, bert.config.type_vocab_size ?? 2)
      if (values.has("attention_mask")) checkRange("attention_mask", values.get("attention_mask")!, 2)
      const on = (n: (typeof ENCODER_INPUTS)[number]) => (values.has(n) ? upload(device, mem, values.get(n)!, [B, S], n) : undefined)
      const lastHidden = allocTensor(mem, [B, S, bert.hidden], bert.dtype, "stack", "last_hidden_state")
      const pooled = bert.hasPooler ? allocTensor(mem, [B, bert.hidden], bert.dtype, "stack", "pooler_output") : undefined
      bert.encode({
        B, S, ids: on("input_ids")!, mask: on("attention_mask"), tokenTypes: on("token_type_ids"),
        scratch: bert.newScratch(mem, B, S), lastHidden, pooled,
      })
      return [{ name: "last_hidden_state", tensor: lastHidden }, ...(pooled === undefined ? [] : [{ name: "pooler_output", tensor: pooled }])]
    },
  }
}

/** A classifier forward: one image batch, `input` (or `pixel_values`) f32 or f16 [N, C, H, W]. */
export const visionForward = (inputs: ReadonlyMap<string, HostTensor>): TensorForward => {
  const names = [...inputs.keys()]
  if (names.length !== 1 || !(VISION_INPUTS as readonly string[]).includes(names[0])) {
    throw bad(`a vision model takes one input named ${VISION_INPUTS.join(" or ")}; got [${names.join(", ")}]`)
  }
  const given = inputs.get(names[0])!
  if (given.dtype !== "f32" && given.dtype !== "f16") throw bad(`${names[0]} must be f32 or f16, got ${given.dtype}`)
  const images = { ...given, dtype: given.dtype }
  if (images.shape.length !== 4) throw bad(`${names[0]} must be [N, C, H, W], got ${shapeText(images.shape)}`)
  const [N, C, H, W] = images.shape
  if (N < 1 || H < 32 || W < 32) throw bad(`${names[0]} ${shapeText(images.shape)} is too small (N ≥ 1, H and W ≥ 32)`)
  return {
    kind: "classify",
    shape: [N, C, H, W],
    record: (device, mem, model) => {
      if (model.kind !== "vision") throw serverError("Internal", `a vision request ran on a ${model.kind} model`)
      const net = model.model
      if (C !== net.inChannels) throw bad(`${names[0]} has ${C} channels, the model takes ${net.inChannels}`)
      // An NHWC model gathers an f32 batch into its f16 stem rows itself (the cast is fused into its im2col).
      const takes = images.dtype === "f32" && net.layout === "nhwc" ? "f32" : net.dtype
      const input = allocTensor(mem, [N, C, H, W], takes, "stack", "input")
      if (images.dtype === takes) {
        device.writeBuffer(input.buffer, input.offset, images.data) // writeBuffer copies: the received bytes as they are
      } else if (device.adapter.f16) {
        // The other float type: uploaded as sent and cast on the GPU (a CPU conversion costs ~20 ns a value).
        const sent = allocTensor(mem, [N, C, H, W], images.dtype, "stack", "input_sent")
        device.writeBuffer(sent.buffer, sent.offset, images.data)
        cast.encode(device, { x: binding(sent), y: binding(input), n: N * C * H * W, to: net.dtype })
      } else {
        device.writeBuffer(input.buffer, input.offset, encodeValues(valuesOf(images), net.dtype))
      }
      const logits = allocTensor(mem, [N, net.numClasses], net.dtype, "stack", "logits")
      net.encode({ input, logits, scratch: net.newScratch(mem, N, H, W) })
      return [{ name: "logits", tensor: logits }]
    },
  }
}

/** f32 values of an f32 or f16 tensor. */
export const valuesOf = (t: { readonly dtype: string; readonly data: Uint8Array }): Float32Array => {
  const copy = new Uint8Array(t.data).buffer
  return t.dtype === "f16" ? f16ToF32(new Uint16Array(copy)) : new Float32Array(copy)
}

/** The index of the largest value in each row of a [rows, n] tensor (a classifier's top-1 classes). */
export const rowArgmax = (t: Tensor): number[] => {
  const values = valuesOf(t)
  const n = t.shape[t.shape.length - 1]
  const out: number[] = []
  for (let r = 0; r * n < values.length; r++) {
    let best = 0
    for (let i = 1; i < n; i++) if (values[r * n + i] > values[r * n + best]) best = i
    out.push(best)
  }
  return out
}
