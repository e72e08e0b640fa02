import { connect } from "@djinn/client"
import { Console, Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { CliFailure } from "../run-engine.ts"

/** `djinn server-stats`: the server's state as JSON (sessions, VMU segments, models, queues, plan cache, phase times). */
export const serverStats = Command.make(
  "server-stats",
  {
    server: Flag.String("server").pipe(Flag.withDescription("host:port (default: DJINN_SERVER_ADDRESS, GENIE_SERVER_ADDRESS, localhost:5556)"), Flag.optional),
  },
  (flags) =>
    Effect.gen(function* () {
      const stats = yield* Effect.tryPromise({
        try: async () => {
          const conn = await connect(Option.getOrUndefined(flags.server), { env: process.env })
          try {
            return await conn.stats()
          } finally {
            conn.close()
          }
        },
        catch: (e) => new CliFailure({ message: e instanceof Error ? e.message : String(e) }),
      })
      // Our own connection is in the list while the request runs; leave it out.
      const { connections, ...rest } = stats as { connections?: unknown[] } & Record<string, unknown>
      yield* Console.log(JSON.stringify({ ...rest, connections: (connections ?? []).slice(0, -1) }, null, 2))
    }),
).pipe(Command.withDescription("Print a djinn server's sessions, VMU segment use and loaded models as JSON"))
