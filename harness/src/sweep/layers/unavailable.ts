// A baseline that cannot run in this build or on this machine: setup reports why, and the sweep records it skipped.
import { Effect, Layer } from "effect"
import { Baseline } from "../baseline.ts"
import { baselineError } from "../errors.ts"

export const unavailableLayer = (reason: string) =>
  Layer.succeed(Baseline, {
    setup: Effect.fail(baselineError("Unavailable", reason)),
    run: () => Effect.die("unreachable: an unavailable baseline is never run"),
    teardown: Effect.void,
  })
