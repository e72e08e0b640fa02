// `harness sweep`: run the suite of a config and print the analyzer's tables.
import { repoRoot as programsRepoRoot } from "../programs.ts"
import { Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import type { Env } from "../config.ts"
import { runSweep } from "./run.ts"

const list = (name: string, description: string) =>
  Flag.String(name).pipe(
    Flag.atLeast(0),
    Flag.map((vs) => vs.flatMap((v) => v.split(",")).map((s) => s.trim()).filter((s) => s !== "")),
    Flag.withDescription(description),
  )

const repoRoot = programsRepoRoot()

/** `sweep`, built over the environment it may read (main passes `process.env`; no module reads it). */
export const makeSweepCommand = (env: Env) =>
  Command.make(
    "sweep",
    {
      config: Flag.String("config").pipe(Flag.withDefault("configs/default.yaml"), Flag.withDescription("suite config (YAML)")),
      workloads: list("workloads", "only these workloads (comma-separated or repeated)"),
      baselines: list("baselines", "only these baselines (the reference baseline always runs too)"),
      tag: Flag.String("tag").pipe(Flag.optional, Flag.withDescription("result tag (default: the config's)")),
      outputDir: Flag.String("output-dir").pipe(Flag.optional, Flag.withDescription("where result files go (default: the config's result_dir)")),
      runs: Flag.Int("runs").pipe(Flag.optional, Flag.withDescription("measured runs per baseline (default: the config's)")),
      warmup: Flag.Int("warmup").pipe(Flag.optional, Flag.withDescription("warm-up runs per baseline (default: the config's)")),
      parallel: Flag.Boolean("parallel").pipe(
        Flag.withDefault(false),
        Flag.withDescription("run a workload's baselines at the same time (stress test; default: one after another)"),
      ),
      interleave: Flag.Boolean("interleave").pipe(
        Flag.withDefault(false),
        Flag.withDescription("set a workload's baselines up together and run them round-robin, run i of each back to back (a drifting host then weighs on all alike; every model held at once)"),
      ),
    },
    Effect.fn("Cli.sweep")(function*(flags) {
      const result = yield* runSweep({
        config: flags.config,
        workloads: flags.workloads,
        baselines: flags.baselines,
        ...(Option.isSome(flags.tag) ? { tag: flags.tag.value } : {}),
        ...(Option.isSome(flags.outputDir) ? { outputDir: flags.outputDir.value } : {}),
        ...(Option.isSome(flags.runs) ? { runs: flags.runs.value } : {}),
        ...(Option.isSome(flags.warmup) ? { warmup: flags.warmup.value } : {}),
        parallel: flags.parallel,
        interleave: flags.interleave,
        env,
        repoRoot,
        node: process.execPath,
      })
      yield* Effect.sync(() => void process.stdout.write(result.markdown))
    }, Effect.onInterrupt(() => Effect.sync(() => void process.stderr.write("\nsweep interrupted: every child process stopped\n")))),
  ).pipe(Command.withDescription("Run the overhead suite: every workload × baseline, result files, then the tables"))
