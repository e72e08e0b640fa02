// The `harness` command line: subcommands `analyze` and `report`; `sweep` plugs in through `makeHarness`.
import { Console, Effect, FileSystem, Option } from "effect"
import { CliOutput, Command, Flag } from "effect/cli"
import { analyze } from "./analyze.ts"
import { HarnessError, harnessError } from "./errors.ts"
import { writeReport } from "./report.ts"

const resultsDir = Flag.String("results-dir").pipe(
  Flag.withDefault("results"),
  Flag.withDescription("directory searched (recursively) for result JSON files"),
)
// Repeatable and comma-separated: --workloads a,b --workloads c.
const workloads = Flag.String("workloads").pipe(
  Flag.atLeast(0),
  Flag.map((vs) => vs.flatMap((v) => v.split(",")).map((s) => s.trim()).filter((s) => s !== "")),
  Flag.withDescription("only these workloads (comma-separated or repeated)"),
)
const latestOnly = Flag.Boolean("latest-only").pipe(
  Flag.withDefault(false),
  Flag.withDescription("only the newest result file per workload"),
)
const out = Flag.String("out").pipe(Flag.optional, Flag.withDescription("write to this file instead of the default"))

const write = (text: string) => Effect.sync(() => void process.stdout.write(text))

export const analyzeCommand = Command.make(
  "analyze",
  {
    resultsDir,
    workloads,
    latestOnly,
    out,
    format: Flag.Literals("format", ["markdown", "csv"]).pipe(
      Flag.withDefault("markdown"),
      Flag.withDescription("markdown tables (Table 1, breakdown, semantic value) or one flat CSV"),
    ),
  },
  Effect.fn("Cli.analyze")(function*(flags) {
    const text = yield* analyze(flags)
    if (Option.isNone(flags.out)) return yield* write(text)
    const file = flags.out.value
    const fs = yield* FileSystem.FileSystem
    yield* fs.writeFileString(file, text).pipe(
      Effect.mapError((e) => harnessError("ReportIo", file, [{ key: "", detail: e.message }])),
    )
    yield* Console.error(`wrote ${file}`)
  }),
).pipe(Command.withDescription("Render result files as markdown tables or CSV"))

export const reportCommand = Command.make(
  "report",
  { resultsDir, workloads, latestOnly, out },
  Effect.fn("Cli.report")(function*(flags) {
    const file = yield* writeReport({ ...flags, out: Option.getOrUndefined(flags.out) }, new Date())
    yield* Console.error(`wrote ${file}`)
  }),
).pipe(Command.withDescription("Write a self-contained HTML report (inline SVG charts) from result files"))

/**
 * The root command over the given subcommands. Extension point: the sweep adds its Command with
 * `makeHarness([...defaultSubcommands, sweepCommand])` in main.ts.
 */
export const makeHarness = <const S extends ReadonlyArray<Command.Command.SubcommandEntry>>(subcommands: S) =>
  Command.make("harness").pipe(
    Command.withDescription("djinn benchmark harness: sweep the overhead suite, analyze and report results"),
    Command.withSubcommands(subcommands),
  )

export const defaultSubcommands = [analyzeCommand, reportCommand] as const

// Bad invocations print one line on stderr (not the whole help page); `--help` still prints help.
const presenter = CliOutput.layerPresenter({
  present: (event) =>
    event._tag === "InvalidInvocation"
      ? Console.error(
        `${event.commandPath.join(" ")}: ${event.errors.map((e) => e.message).join("; ")} (try --help)`,
      )
      : CliOutput.defaultPresenter.present(event),
})

/**
 * Runs the CLI and yields the process exit code: 0 ok, 1 the command failed (its error on stderr), 2 bad usage
 * (unknown/invalid flags or subcommand, or no subcommand).
 */
export const runCli = <Name extends string, Input, E, R, CI>(
  command: Command.Command<Name, Input, CI, E, R>,
  argv: ReadonlyArray<string>,
) =>
  Command.runWith(command, { version: "0.1.0" })(argv).pipe(
    Effect.as(0),
    Effect.catch((e: unknown) => {
      if (e instanceof HarnessError) return Console.error(e.message).pipe(Effect.as(1))
      const tag = (e as { _tag?: string })._tag
      if (tag === "ShowHelp") return Effect.succeed(2)
      return Console.error(String((e as { message?: string }).message ?? e)).pipe(Effect.as(tag === undefined ? 1 : 2))
    }),
    Effect.provide(presenter),
  )
