// Domain-value checks with the Effect schemas of src/domain: the decoder runs the one schema of the decoded kind.
import { Result, Schema } from "effect"
import { DTYPE_BYTES, Limits, shapeElements } from "../domain/common.ts"
import { BODY_SCHEMAS, DomainMessage, type MessageBody, type MessageTag } from "../domain/messages.ts"
import { protocolError, type ProtocolError } from "../errors.ts"

type Checkers = { readonly [K in MessageTag]: (u: unknown) => boolean }
type Explainers = { readonly [K in MessageTag]: (u: unknown) => Result.Result<unknown, Schema.SchemaError> }

const entries = Object.entries(BODY_SCHEMAS) as Array<[MessageTag, (typeof BODY_SCHEMAS)[keyof typeof BODY_SCHEMAS]]>
// `is` is the fast path (no copy of the value); the decoder is only run to explain a failure.
const checkers = Object.fromEntries(entries.map(([k, s]) => [k, Schema.is(s as Schema.Top)])) as unknown as Checkers
const explainers = Object.fromEntries(
  entries.map(([k, s]) => [k, Schema.decodeUnknownResult(s as Schema.Codec<unknown, unknown>)]),
) as Explainers

const explain = (tag: MessageTag, body: unknown): string => {
  const r = explainers[tag](body)
  return Result.isFailure(r) ? `${tag}: ${r.failure.message}` : `${tag}: invalid value`
}

/**
 * Kinds whose schema adds nothing to what the reader already enforces (u32 fields come from UInt32 slots, u64 ids
 * are checked against 2^53 − 1, enum ordinals against their literals, strings and bytes are unconstrained), so
 * checking them again cannot fail. test/validate.test.ts proves it over the full wire range of each kind; a kind
 * that gains a refinement must leave this list, or that test fails.
 */
export const WIRE_CHECKED_KINDS: ReadonlySet<MessageTag> = new Set<MessageTag>([
  "Hello",
  "Welcome",
  "OpenSession",
  "SessionOpened",
  "CloseSession",
  "LookupModel",
  "LoadModel",
  "WeightChunk",
  "CommitModel",
  "ModelInfo",
  "TokenEvent",
  "FetchRef",
  "FreeRefs",
  "GpuSubmit",
  "GpuSubmitResult",
  "StatsRequest",
  "StatsReply",
  "Ack",
  "Error",
])

// A hand-written fast path for the semantic hot kinds (Generate, Forward, Result, RefData): it checks the refinements their
// schemas add to what the reader enforces (shape bounds, tensor / ref byte sizes, finite floats) and answers true
// only when the schema would; anything it is unsure of goes to the schema. Schema.is walks every token of a
// request, which costs tenths of a millisecond per message on a cold CPU.
type Shaped = { readonly dtype: string; readonly shape: ReadonlyArray<number> }
const bytesOf = (t: Shaped): number | undefined => {
  const shape = t.shape
  if (shape.length > Limits.maxRank) return undefined
  for (const d of shape) if (!Number.isInteger(d) || d < 0 || d > Limits.maxDim) return undefined
  const n = shapeElements(shape)
  const b = DTYPE_BYTES[t.dtype as keyof typeof DTYPE_BYTES]
  return n === undefined || b === undefined ? undefined : n * b
}
const tensorOk = (t: Shaped & { readonly data: Uint8Array }): boolean => {
  const n = bytesOf(t)
  return n !== undefined && t.data instanceof Uint8Array && t.data.byteLength === n
}
const refOk = (r: Shaped & { readonly byteSize: number }): boolean => {
  const n = bytesOf(r)
  return n !== undefined && r.byteSize === n
}
const inputsOk = (inputs: ReadonlyArray<{ readonly tensor: Shaped & { readonly data: Uint8Array } } | { readonly ref: number }>): boolean => {
  for (const i of inputs) if ("tensor" in i && !tensorOk(i.tensor)) return false
  return true
}
const finite = Number.isFinite
const fastValid = (body: MessageBody): boolean => {
  switch (body._tag) {
    case "Generate":
      return inputsOk(body.inputs) && finite(body.params.temperature) && finite(body.params.topP)
    case "Forward":
      return inputsOk(body.inputs)
    case "Result": {
      if (body.lastLogits !== undefined && !tensorOk(body.lastLogits)) return false
      for (const r of body.refs) if (!refOk(r)) return false
      const p = body.profile
      return finite(p.queueMs) && finite(p.planMs) && finite(p.placementMs) && finite(p.executionMs) &&
        finite(p.skeletonizationMs) && finite(p.cleanupMs) && finite(p.durationMs)
    }
    case "RefData":
      return refOk(body.ref) && body.data.byteLength === body.ref.byteSize
    default:
      return false
  }
}

/** undefined when a decoded `body` satisfies its kind's schema, else an InvalidValue error. */
export const validateBody = (body: MessageBody): ProtocolError | undefined =>
  WIRE_CHECKED_KINDS.has(body._tag) || fastValid(body) || checkers[body._tag](body) ? undefined : protocolError("InvalidValue", explain(body._tag, body))

const decodeMessage = Schema.decodeUnknownResult(DomainMessage)

/** Checks a value from outside the program (or built by hand) against the domain schemas before encoding it. */
export const validate = (value: unknown): Result.Result<DomainMessage, ProtocolError> => {
  const r = decodeMessage(value)
  return Result.isFailure(r) ? Result.fail(protocolError("InvalidValue", r.failure.message)) : Result.succeed(r.success)
}
