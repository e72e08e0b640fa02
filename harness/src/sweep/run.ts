// The sweep: for each workload, each baseline (reference first) is set up, warmed up, measured and torn down in turn
// (or all at once with `parallel`, or set up together and measured round-robin with `interleave`), outputs are checked
// against the reference, and one result file is written.
import { randomUUID } from "node:crypto"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { Context, Effect, Layer, Result } from "effect"
import { type Baseline as BaselineConfig, type Env, type LoadedConfig, loadConfig, weightsSourceFor, type Workload, workloadUnits } from "../config.ts"
import { gitState, makeEnvironment } from "../environment.ts"
import { harnessError } from "../errors.ts"
import { renderMarkdown } from "../analyze.ts"
import { type BaselineEnvironment, type BaselineInput, buildResultFile, type ResultFile } from "../result.ts"
import { writeResultFile } from "../result-io.ts"
import { Baseline, type BaselineShape, type Job, type RunOutcome } from "./baseline.ts"
import { judge, judgeReference, type Tolerance } from "./equivalence.ts"
import { makeJob } from "./job.ts"
import { baselineLayer } from "./layers/index.ts"
import { makeProgress, type Progress } from "./progress.ts"

export interface SweepOptions {
  readonly config: string
  /** Only these workloads / baselines (all when empty). The reference baseline always runs when others do. */
  readonly workloads: ReadonlyArray<string>
  readonly baselines: ReadonlyArray<string>
  readonly tag?: string
  readonly outputDir?: string
  readonly runs?: number
  readonly warmup?: number
  readonly parallel: boolean
  /**
   * Set every baseline of a workload up first, then run warm-up k and run i of each baseline back to back (round-robin),
   * so that the drift of a shared host lands on every baseline alike rather than on whichever ran last. Each baseline
   * holds its model at once: only where the GPU fits them all.
   */
  readonly interleave?: boolean
  readonly env: Env
  readonly repoRoot: string
  /** The JavaScript runtime children are started with (this process's). */
  readonly node: string
  /** Draw the bar in place (default: stderr is a terminal). */
  readonly tty?: boolean
}

export interface SweepResult {
  readonly files: ReadonlyArray<{ readonly path: string; readonly result: ResultFile }>
  readonly markdown: string
}

interface BaselineRun {
  readonly config: BaselineConfig
  readonly status: BaselineInput["status"]
  readonly reason: string | null
  readonly warmups: ReadonlyArray<RunOutcome>
  readonly runs: ReadonlyArray<RunOutcome>
  readonly environment?: BaselineEnvironment
  readonly notComparable?: string
}

/**
 * Tokens must always be identical. Values: peers on another engine within 1e-2 (float16) / 1e-4 (float32); our own
 * systems run native's kernels but may pick another variant for the same math (the server computes only the last
 * row of a prefill), so a few units in the last place of the dtype: 2e-3 (float16) / 1e-5 (float32).
 */
const toleranceFor = (b: BaselineConfig, w: Workload): Tolerance =>
  b.type === "native_pytorch" || b.type === "pytorch_rpc"
    ? { relative: w.dtype === "float16" ? 1e-2 : 1e-4 }
    : { relative: w.dtype === "float16" ? 2e-3 : 1e-5 }

const select = <A extends { readonly name: string }>(all: ReadonlyArray<A>, wanted: ReadonlyArray<string>, what: string, file: string) => {
  if (wanted.length === 0) return Effect.succeed(all)
  const unknown = wanted.filter((n) => !all.some((a) => a.name === n))
  if (unknown.length > 0) {
    return Effect.fail(harnessError("ConfigInvalid", file, [{ key: `--${what}`, detail: `unknown ${what} ${unknown.join(", ")} (known: ${all.map((a) => a.name).join(", ")})` }]))
  }
  return Effect.succeed(all.filter((a) => wanted.includes(a.name)))
}

type SetupOutcome = Result.Result<Effect.Success<BaselineShape["setup"]>, Effect.Error<BaselineShape["setup"]>>

/** A baseline whose setup failed: skipped (Unavailable) or failed, with no runs. */
const notSetUp = (config: BaselineConfig, where: string, e: Effect.Error<BaselineShape["setup"]>, plan: { runs: number; warmup: number }, progress: Progress) =>
  Effect.gen(function*() {
    const status = e.reason === "Unavailable" ? "skipped" as const : "failed" as const
    yield* progress.step(`${where} › ${status}`, plan.runs + plan.warmup)
    yield* progress.log(`${where}: ${status} — ${e.message}`)
    return { config, status, reason: e.message, warmups: [], runs: [] } satisfies BaselineRun
  })

