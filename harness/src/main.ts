// Entry point: `node harness/src/main.ts <subcommand> [flags]` (`pnpm harness …`). SIGINT/SIGTERM interrupt the
// program (NodeRuntime.runMain), so every child the sweep started is stopped by its finalizer before the exit (130).
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Cause, Effect, Exit } from "effect"
import { defaultSubcommands, makeHarness, runCli } from "./cli.ts"
import { makeSweepCommand } from "./sweep/command.ts"

const harness = makeHarness([...defaultSubcommands, makeSweepCommand(process.env)])

NodeRuntime.runMain(runCli(harness, process.argv.slice(2)).pipe(Effect.provide(NodeServices.layer)), {
  disableErrorReporting: true,
  teardown: (exit, onExit) => {
    if (Exit.isSuccess(exit)) return onExit(Number(exit.value))
    if (Cause.hasInterruptsOnly(exit.cause)) return onExit(130)
    process.stderr.write(`harness: unexpected failure\n${Cause.pretty(exit.cause)}\n`)
    onExit(1)
  },
})
