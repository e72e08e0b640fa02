// The sweep: for each workload, each baseline (reference first) is set up, warmed up, measured and torn down in turn
// (or all at once with `parallel`), outputs are checked against the reference, and one result file is written.
import { randomUUID } from "node:crypto"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { Effect, Result } from "effect"
import { type Baseline as BaselineConfig, type Env, type LoadedConfig, loadConfig, weightsSourceFor, type Workload, workloadUnits } from "../config.ts"
import { gitState, makeEnvironment } from "../environment.ts"
import { harnessError } from "../errors.ts"
import { renderMarkdown } from "../analyze.ts"
import { type BaselineEnvironment, type BaselineInput, buildResultFile, type ResultFile } from "../result.ts"
import { writeResultFile } from "../result-io.ts"
import { Baseline, type Job, type RunOutcome } from "./baseline.ts"
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

/** One baseline on one workload: setup, warm-up, measured runs, teardown — all inside the Layer's scope. */
const runBaseline = (config: BaselineConfig, job: Job, plan: { runs: number; warmup: number }, progress: Progress) =>
  Effect.gen(function*() {
    const where = `${job.workload.name} › ${config.name}`
    const baseline = yield* Baseline
    yield* progress.status(`${where} › setup`)
    const setup = yield* Effect.result(baseline.setup)
    if (Result.isFailure(setup)) {
      const e = setup.failure
      const status = e.reason === "Unavailable" ? "skipped" as const : "failed" as const
      yield* progress.step(`${where} › ${status}`, plan.runs + plan.warmup)
      yield* progress.log(`${where}: ${status} — ${e.message}`)
      return { config, status, reason: e.message, warmups: [], runs: [] } satisfies BaselineRun
    }
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
      ...(setup.success.environment ? { environment: setup.success.environment } : {}),
      ...(setup.success.notComparable ? { notComparable: setup.success.notComparable } : {}),
    } satisfies BaselineRun
  }).pipe(Effect.scoped, Effect.provide(baselineLayer(config, job)))

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