/** A baseline's result once its runs are in. */
const finished = (config: BaselineConfig, where: string, setup: Effect.Success<BaselineShape["setup"]>, warmups: RunOutcome[], runs: RunOutcome[], progress: Progress) =>
  Effect.gen(function*() {
    const ok = runs.filter((r) => r.record.ok)
    const failed = ok.length === 0
    const mean = ok.length === 0 ? NaN : ok.reduce((a, r) => a + (r.record.latency_ms ?? 0), 0) / ok.length
    yield* progress.log(`${where}: ${failed ? `failed — ${runs[0]?.record.error}` : `${ok.length}/${runs.length} ok, mean ${mean.toFixed(2)} ms`}`)
    return {
      config,
      status: failed ? "failed" as const : "ok" as const,
      reason: failed ? (runs.find((r) => !r.record.ok)?.record.error ?? "no runs") : null,
      warmups,
      runs,
      ...(setup.environment ? { environment: setup.environment } : {}),
      ...(setup.notComparable ? { notComparable: setup.notComparable } : {}),
    } satisfies BaselineRun
  })

/** One baseline on one workload: setup, warm-up, measured runs, teardown — all inside the Layer's scope. */
const runBaseline = (config: BaselineConfig, job: Job, plan: { runs: number; warmup: number }, progress: Progress) =>
  Effect.gen(function*() {
    const where = `${job.workload.name} › ${config.name}`
    const baseline = yield* Baseline
    yield* progress.status(`${where} › setup`)
    const setup: SetupOutcome = yield* Effect.result(baseline.setup)
    if (Result.isFailure(setup)) return yield* notSetUp(config, where, setup.failure, plan, progress)
    const warmups: Array<RunOutcome> = []
    for (let k = 0; k < plan.warmup; k++) {
      const index = k % plan.runs
      warmups.push(yield* baseline.run({ index, warmup: true, input: job.input(index) }))
      yield* progress.step(`${where} › warm-up ${k + 1}/${plan.warmup}`)
    }
    const runs: Array<RunOutcome> = []
    for (let i = 0; i < plan.runs; i++) {
      runs.push(yield* baseline.run({ index: i, warmup: false, input: job.input(i) }))
      yield* progress.step(`${where} › run ${i + 1}/${plan.runs}`)
    }
    yield* progress.status(`${where} › teardown`)
    yield* baseline.teardown
    return yield* finished(config, where, setup.success, warmups, runs, progress)
  }).pipe(Effect.scoped, Effect.provide(baselineLayer(config, job)))

/**
 * A workload's baselines interleaved: each set up in turn (its Layer built in this scope), then warm-up k and run i of
 * every baseline back to back, then every teardown. Results as runBaseline's, in the same order.
 */
const runInterleaved = (ordered: ReadonlyArray<BaselineConfig>, job: Job, plan: { runs: number; warmup: number }, progress: Progress) =>
  Effect.gen(function*() {
    const live: Array<{ config: BaselineConfig; where: string; baseline: BaselineShape; setup: Effect.Success<BaselineShape["setup"]>; warmups: RunOutcome[]; runs: RunOutcome[] }> = []
    const out = new Map<string, BaselineRun>()
    for (const config of ordered) {
      const where = `${job.workload.name} › ${config.name}`
      const baseline = Context.get(yield* Layer.build(baselineLayer(config, job)), Baseline)
      yield* progress.status(`${where} › setup`)
      const setup: SetupOutcome = yield* Effect.result(baseline.setup)
      if (Result.isFailure(setup)) out.set(config.name, yield* notSetUp(config, where, setup.failure, plan, progress))
      else live.push({ config, where, baseline, setup: setup.success, warmups: [], runs: [] })
    }
    yield* progress.log(`${job.workload.name}: ${live.map((b) => b.config.name).join(", ")} set up; warm-ups and runs round-robin`)
    for (let k = 0; k < plan.warmup; k++) {
      for (const b of live) {
        const index = k % plan.runs
        b.warmups.push(yield* b.baseline.run({ index, warmup: true, input: job.input(index) }))
        yield* progress.step(`${b.where} › warm-up ${k + 1}/${plan.warmup}`)
      }
    }
    for (let i = 0; i < plan.runs; i++) {
      for (const b of live) {
        b.runs.push(yield* b.baseline.run({ index: i, warmup: false, input: job.input(i) }))
        yield* progress.step(`${b.where} › run ${i + 1}/${plan.runs}`)
      }
    }
    for (const b of live) {
      yield* progress.status(`${b.where} › teardown`)
      yield* b.baseline.teardown
      out.set(b.config.name, yield* finished(b.config, b.where, b.setup, b.warmups, b.runs, progress))
    }
    return ordered.map((c) => out.get(c.name)!)
  }).pipe(Effect.scoped)

const packageVersions = (repoRoot: string): Record<string, string> => {
  const out: Record<string, string> = { node: process.versions.node }
  for (const name of ["webgpu", "effect"]) {
    try {
      out[name] = (JSON.parse(readFileSync(join(repoRoot, "node_modules", name, "package.json"), "utf8")) as { version: string }).version
    } catch { /* not installed where expected */ }
  }
  return out
}

