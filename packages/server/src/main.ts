#!/usr/bin/env node
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { Command } from "effect/cli"
import { serveCommand } from "./command.ts"

// The environment is read here, once, and passed down.
const program = Command.runWith(serveCommand(process.env), { version: "0.1.0" })(process.argv.slice(2)).pipe(
  Effect.provide(NodeServices.layer),
)

NodeRuntime.runMain(program)
