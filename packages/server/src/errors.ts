import { EngineError } from "@djinn/engine"
import { GpuError } from "@djinn/gpu"
import { ProtocolError, type ErrorCode } from "@djinn/protocol"
import { Schema } from "effect"

/** Why a server operation failed; each reason maps to one wire ErrorCode. */
export const ServerErrorReason = Schema.Literals([
  "BadRequest", // a well-formed message the server cannot act on (wrong state, bad ids, bad shapes)
  "Unauthorized", // wrong or missing auth token
  "VersionMismatch", // protocol version differs
  "NotFound", // session, model, ref or upload unknown (or not this connection's)
  "ArenaExhausted", // a session's KV arena cannot hold what the request needs
  "OutOfMemory", // GPU memory (a buffer, the stack) could not be had
  "Overloaded", // the QoS queue of a class is full
  "Cancelled", // the session closed before the request ran
  "Unsupported", // a feature the engine does not have (sampling, a model type)
  "Protocol", // undecodable bytes
  "Engine", // the engine refused the inputs or the model
  "Gpu", // a GPU error (validation, device lost)
  "Config", // invalid server configuration
  "Listen", // the TCP/HTTP listener could not start
  "Internal",
])
export type ServerErrorReason = typeof ServerErrorReason.Type

/** The one domain error of @djinn/server. */
export class ServerError extends Schema.TaggedError<ServerError>()("ServerError", {
  reason: ServerErrorReason,
  message: Schema.String,
}) {}

export const serverError = (reason: ServerErrorReason, message: string): ServerError => new ServerError({ reason, message })

const CODES: Record<ServerErrorReason, ErrorCode> = {
  BadRequest: "badRequest",
  Unauthorized: "unauthorized",
  VersionMismatch: "versionMismatch",
  NotFound: "notFound",
  ArenaExhausted: "outOfMemory",
  OutOfMemory: "outOfMemory",
  Overloaded: "overloaded",
  Cancelled: "cancelled",
  Unsupported: "unsupported",
  Protocol: "protocol",
  Engine: "badRequest",
  Gpu: "internal",
  Config: "internal",
  Listen: "internal",
  Internal: "internal",
}

/** The wire code of a reason. The message keeps the reason name, so a client can tell ArenaExhausted from OutOfMemory. */
export const wireCode = (reason: ServerErrorReason): ErrorCode => CODES[reason]
export const wireMessage = (e: ServerError): string => `${e.reason}: ${e.message}`

/** Any failure, as a ServerError: engine, GPU and protocol errors keep their reason in the message. */
export const toServerError = (cause: unknown): ServerError => {
  if (cause instanceof ServerError) return cause
  if (cause instanceof EngineError) {
    const reason = cause.reason === "Unsupported" ? "Unsupported" : "Engine"
    return serverError(reason, `${cause.reason}: ${cause.message}`)
  }
  if (cause instanceof GpuError) {
    const reason = cause.reason === "OutOfMemory" ? "OutOfMemory" : cause.reason === "Unsupported" || cause.reason === "UnknownKernel" ? "Unsupported" : "Gpu"
    return serverError(reason, `${cause.reason}: ${cause.message}`)
  }
  if (cause instanceof ProtocolError) return serverError("Protocol", `${cause.reason}: ${cause.message}`)
  return serverError("Internal", cause instanceof Error ? cause.message : String(cause))
}
