import { Schema } from "effect"

/** Why a GPU operation failed. */
export const GpuErrorReason = Schema.Literals([
  "NoAdapter",
  "DeviceLost",
  "Validation",
  "OutOfMemory",
  "Unsupported",
  "UnknownKernel",
  "Internal",
])
export type GpuErrorReason = typeof GpuErrorReason.Type

/** The one domain error of @djinn/gpu. */
export class GpuError extends Schema.TaggedError<GpuError>()("GpuError", {
  reason: GpuErrorReason,
  message: Schema.String,
}) {}

export const gpuError = (reason: GpuErrorReason, message: string): GpuError => new GpuError({ reason, message })
