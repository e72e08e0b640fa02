// `rpc`: a canonical stateless remote call — effect/rpc over a TCP socket, MessagePack frames — to a harness-owned
// server process (harness/src/rpc/server.ts) that holds only the model. Each run ships the input ids and gets the
// output tensor back. Client breakdown: (de)serialization measured in the parser, bytes counted on the wire; the
// network share is the round trip minus both and the server's handler time, split evenly (as the djinn client does).
import { programPath } from "../../programs.ts"
import { NodeSocket } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { RpcClient } from "effect/rpc"
import type { Baseline as BaselineConfig } from "../../config.ts"
import { resolveServerAddress } from "../../config.ts"
import type { HostInfo } from "../../engine/host.ts"
import { inputTensorBytes, pixels, type WorkOutput } from "../../engine/work.ts"
import { layerMsgPack, makeMeter, resetMeter } from "../../rpc/msgpack.ts"
import { EngineRpcs } from "../../rpc/protocol.ts"
import { adapterEnvironment } from "../adapter.ts"
import { Baseline, type Job, makeBaseline } from "../baseline.ts"
import { spawnChild } from "../child.ts"
import { baselineError } from "../errors.ts"

const describe = (e: unknown) => (e as { message?: string }).message ?? String(e)

/** Starts the harness's rpc server for this job on a free port; returns where it listens. */
const launch = (config: BaselineConfig, job: Job) =>
  Effect.gen(function*() {
    const server = yield* spawnChild({
      label: `${config.name} server`,
      command: job.node,
      args: [programPath(job.repoRoot, "rpc-server"), "--job", JSON.stringify(job.model), "--host", "127.0.0.1", "--port", "0"],
      cwd: job.repoRoot,
      env: { DJINN_SWEEP_ID: job.sweepId },
    })
    const m = yield* server.waitForLine(/rpc server listening on (.+):(\d+)$/, 300_000)
    return { host: m[1].replace(/^\[|\]$/g, ""), port: Number(m[2]) }
  })

export const makeRpc = (config: BaselineConfig, job: Job) => {
  const meter = makeMeter()
  return makeBaseline(
    config.name,
    job,
    Effect.gen(function*() {
      const own = config.type === "rpc" ? config.server_address : undefined
      const at = own !== undefined
        ? yield* resolveServerAddress(job.loaded, job.env, config).pipe(Effect.mapError((e) => baselineError("Setup", e.message)))
        : yield* launch(config, job)
      const protocol = RpcClient.layerProtocolSocket().pipe(
        Layer.provide(NodeSocket.layerNet({ host: at.host, port: at.port })),
        Layer.provide(layerMsgPack(meter)),
      )
      const context = yield* Layer.build(protocol).pipe(
        Effect.mapError((e) => baselineError("Setup", `${config.name}: cannot connect to ${at.host}:${at.port}: ${describe(e)}`)),
      )
      const client = yield* RpcClient.make(EngineRpcs).pipe(Effect.provideContext(context))
      const info = yield* client.Info().pipe(
        Effect.timeout("60 seconds"),
        Effect.mapError((e) => baselineError("Setup", `${config.name}: no answer from the rpc server at ${at.host}:${at.port}: ${describe(e)}`)),
      )
      const host = JSON.parse(info.json) as HostInfo
      return { state: client, info: { environment: adapterEnvironment(host.adapter, { "engine.dtype": host.dtype }) } }
    }),
    (client, request) =>
      Effect.gen(function*() {
        const input = request.input
        // Images made from the seed before the clock starts (the client has them in memory, as a real caller would).
        const images = input.kind === "classify" ? pixels(input) : undefined
        resetMeter(meter)
        const started = performance.now()
        const data = inputTensorBytes(input, images)
        const shape = input.kind === "classify" ? [...input.shape] : input.kind === "encode" ? [input.batch, input.seq] : [input.ids.length]
        const packMs = performance.now() - started
        const reply = yield* client.Run({ kind: input.kind, data, shape, newTokens: input.kind === "generate" ? input.newTokens : 0 }).pipe(
          Effect.mapError((e) => baselineError("Run", `${config.name}: ${describe(e)}`)),
        )
        const t = performance.now()
        // A copy: the decoded bytes may be a view into a pooled Buffer (whose .slice() would not copy).
        const bytes = new Uint8Array(reply.output).buffer
        const output: WorkOutput = input.kind === "generate"
          ? { kind: "tokens", tokens: Array.from(new Int32Array(bytes)) }
          : { kind: "values", shape: reply.shape, values: new Float32Array(bytes) }
        const ended = performance.now()
        const serialize = packMs + meter.encodeMs
        const deserialize = ended - t + meter.decodeMs
        const latency = ended - started
        const network = Math.max(0, latency - serialize - deserialize - reply.serverMs)
        return {
          latencyMs: latency,
          inputBytes: meter.bytesOut,
          outputBytes: meter.bytesIn,
          breakdown: {
            client_serialize_ms: serialize,
            client_deserialize_ms: deserialize,
            client_network_c2s_ms: network / 2,
            client_network_s2c_ms: network / 2,
            server_duration_ms: reply.serverMs,
            server_execution_ms: reply.executionMs,
          },
          roundTrips: 1,
          output,
        }
      }),
  )
}

export const rpcLayer = (config: BaselineConfig, job: Job) => Layer.effect(Baseline, makeRpc(config, job))
