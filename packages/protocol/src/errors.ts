import { Schema } from "effect"

/** Why a frame or message was refused. Every decode failure is one of these; nothing else escapes `decode`. */
export const ProtocolErrorReason = Schema.Literals([
  "FrameTooLarge", // length prefix above the frame limit (checked before any allocation)
  "Truncated", // fewer bytes than the prefix or segment table promise
  "Malformed", // bytes that are not a well-formed message of this schema (bad pointers, limits hit, trailing bytes)
  "UnknownKind", // top-level union tag this version does not know
  "InvalidValue", // well-formed, but a value breaks a domain rule (shape, dtype, byte size, id range)
])
export type ProtocolErrorReason = typeof ProtocolErrorReason.Type

export class ProtocolError extends Schema.TaggedError<ProtocolError>("djinn/protocol/ProtocolError")("ProtocolError", {
  reason: ProtocolErrorReason,
  message: Schema.String,
}) {}

export const protocolError = (reason: ProtocolErrorReason, message: string): ProtocolError =>
  new ProtocolError({ reason, message })
