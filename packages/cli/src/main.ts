#!/usr/bin/env node
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Console, Effect } from "effect"
import { Command } from "effect/cli"
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

const program = Command.run(djinn, { version: "0.1.0" }).pipe(
  Effect.catchTag("CliFailure", (e) => Console.error(`djinn: ${e.message}`).pipe(Effect.andThen(Effect.sync(() => { process.exitCode = 1 })))),
  Effect.provide(NodeServices.layer),
)

NodeRuntime.runMain(program, { disableErrorReporting: false })
