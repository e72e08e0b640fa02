import { ErrorCode } from "@djinn/protocol"
import { Schema } from "effect"

export const ClientErrorReason = Schema.Literals([
  "Connect", // the server could not be reached (the message names the address and where it came from)
  "Closed", // the connection closed while a call was waiting
  "Server", // the server answered with an Error: `code` is the wire code, `serverReason` its reason (ArenaExhausted…)
  "Protocol", // bytes from the server that do not decode, or a reply of an unexpected kind
  "Input", // a bad argument (address, model folder, prompt)
])
export type ClientErrorReason = typeof ClientErrorReason.Type

/** The one domain error of @djinn/client. */
export class ClientError extends Schema.TaggedError<ClientError>()("ClientError", {
  reason: ClientErrorReason,
  message: Schema.String,
  code: Schema.optionalKey(ErrorCode),
  serverReason: Schema.optionalKey(Schema.String),
}) {}

export const clientError = (reason: ClientErrorReason, message: string): ClientError => new ClientError({ reason, message })

/** A server Error reply: its message starts with the server's reason ("ArenaExhausted: …"). */
export const serverFailure = (code: ErrorCode, message: string): ClientError => {
  const m = /^([A-Za-z]+): /.exec(message)
  return new ClientError({ reason: "Server", code, message, ...(m !== null ? { serverReason: m[1] } : {}) })
}
