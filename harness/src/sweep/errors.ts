import { Schema } from "effect"

/**
 * Why a baseline could not be set up or a run did not complete. `Unavailable` = the system cannot run here (no Python
 * with torch, the engine has no loader for this model): the baseline is recorded as skipped with this message.
 * Everything else is recorded as a failure; nothing here escapes the sweep as an exception.
 */
export class BaselineError extends Schema.TaggedError<BaselineError>()("BaselineError", {
  reason: Schema.Literals(["Unavailable", "Setup", "Run", "Process", "Timeout"]),
  message: Schema.String,
}) {}

export const baselineError = (reason: BaselineError["reason"], message: string): BaselineError =>
  new BaselineError({ reason, message })
