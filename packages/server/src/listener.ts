import { Context, Effect, FiberSet, Layer } from "effect"
import { createServer, type AddressInfo, type Server } from "node:net"
import { Settings } from "./config.ts"
import { Connections } from "./connection.ts"
import { serverError } from "./errors.ts"
import { ServerStats } from "./stats.ts"

/** The TCP listener: one Connections.handle fiber per socket, all interrupted (sockets closed) when the layer ends. */
export class Listener extends Context.Service<Listener, { readonly host: string; readonly port: number }>()("djinn/server/Listener") {
  static readonly layer = Layer.effect(
    Listener,
    Effect.gen(function* () {
      const settings = yield* Settings
      const connections = yield* Connections
      const stats = yield* ServerStats
      const fork = yield* FiberSet.makeRuntime<never, void, never>()
      const server = yield* Effect.acquireRelease(
        Effect.callback<Server, ReturnType<typeof serverError>>((resume) => {
          // Paused until the connection starts reading it (in place: see startFrameReads).
          const server = createServer({ pauseOnConnect: true, noDelay: true }, (socket) => { fork(connections.handle(socket)) })
          server.once("error", (e) => resume(Effect.fail(serverError("Listen", `cannot listen on ${settings.host}:${settings.port}: ${e.message}`))))
          server.listen(settings.port, settings.host, () => resume(Effect.succeed(server)))
        }),
        // Stop accepting; open connections are closed by the fiber set (their scopes end, their sockets are destroyed).
        (server) => Effect.sync(() => server.close()),
      )
      const { address, port } = server.address() as AddressInfo
      stats.setAddress("tcp", `${address}:${port}`)
      return Listener.of({ host: address, port })
    }),
  )
}
