// One abstract service, one Layer per system (the way Effect models LanguageModel providers): the sweep only ever
// talks to `Baseline`; which system answers is decided by the Layer it provides (native, rpc, remote_djinn, vllm,
// native_pytorch, pytorch_rpc).
import { Context, Effect, Exit, Scope } from "effect"
import type { Baseline as BaselineConfig, Env, Experiment, LoadedConfig, Workload } from "../config.ts"
import { type ModelJob, outputDigest, tokensOf, type WorkInput, type WorkOutput } from "../engine/work.ts"
import { type BaselineEnvironment, failedRun, type MeasuredRun, measuredRun, type RunRecord } from "../result.ts"
import { baselineError, type BaselineError } from "./errors.ts"

/** One workload as every baseline sees it. */
export interface Job {
  readonly workload: Workload
  readonly experiment: Experiment
  readonly model: ModelJob
  /** Units of work per run (tokens / sequences / images), for throughput. */
  readonly units: number
  /** The checkpoint folder of the workload's weights (a `model_dir`, or synthetic weights exported once, lazily). */
  readonly checkpointDir: Effect.Effect<string, BaselineError>
  /** The repository root (children run from here) and the JavaScript runtime to start them with. */
  readonly repoRoot: string
  readonly node: string
  readonly env: Env
  /** Marks every child of this sweep (env DJINN_SWEEP_ID) so tests can check none outlives it. */
  readonly sweepId: string
  /** The loaded config, for `resolveServerAddress` (a remote baseline's own address, the experiment's, the env's). */
  readonly loaded: Pick<LoadedConfig, "file" | "config">
  /** The input of measured run `index` (seeded; warm-up k reuses index k). */
  readonly input: (index: number) => WorkInput
}

export interface SetupInfo {
  /** Where the system ran somewhere else (a server's adapter, torch's version). */
  readonly environment?: BaselineEnvironment
  /** Set when this system does not compute the same function as native (e.g. other weights): why not. */
  readonly notComparable?: string
}

export interface RunRequest {
  /** Index among measured runs (warm-up k reuses the input of run k). */
  readonly index: number
  readonly warmup: boolean
  readonly input: WorkInput
}

/** A run record plus the outputs it produced (kept in memory for the equivalence check, not written whole). */
export interface RunOutcome {
  readonly record: RunRecord
  readonly output: WorkOutput | null
}

export interface BaselineShape {
  /** Brings the system up for one workload (starts its processes, loads the model). Unavailable → skipped. */
  readonly setup: Effect.Effect<SetupInfo, BaselineError>
  /** One request; never fails — a failed run is a record with `ok: false` and its error. */
  readonly run: (request: RunRequest) => Effect.Effect<RunOutcome>
  /** Stops what setup started. Safe to call twice; the Layer's scope also stops everything on interrupt. */
  readonly teardown: Effect.Effect<void>
}

export class Baseline extends Context.Service<Baseline, BaselineShape>()("djinn/harness/Baseline") {}

/** What a system measured in one run; `measure` turns it into the run record. */
export interface Measured extends Omit<MeasuredRun, "run" | "units" | "outputDigest" | "tokensGenerated"> {
  readonly output: WorkOutput
}

/** A run record from a measurement: throughput from the job's units, digest and token count from the output. */
export const toOutcome = (job: Job, index: number, m: Measured): RunOutcome => ({
  output: m.output,
  record: measuredRun({
    ...m,
    run: index,
    units: job.units,
    tokensGenerated: tokensOf(m.output),
    outputDigest: outputDigest(m.output),
    tokens: m.output.kind === "tokens" ? m.output.tokens : null,
  }),
})

/**
 * Builds a Baseline from a system's setup (acquiring what it needs into a scope of its own, closed by teardown or
 * with the Layer) and its run. A run that fails becomes a failed record; setup errors go to the sweep.
 */
export const makeBaseline = <S>(
  name: string,
  job: Job,
  setup: Effect.Effect<{ readonly state: S; readonly info: SetupInfo }, BaselineError, Scope.Scope>,
  run: (state: S, request: RunRequest) => Effect.Effect<Measured, BaselineError>,
): Effect.Effect<BaselineShape, never, Scope.Scope> =>
  Effect.gen(function*() {
    const layerScope = yield* Scope.Scope
    let current: { readonly scope: Scope.Closeable; readonly state: S } | undefined
    const teardown = Effect.suspend(() => {
      const c = current
      current = undefined
      return c === undefined ? Effect.void : Scope.close(c.scope, Exit.void)
    })
    return {
      setup: Effect.gen(function*() {
        yield* teardown
        const scope = yield* Scope.fork(layerScope)
        const { state, info } = yield* setup.pipe(
          Scope.provide(scope),
          Effect.onError(() => Scope.close(scope, Exit.void)),
        )
        current = { scope, state }
        return info
      }).pipe(Effect.withSpan(`Baseline.setup.${name}`)),
      run: (request) =>
        Effect.suspend(() =>
          current === undefined
            ? Effect.fail(baselineError("Run", `${name}: run before setup`))
            : run(current.state, request)
        ).pipe(
          Effect.map((m) => toOutcome(job, request.index, m)),
          Effect.catch((e: BaselineError) => Effect.succeed({ record: failedRun(request.index, e.message), output: null })),
          Effect.withSpan(`Baseline.run.${name}`),
        ),
      teardown: teardown.pipe(Effect.withSpan(`Baseline.teardown.${name}`)),
    }
  })

export type BaselineLayerFactory = (config: BaselineConfig, job: Job) => Effect.Effect<BaselineShape, never, Scope.Scope>
