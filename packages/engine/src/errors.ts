import { Schema } from "effect"

export const EngineErrorReason = Schema.Literals([
  "ModelFile", // unreadable or malformed checkpoint / safetensors
  "Config", // config.json missing or invalid
  "MissingTensor",
  "TensorShape",
  "Input", // bad user input: ids out of range, sequence too long
  "Unsupported",
])
export type EngineErrorReason = typeof EngineErrorReason.Type

/** The one domain error of @djinn/engine. */
export class EngineError extends Schema.TaggedError<EngineError>()("EngineError", {
  reason: EngineErrorReason,
  message: Schema.String,
}) {}

export const engineError = (reason: EngineErrorReason, message: string): EngineError => new EngineError({ reason, message })
