import { Context, Effect, Layer } from "effect"
import { resolveAddress } from "./address.ts"
import { Connection, type ConnectOptions } from "./connection.ts"
import { ClientError, clientError } from "./errors.ts"

/** A connection as an Effect service: opened when the layer is built, closed (server state freed) when it ends. */
export class DjinnClient extends Context.Service<DjinnClient, Connection>()("djinn/client/DjinnClient") {
  static readonly layer = (
    address: string | undefined,
    env: Readonly<Record<string, string | undefined>>,
    options: ConnectOptions = {},
  ): Layer.Layer<DjinnClient, ClientError> =>
    Layer.effect(
      DjinnClient,
      Effect.acquireRelease(
        Effect.tryPromise({
          try: () => Connection.connect(resolveAddress(address, env), options),
          catch: (e) => (e instanceof ClientError ? e : clientError("Connect", String(e))),
        }),
        (conn) => Effect.sync(() => conn.close()),
      ),
    )
}
