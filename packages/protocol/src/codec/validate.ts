// Domain-value checks with the Effect schemas of src/domain: the decoder runs the one schema of the decoded kind.
import { Result, Schema } from "effect"
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

/** undefined when a decoded `body` satisfies its kind's schema, else an InvalidValue error. */
export const validateBody = (body: MessageBody): ProtocolError | undefined =>
  WIRE_CHECKED_KINDS.has(body._tag) || checkers[body._tag](body) ? undefined : protocolError("InvalidValue", explain(body._tag, body))

const decodeMessage = Schema.decodeUnknownResult(DomainMessage)

/** Checks a value from outside the program (or built by hand) against the domain schemas before encoding it. */
export const validate = (value: unknown): Result.Result<DomainMessage, ProtocolError> => {
  const r = decodeMessage(value)
  return Result.isFailure(r) ? Result.fail(protocolError("InvalidValue", r.failure.message)) : Result.succeed(r.success)
}
