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

/** undefined when `body` satisfies its kind's schema, else an InvalidValue error. */
export const validateBody = (body: MessageBody): ProtocolError | undefined =>
  checkers[body._tag](body) ? undefined : protocolError("InvalidValue", explain(body._tag, body))

const decodeMessage = Schema.decodeUnknownResult(DomainMessage)

/** Checks a value from outside the program (or built by hand) against the domain schemas before encoding it. */
export const validate = (value: unknown): Result.Result<DomainMessage, ProtocolError> => {
  const r = decodeMessage(value)
  return Result.isFailure(r) ? Result.fail(protocolError("InvalidValue", r.failure.message)) : Result.succeed(r.success)
}
