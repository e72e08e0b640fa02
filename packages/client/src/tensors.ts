// Tensors as a forward sends and receives them: typed arrays in, wire tensors out, and the names of a forward's
// outputs (the protocol's Result carries none — the server's order is the convention; see the server's README).
import { f16ToF32, f32ToF16 } from "@djinn/gpu"
import { DTYPE_BYTES, shapeElements, type DType, type Tensor } from "@djinn/protocol"
import { clientError } from "./errors.ts"

/** A tensor to send: dtype + bytes, or a typed array whose type is the dtype (Float32Array f32, Int32Array i32…). */
export type TensorData =
  | { readonly dtype: DType; readonly shape: ReadonlyArray<number>; readonly data: Uint8Array }
  | { readonly shape: ReadonlyArray<number>; readonly data: Float32Array | Int32Array | Uint32Array }

const dtypeOf = (data: TensorData["data"]): DType | undefined =>
  data instanceof Float32Array ? "f32" : data instanceof Int32Array ? "i32" : data instanceof Uint32Array ? "u32" : undefined

/** A tensor in wire form; the bytes are a view of the caller's array (no copy). */
export const wireTensor = (name: string, t: TensorData): Tensor => {
  const dtype = "dtype" in t ? t.dtype : dtypeOf(t.data)
  if (dtype === undefined) throw clientError("Input", `input ${name}: give a dtype, or a Float32Array / Int32Array / Uint32Array`)
  const data = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)
  const want = (shapeElements(t.shape) ?? Infinity) * DTYPE_BYTES[dtype]
  if (data.byteLength !== want) throw clientError("Input", `input ${name}: ${data.byteLength} bytes for shape [${t.shape.join(", ")}] of ${dtype} (needs ${want})`)
  return { dtype, shape: [...t.shape], data }
}

/** f32 values as IEEE half bits (round to nearest even): @djinn/gpu's fast `f32ToF16`, for shipping images in f16. */
export const toF16 = (values: Float32Array): Uint16Array => f32ToF16(values)

/** The values of an f32 or f16 tensor as f32 (a copy: decoded replies are views into the received frame). */
export const tensorValues = (t: { readonly dtype: DType; readonly data: Uint8Array }): Float32Array => {
  const copy = new Uint8Array(t.data).buffer
  if (t.dtype === "f16") return f16ToF32(new Uint16Array(copy))
  if (t.dtype === "f32") return new Float32Array(copy)
  throw clientError("Input", `a ${t.dtype} tensor has no float values`)
}

/**
 * The names of a forward's outputs, from their shapes in the server's order: an encoder's first output is rank 3
 * (last_hidden_state [B, S, hidden], then pooler_output [B, hidden]); a vision model's only one, and a causal LM's
 * kept logits, are `logits`.
 */
export const outputNames = (shapes: ReadonlyArray<ReadonlyArray<number>>): string[] =>
  shapes.length > 0 && shapes[0].length === 3 ? ["last_hidden_state", "pooler_output"].slice(0, shapes.length) : shapes.map((_, i) => (i === 0 ? "logits" : `output_${i}`))
