// Entry point: `node harness/src/main.ts <subcommand> [flags]` (`pnpm harness …`).
import { NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { defaultSubcommands, makeHarness, runCli } from "./cli.ts"

// Extension point: the sweep's Command joins here, e.g. makeHarness([...defaultSubcommands, sweepCommand]).
const harness = makeHarness(defaultSubcommands)

process.exitCode = await Effect.runPromise(
  runCli(harness, process.argv.slice(2)).pipe(Effect.provide(NodeServices.layer)),
)
