// The message kinds, as plain tagged values. `DomainMessage` = request id + one body; `encode`/`decode` map it to
// and from the capnp `Message` of schema/djinn.capnp (body tag ↔ union field of the same name, camel-cased).
import { Schema } from "effect"
import {
  ErrorCode,
  GenerationParams,
  Hints,
  Input,
  ModelHandle,
  ModelKey,
  Profile,
  RefId,
  RemoteRef,
  RequestId,
  SessionId,
  Tensor,
  TensorInfo,
  U32,
  U64,
  Want,
} from "./common.ts"
import { GpuCall } from "./gpu.ts"

/** Bumped on any incompatible schema change; the server answers a mismatch with Error "versionMismatch". */
export const PROTOCOL_VERSION = 1

// Handshake and sessions
export const Hello = Schema.TaggedStruct("Hello", {
  protocolVersion: U32,
  clientName: Schema.String,
  authToken: Schema.optionalKey(Schema.String),
})
export const Welcome = Schema.TaggedStruct("Welcome", { protocolVersion: U32, serverName: Schema.String })
export const OpenSession = Schema.TaggedStruct("OpenSession", { hints: Hints })
export const SessionOpened = Schema.TaggedStruct("SessionOpened", { sessionId: SessionId, kvArenaBytes: U64 })
export const CloseSession = Schema.TaggedStruct("CloseSession", { sessionId: SessionId })

// Models
export const LookupModel = Schema.TaggedStruct("LookupModel", { key: ModelKey })
export const LoadModel = Schema.TaggedStruct("LoadModel", { key: ModelKey })
export const RegisterModel = Schema.TaggedStruct("RegisterModel", {
  key: ModelKey,
  configJson: Schema.String,
  tensors: Schema.Array(TensorInfo),
})
export const WeightChunk = Schema.TaggedStruct("WeightChunk", {
  modelHandle: ModelHandle,
  tensorIndex: U32,
  offset: U64,
  data: Schema.Uint8Array,
})
export const CommitModel = Schema.TaggedStruct("CommitModel", { modelHandle: ModelHandle })
export const ModelInfo = Schema.TaggedStruct("ModelInfo", {
  handle: ModelHandle,
  key: ModelKey,
  paramBytes: U64,
  resident: Schema.Boolean,
})

// Semantic requests and their replies
export const Generate = Schema.TaggedStruct("Generate", {
  sessionId: SessionId,
  modelHandle: ModelHandle,
  inputs: Schema.Array(Input),
  hints: Hints,
  params: GenerationParams,
  want: Want,
})
export const Forward = Schema.TaggedStruct("Forward", {
  sessionId: SessionId,
  modelHandle: ModelHandle,
  inputs: Schema.Array(Input),
  hints: Hints,
  want: Want,
})
export const TokenEvent = Schema.TaggedStruct("TokenEvent", { index: U32, token: U32 })
export const Result = Schema.TaggedStruct("Result", {
  tokens: Schema.Array(U32),
  lastLogits: Schema.optionalKey(Tensor),
  refs: Schema.Array(RemoteRef),
  profile: Profile,
})
export const FetchRef = Schema.TaggedStruct("FetchRef", { refId: RefId })
export const RefData = Schema.TaggedStruct("RefData", { ref: RemoteRef, data: Schema.Uint8Array }).check(
  Schema.makeFilter((m) => m.data.byteLength === m.ref.byteSize || `data has ${m.data.byteLength} bytes, ref says ${m.ref.byteSize}`),
)
export const FreeRefs = Schema.TaggedStruct("FreeRefs", { refIds: Schema.Array(RefId) })

// Semantic-blind mode
export const GpuSubmit = Schema.TaggedStruct("GpuSubmit", { calls: Schema.Array(GpuCall) })
export const GpuSubmitResult = Schema.TaggedStruct("GpuSubmitResult", {
  reads: Schema.Array(Schema.Uint8Array),
  profile: Profile,
})

// Stats, acks, errors
export const StatsRequest = Schema.TaggedStruct("StatsRequest", {})
export const StatsReply = Schema.TaggedStruct("StatsReply", { json: Schema.String })
export const Ack = Schema.TaggedStruct("Ack", {})
export const ErrorReply = Schema.TaggedStruct("Error", { code: ErrorCode, message: Schema.String })

/** Every body kind, in capnp union order. */
export const BODY_SCHEMAS = {
  Hello,
  Welcome,
  OpenSession,
  SessionOpened,
  CloseSession,
  LookupModel,
  LoadModel,
  RegisterModel,
  WeightChunk,
  CommitModel,
  ModelInfo,
  Generate,
  Forward,
  TokenEvent,
  Result,
  FetchRef,
  RefData,
  FreeRefs,
  GpuSubmit,
  GpuSubmitResult,
  StatsRequest,
  StatsReply,
  Ack,
  Error: ErrorReply,
} as const

export const MessageBody = Schema.Union(Object.values(BODY_SCHEMAS))
export type MessageBody = typeof MessageBody.Type
export type MessageTag = MessageBody["_tag"]
export type BodyOf<T extends MessageTag> = Extract<MessageBody, { readonly _tag: T }>

export const DomainMessage = Schema.Struct({ requestId: RequestId, body: MessageBody })
export type DomainMessage = typeof DomainMessage.Type
