#!/usr/bin/env node
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { Command } from "effect/cli"
import { serveCommand } from "./command.ts"

// The environment is read here, once, and passed down. `pnpm start -- --port 1` hands the "--" on verbatim: skip it.
const argv = process.argv.slice(2)
const program = Command.runWith(serveCommand(process.env), { version: "0.1.0" })(argv[0] === "--" ? argv.slice(1) : argv).pipe(
  Effect.provide(NodeServices.layer),
)

NodeRuntime.runMain(program)