const runWorkload = (
  w: Workload,
  loaded: LoadedConfig,
  baselines: ReadonlyArray<BaselineConfig>,
  options: SweepOptions,
  plan: { runs: number; warmup: number; tag: string },
  sweepId: string,
  progress: Progress,
) =>
  Effect.gen(function*() {
    const experiment = { ...loaded.config.experiment, runs: plan.runs, warmup_runs: plan.warmup, tag: plan.tag }
    const job = yield* makeJob(w, { experiment, repoRoot: options.repoRoot, node: options.node, env: options.env, sweepId, loaded })
    const refName = experiment.reference_baseline
    // The reference runs first (its outputs are what everyone is checked against); then the config's order.
    const ordered = [...baselines].sort((a, b) => Number(b.name === refName) - Number(a.name === refName))
    const done: Array<BaselineRun> = []
    if (options.parallel) {
      done.push(...yield* Effect.forEach(ordered, (b) => runBaseline(b, job, plan, progress), { concurrency: "unbounded" }))
    } else if (options.interleave === true) {
      done.push(...yield* runInterleaved(ordered, job, plan, progress))
    } else {
      for (const b of ordered) done.push(yield* runBaseline(b, job, plan, progress))
    }
    const ref = done.find((d) => d.config.name === refName)
    const refRuns = ref !== undefined && ref.status === "ok" ? ref.runs : null
    const results: Array<BaselineInput> = baselines.map((b) => {
      const d = done.find((x) => x.config.name === b.name)!
      const verdict = d.status !== "ok"
        ? { match: null, detail: null }
        : d.notComparable !== undefined
        ? { match: null, detail: `not comparable: ${d.notComparable}` }
        : b.name === refName
        ? judgeReference(d.warmups, d.runs)
        : judge(refRuns, d.runs, toleranceFor(b, w), refName)
      return {
        baseline: b.name,
        type: b.type,
        status: d.status,
        reason: d.reason,
        warmup_runs: plan.warmup,
        runs: d.runs.map((r) => r.record),
        outputs_match_native: verdict.match,
        equivalence_detail: verdict.detail,
        ...(d.environment ? { environment: d.environment } : {}),
      }
    })
    // The file's adapter is the reference's (it ran on this machine), else the first baseline that reported one.
    const adapterFrom = [ref, ...done].find((d) => d?.environment?.adapter)?.environment
    const git = yield* gitState(options.repoRoot)
    const file = buildResultFile({
      workload: w.name,
      category: w.category,
      implementation: w.implementation,
      tag: plan.tag,
      created_at: new Date().toISOString(),
      units: workloadUnits(w).units,
      units_per_run: workloadUnits(w).perRun,
      workload_spec: w as unknown as Record<string, unknown>,
      experiment: {
        runs: plan.runs,
        warmup_runs: plan.warmup,
        seed: experiment.seed,
        reference_baseline: refName,
        blind_baseline: experiment.blind_baseline,
        target_baseline: experiment.target_baseline,
        server_address: experiment.djinn_server_address ?? null,
      },
      environment: makeEnvironment({
        loaded,
        weightsSource: weightsSourceFor(w, experiment.seed),
        adapter: adapterFrom?.adapter ?? null,
        gpu: adapterFrom?.gpu ?? null,
        git,
        packages: packageVersions(options.repoRoot),
      }),
      results,
    })
    const dir = options.outputDir ?? experiment.result_dir
    const path = yield* writeResultFile(dir, file)
    yield* progress.log(`wrote ${path}`)
    return { path, result: file }
  }).pipe(Effect.scoped)

export const runSweep = Effect.fn("Sweep.run")(function*(options: SweepOptions) {
  const loaded = yield* loadConfig(options.config)
  const { experiment } = loaded.config
  const workloads = yield* select(loaded.config.workloads, options.workloads, "workloads", options.config)
  let baselines = yield* select(loaded.config.baselines.filter((b) => b.enabled || options.baselines.includes(b.name)), options.baselines, "baselines", options.config)
  // Outputs are judged against the reference, so it runs whenever anything else does.
  const ref = loaded.config.baselines.find((b) => b.name === experiment.reference_baseline)
  if (ref !== undefined && !baselines.some((b) => b.name === ref.name)) baselines = [ref, ...baselines]
  const plan = {
    runs: options.runs ?? experiment.runs,
    warmup: options.warmup ?? experiment.warmup_runs,
    tag: options.tag ?? experiment.tag,
  }
  if (plan.runs < 1) return yield* harnessError("ConfigInvalid", "--runs", [{ key: "", detail: `must be ≥ 1, got ${plan.runs}` }])
  if (plan.warmup < 0) return yield* harnessError("ConfigInvalid", "--warmup", [{ key: "", detail: `must be ≥ 0, got ${plan.warmup}` }])
  // Children carry DJINN_SWEEP_ID (a caller may choose it, as the Ctrl-C test does, to find them afterwards).
  const sweepId = options.env.DJINN_SWEEP_ID ?? randomUUID()
  const progress = makeProgress({ total: workloads.length * baselines.length * (plan.runs + plan.warmup), ...(options.tty !== undefined ? { tty: options.tty } : {}) })
  const files: Array<{ path: string; result: ResultFile }> = []
  for (const w of workloads) {
    files.push(yield* runWorkload(w, loaded, baselines, options, plan, sweepId, progress))
  }
  yield* progress.done
  return { files, markdown: renderMarkdown(files) } satisfies SweepResult
})
