// The rpc baseline's server: the engine behind effect/rpc over a TCP socket with MessagePack — a canonical remote
// procedure call that ships tensors both ways and keeps nothing between calls but the loaded model.
//   node harness/src/rpc/server.ts --job '<ModelJob JSON>' [--host 127.0.0.1] [--port 0]
// Prints "rpc server listening on HOST:PORT" once it accepts calls; exits when stdin closes (its parent went away).
import { parseArgs } from "node:util"
import { NodeRuntime, NodeSocketServer } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { formatSocketAddress } from "effect/net/NetAddress"
import { RpcServer } from "effect/rpc"
import { SocketServer } from "effect/socket"
import { type EngineHost, openHost } from "../engine/host.ts"
import type { ModelJob, WorkInput } from "../engine/work.ts"
import { layerMsgPack } from "./msgpack.ts"
import { EngineRpcs, RpcFailure, type RunRequest } from "./protocol.ts"

const { values } = parseArgs({ options: { job: { type: "string" }, host: { type: "string", default: "127.0.0.1" }, port: { type: "string", default: "0" } } })
if (values.job === undefined) {
  process.stderr.write("rpc server: --job '<ModelJob JSON>' is required\n")
  process.exit(2)
}
const job = JSON.parse(values.job) as ModelJob

/** The shipped tensor back into an input (images are used as sent: a classify input's seed is not looked at). */
const toInput = (req: typeof RunRequest.Type): { readonly input: WorkInput; readonly images?: Float32Array } => {
  const bytes = req.data.buffer.slice(req.data.byteOffset, req.data.byteOffset + req.data.byteLength)
  if (req.kind === "classify") {
    const [n, c, h, w] = req.shape
    return { input: { kind: "classify", seed: 0, shape: [n, c, h, w] }, images: new Float32Array(bytes) }
  }
  const ids = Array.from(new Int32Array(bytes))
  switch (req.kind) {
    case "generate":
      return { input: { kind: "generate", ids, newTokens: req.newTokens } }
    case "forward":
      return { input: { kind: "forward", ids } }
    case "encode":
      return { input: { kind: "encode", ids, batch: req.shape[0], seq: req.shape[1] } }
  }
}

const handlers = (host: EngineHost) =>
  EngineRpcs.toLayer({
    Run: (req) =>
      Effect.tryPromise({
        try: async () => {
          const started = performance.now()
          const { input, images } = toInput(req)
          const { output, ms } = await host.run(input, images)
          if (output.kind === "text") throw new Error("the engine returned text")
          const bytes = output.kind === "tokens" ? new Uint8Array(Int32Array.from(output.tokens).buffer) : new Uint8Array(output.values.buffer, output.values.byteOffset, output.values.byteLength)
          const shape = output.kind === "tokens" ? [output.tokens.length] : [...output.shape]
          return { output: bytes, shape, executionMs: ms, serverMs: performance.now() - started }
        },
        catch: (e) => new RpcFailure({ message: e instanceof Error ? e.message : String(e) }),
      }),
    Info: () => Effect.succeed({ json: JSON.stringify(host.info) }),
  })

const announce = Layer.effectDiscard(Effect.gen(function*() {
  const server = yield* SocketServer.SocketServer
  yield* Effect.sync(() => void process.stdout.write(`rpc server listening on ${formatSocketAddress(server.address)}\n`))
}))

const main = Effect.gen(function*() {
  const host = yield* Effect.acquireRelease(Effect.promise(() => openHost(job)), (h) => Effect.sync(() => h.close()))
  const socket = NodeSocketServer.layer({ host: values.host, port: Number(values.port) })
  const app = Layer.mergeAll(RpcServer.layer(EngineRpcs), announce).pipe(
    Layer.provide(handlers(host)),
    Layer.provide(RpcServer.layerProtocolSocketServer),
    Layer.provide(layerMsgPack()),
    Layer.provide(socket),
  )
  return yield* Layer.launch(app)
}).pipe(Effect.scoped)

if (!process.stdin.isTTY) process.stdin.on("end", () => process.exit(0)).resume()
NodeRuntime.runMain(main)
