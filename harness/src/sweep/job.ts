// From a workload entry of the config to the Job every baseline receives: the model as processes load it, units per
// run, and (lazily) a checkpoint folder for peers that cannot build synthetic weights themselves.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { findKnownModel, resolveModel } from "@djinn/engine"
import { Effect, Result, Scope } from "effect"
import { type Env, type Experiment, type LoadedConfig, type Workload, workloadUnits } from "../config.ts"
import { EXPORT_LIMIT_PARAMS, exportSynthetic, paramCount } from "../engine/export.ts"
import { type ModelJob, type ModelSource, workInput } from "../engine/work.ts"
import type { Job } from "./baseline.ts"
import { baselineError } from "./errors.ts"

/** The model a workload names: its `model_dir`, else synthetic weights of `model_config`, else of the known id. */
export const modelSourceFor = (w: Workload, seed: number): ModelSource => {
  if (w.model_dir !== undefined) return { kind: "checkpoint", dir: resolve(w.model_dir) }
  if (w.model_config !== undefined) return { kind: "synthetic", id: w.model_id, config: w.model_config, seed }
  const known = resolveModel({ modelId: w.model_id, seed })
  if (known.weightsSource === "checkpoint") return { kind: "checkpoint", dir: findKnownModel(w.model_id)! }
  return { kind: "synthetic", id: w.model_id, config: known.config, seed }
}

/** The model's config (for the vocabulary of seeded prompts). */
export const modelConfigOf = (source: ModelSource): Record<string, unknown> | undefined => {
  if (source.kind === "synthetic") return source.config
  const file = join(source.dir, "config.json")
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>) : undefined
}

export interface JobContext {
  readonly experiment: Experiment
  readonly repoRoot: string
  readonly node: string
  readonly env: Env
  readonly sweepId: string
  readonly loaded: Pick<LoadedConfig, "file" | "config">
}

/** A Job for one workload; an exported checkpoint lives in a temp folder removed when the scope closes. */
export const makeJob = (w: Workload, ctx: JobContext): Effect.Effect<Job, never, Scope.Scope> =>
  Effect.gen(function*() {
    const source = modelSourceFor(w, ctx.experiment.seed)
    const model: ModelJob = { model: source, dtype: w.dtype }
    const config = modelConfigOf(source)
    const exported = source.kind === "checkpoint"
      ? Effect.succeed(source.dir)
      : Effect.acquireRelease(
        Effect.suspend(() => {
          const params = paramCount(source.config)
          if (params > EXPORT_LIMIT_PARAMS) {
            return Effect.fail(baselineError(
              "Unavailable",
              `${source.id}: ${Number.isFinite(params) ? `${(params / 1e6).toFixed(0)}M parameters` : "an unknown model type"} — too large to export its synthetic weights (limit ${EXPORT_LIMIT_PARAMS / 1e6}M); a peer must build it from the config itself`,
            ))
          }
          return Effect.try({
            try: () => {
              const dir = mkdtempSync(join(tmpdir(), `djinn-${w.name}-`))
              exportSynthetic(source, dir)
              return dir
            },
            catch: (e) => baselineError("Setup", `exporting synthetic weights of ${source.id}: ${(e as Error).message}`),
          })
        }),
        (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true })),
      )
    const workloadScope = yield* Scope.Scope
    // Synthetic weights small enough to export are exported once, up front, and every baseline loads that checkpoint:
    // our engine's GPU fill and an exported f32 file rounded to f16 can differ in the last bit of a weight, which
    // would make native and the remote baselines disagree by f16 noise rather than by anything they do.
    const result = yield* Effect.result(exported.pipe(Scope.provide(workloadScope)))
    const checkpointDir = Result.isSuccess(result) ? Effect.succeed(result.success) : Effect.fail(result.failure)
    const shared: ModelJob = Result.isSuccess(result) && source.kind === "synthetic" ? { model: { kind: "checkpoint", dir: result.success }, dtype: w.dtype } : model
    return {
      workload: w,
      experiment: ctx.experiment,
      model: shared,
      units: workloadUnits(w).perRun,
      checkpointDir,
      repoRoot: ctx.repoRoot,
      node: ctx.node,
      env: ctx.env,
      sweepId: ctx.sweepId,
      loaded: ctx.loaded,
      input: (index: number) => workInput(w, ctx.experiment.seed, index, config),
    }
  })
