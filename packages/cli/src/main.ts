#!/usr/bin/env node
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Cause, Console, Effect, Exit } from "effect"
import { CliOutput, Command } from "effect/cli"
import { forward } from "./commands/forward.ts"
import { generate } from "./commands/generate.ts"
import { info } from "./commands/info.ts"
// ---- server commands (server package owners): djinn serve, djinn server-stats ----
import { serveCommand } from "@djinn/server"
import { serverStats } from "./commands/server-stats.ts"

const djinn = Command.make("djinn").pipe(
  Command.withDescription("djinn: disaggregated GPU inference on WebGPU"),
  Command.withSubcommands([info, generate, forward, serveCommand(process.env), serverStats]),
)

// A bad invocation prints one line on stderr (not the whole help page); `--help` still prints help.
const presenter = CliOutput.layerPresenter({
  present: (event) =>
    event._tag === "InvalidInvocation"
      ? Console.error(`${event.commandPath.join(" ")}: ${event.errors.map((e) => e.message).join("; ")} (try --help)`)
      : CliOutput.defaultPresenter.present(event),
})

/** Exit codes: 0 ok, 1 the command failed (one line on stderr), 2 bad usage. */
const program = Command.runWith(djinn, { version: "0.1.0" })(process.argv.slice(2)).pipe(
  Effect.as(0),
  Effect.catch((e: unknown) => {
    const tag = (e as { _tag?: string })._tag
    if (tag === "CliFailure") return Console.error(`djinn: ${(e as { message: string }).message}`).pipe(Effect.as(1))
    if (tag === "ShowHelp") return Effect.succeed(2)
    return Console.error(`djinn: ${String((e as { message?: string }).message ?? e)}`).pipe(Effect.as(tag === undefined ? 1 : 2))
  }),
  Effect.provide(presenter),
  Effect.provide(NodeServices.layer),
)

NodeRuntime.runMain(program, {
  disableErrorReporting: true,
  teardown: (exit, onExit) => {
    if (Exit.isSuccess(exit)) return onExit(Number(exit.value))
    if (Cause.hasInterruptsOnly(exit.cause)) return onExit(130)
    process.stderr.write(`djinn: unexpected failure\n${Cause.pretty(exit.cause)}\n`)
    onExit(1)
  },
})
