// Building blocks shared by the message kinds: ids, dtypes, shapes, tensors, references, hints, profile.
import { Schema } from "effect"

/** Bounds every decoded value must respect; the decoder checks them before trusting a length or shape. */
export const Limits = {
  maxRank: 8,
  maxDim: 2 ** 31,
  /** Bound on product(shape) for any tensor or reference: 2^40 elements (4 TiB of f32), far above any GPU. */
  maxElements: 2 ** 40,
  maxU32: 0xffff_ffff,
} as const

const u32 = Schema.Number.check(Schema.isInt(), Schema.isBetween({ minimum: 0, maximum: Limits.maxU32 }))
/** Wire UInt64 values travel as JS numbers, so they must stay exact: 0 … 2^53 − 1. */
const u53 = Schema.Number.check(Schema.isInt(), Schema.isBetween({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }))

export const U32 = u32
export const U64 = u53

export const RequestId = u32.pipe(Schema.brand("RequestId"))
export type RequestId = typeof RequestId.Type
export const SessionId = u53.pipe(Schema.brand("SessionId"))
export type SessionId = typeof SessionId.Type
export const ModelHandle = u53.pipe(Schema.brand("ModelHandle"))
export type ModelHandle = typeof ModelHandle.Type
export const RefId = u53.pipe(Schema.brand("RefId"))
export type RefId = typeof RefId.Type
export const BufferId = u53.pipe(Schema.brand("BufferId"))
export type BufferId = typeof BufferId.Type
export const PipelineId = u53.pipe(Schema.brand("PipelineId"))
export type PipelineId = typeof PipelineId.Type

/** Order matches the capnp `DType` enum ordinals. */
export const DTYPES = ["f32", "f16", "i32", "u32", "i8", "u8", "bf16"] as const
export const DType = Schema.Literals(DTYPES)
export type DType = typeof DType.Type
export const DTYPE_BYTES: Readonly<Record<DType, number>> = { f32: 4, f16: 2, i32: 4, u32: 4, i8: 1, u8: 1, bf16: 2 }

/** product(shape), or undefined once it passes Limits.maxElements (checked per step, so it cannot overflow). */
export const shapeElements = (shape: ReadonlyArray<number>): number | undefined => {
  let n = 1
  for (const d of shape) {
    n *= d
    if (n > Limits.maxElements) return undefined
  }
  return n
}

export const Shape = Schema.Array(Schema.Number.check(Schema.isInt(), Schema.isBetween({ minimum: 0, maximum: Limits.maxDim })))
  .check(Schema.isMaxLength(Limits.maxRank))
  .check(Schema.makeFilter((s) => shapeElements(s) !== undefined || `product of shape exceeds ${Limits.maxElements} elements`))
export type Shape = typeof Shape.Type

const byteSizeOf = (dtype: DType, shape: ReadonlyArray<number>): number => (shapeElements(shape) ?? Infinity) * DTYPE_BYTES[dtype]

/** A dense tensor carried inline. `data` is a view into the received message (zero-copy) when decoded. */
export const Tensor = Schema.Struct({ dtype: DType, shape: Shape, data: Schema.Uint8Array }).check(
  Schema.makeFilter((t) =>
    t.data.byteLength === byteSizeOf(t.dtype, t.shape) ||
    `data has ${t.data.byteLength} bytes, shape [${t.shape.join(",")}] of ${t.dtype} needs ${byteSizeOf(t.dtype, t.shape)}`,
  ),
)
export type Tensor = typeof Tensor.Type

export const NamedTensor = Schema.Struct({ name: Schema.String, tensor: Tensor })
export type NamedTensor = typeof NamedTensor.Type

/** A tensor kept on the server (skeletonization); fetch its bytes with FetchRef, release it with FreeRefs. */
export const RemoteRef = Schema.Struct({ id: RefId, dtype: DType, shape: Shape, byteSize: U64 }).check(
  Schema.makeFilter((r) => r.byteSize === byteSizeOf(r.dtype, r.shape) || `byteSize ${r.byteSize} does not match shape and dtype`),
)
export type RemoteRef = typeof RemoteRef.Type

/** A request input: inline tensor bytes, or a reference the server already holds. */
export const Input = Schema.Union([
  Schema.Struct({ name: Schema.String, tensor: Tensor }),
  Schema.Struct({ name: Schema.String, ref: RefId }),
])
export type Input = typeof Input.Type

export const PHASES = ["auto", "prefill", "decode", "vision"] as const
export const Phase = Schema.Literals(PHASES)
export type Phase = typeof Phase.Type
export const PRIORITIES = ["interactive", "realtime", "batch"] as const
export const Priority = Schema.Literals(PRIORITIES)
export type Priority = typeof Priority.Type

/** Semantic hints; kvBudgetBytes 0 = the server's default arena size. */
export const Hints = Schema.Struct({
  phase: Phase,
  priority: Priority,
  expectedTokens: U32,
  kvBudgetBytes: U64,
  finalize: Schema.Boolean,
})
export type Hints = typeof Hints.Type

/** Server time per phase in milliseconds (float64 on the wire). */
export const Profile = Schema.Struct({
  queueMs: Schema.Number,
  planMs: Schema.Number,
  placementMs: Schema.Number,
  executionMs: Schema.Number,
  skeletonizationMs: Schema.Number,
  cleanupMs: Schema.Number,
  durationMs: Schema.Number,
})
export type Profile = typeof Profile.Type

/** `fingerprint` "" = any content. */
export const ModelKey = Schema.Struct({ id: Schema.String, fingerprint: Schema.String })
export type ModelKey = typeof ModelKey.Type

export const TensorInfo = Schema.Struct({ name: Schema.String, dtype: DType, shape: Shape })
export type TensorInfo = typeof TensorInfo.Type

export const Want = Schema.Struct({ tokens: Schema.Boolean, lastLogits: Schema.Boolean, refs: Schema.Boolean })
export type Want = typeof Want.Type

/** temperature 0 = greedy; stream = send a TokenEvent per token before the Result. */
export const GenerationParams = Schema.Struct({
  maxNewTokens: U32,
  temperature: Schema.Number,
  topK: U32,
  topP: Schema.Number,
  seed: U64,
  stopTokens: Schema.Array(U32),
  stream: Schema.Boolean,
})
export type GenerationParams = typeof GenerationParams.Type

/** Order matches the capnp `ErrorCode` enum ordinals. */
export const ERROR_CODES = [
  "internal",
  "badRequest",
  "unauthorized",
  "versionMismatch",
  "notFound",
  "outOfMemory",
  "overloaded",
  "cancelled",
  "unsupported",
  "protocol",
] as const
export const ErrorCode = Schema.Literals(ERROR_CODES)
export type ErrorCode = typeof ErrorCode.Type
