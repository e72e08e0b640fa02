// `full_djinn` (mode semantic) and `semantic_blind` (mode blind): the djinn client against a Djinn server.
// - semantic: one Generate (or Forward) request per run in an open session; the loop, the weights and the KV cache
//   stay on the server; the client gets the tokens (or the last logits) back. Encoders and vision models: one Forward
//   with named tensors (input_ids i32 [B, S]; input f32 [N, C, H, W]) returning the output values (last_hidden_state,
//   logits). Breakdown: the client's CallTimings and the server's Profile of that request.
// - blind: the unchanged engine runs in this process on a RemoteGpu, which forwards every GPU call (buffers,
//   dispatches, reads) to the server; the weights are uploaded once at setup. Breakdown: bytes, (de)serialization
//   and round trips summed over the run's calls, server execution summed over its GpuSubmits.
import { type Connection, type RemoteGpu, type RequestResult, type Session, tensorValues } from "@djinn/client"
import { Connection as ConnectionClass } from "@djinn/client"
import { type LoadedModel, loadModel, type Memory, pooledMemory } from "@djinn/engine"
import type { AdapterDescription } from "@djinn/gpu"
import type { DType } from "@djinn/protocol"
import { Effect, Layer, type Scope } from "effect"
import type { Baseline as BaselineConfig } from "../../config.ts"
import { pickDtype, resolveSource, runInput } from "../../engine/host.ts"
import { pixels, type WorkInput, type WorkOutput } from "../../engine/work.ts"
import { adapterEnvironment } from "../adapter.ts"
import { Baseline, type Job, makeBaseline, type Measured, type SetupInfo } from "../baseline.ts"
import { djinnServer } from "../djinn-server.ts"
import { baselineError, type BaselineError } from "../errors.ts"

const describe = (e: unknown) => {
  const x = e as { reason?: string; message?: string }
  return x.message !== undefined ? `${x.reason ? `${x.reason}: ` : ""}${x.message}` : String(e)
}

const attempt = <A>(label: string, f: () => Promise<A>) =>
  Effect.tryPromise({ try: f, catch: (e) => baselineError("Run", `${label}: ${describe(e)}`) })

/** A connection for the baseline's lifetime: closing it frees what the server held for us (sessions, blind buffers). */
const connection = (config: BaselineConfig, host: string, port: number) =>
  Effect.acquireRelease(
    Effect.tryPromise({
      // A benchmark client is long-lived: its codec is warmed up (optimized) before the runs, as a server's is.
      try: () => ConnectionClass.connect({ host, port, source: "explicit" }, { clientName: `djinn-harness/${config.name}`, connectTimeoutMs: 10_000, warmCodec: true }),
      catch: (e) => baselineError("Setup", `${config.name}: ${describe(e)}`),
    }),
    (conn) => Effect.sync(() => conn.close()),
  )

const serverAdapter = (conn: Connection) =>
  Effect.tryPromise({ try: () => conn.stats(), catch: () => baselineError("Setup", "no stats") }).pipe(
    Effect.map((s) => (s as { gpus?: Array<{ adapter?: AdapterDescription }> }).gpus?.[0]?.adapter),
    Effect.orElseSucceed(() => undefined),
  )

// ---- semantic ------------------------------------------------------------------------------------------------------

interface SemanticState {
  readonly session: Session
  readonly handle: number
}

const valuesOf = (t: { dtype: DType; shape: ReadonlyArray<number>; data: Uint8Array }): WorkOutput =>
  ({ kind: "values", shape: [...t.shape], values: tensorValues(t) })

interface SemanticReply {
  readonly r: RequestResult
  /** The output native computes for the run, or why the reply has none. */
  readonly output: WorkOutput | string
}

/** One request for a run: tokens, last logits, last_hidden_state or logits. */
const semanticCall = (s: SemanticState, input: WorkInput, images: Float32Array | undefined): Promise<SemanticReply> => {
  switch (input.kind) {
    case "generate":
      return s.session.generate(s.handle, input.ids, { maxNewTokens: input.newTokens }).then((r) => ({ r, output: { kind: "tokens", tokens: r.tokens } }))
    case "forward":
      return s.session.forward(s.handle, input.ids, { values: true })
        .then((r) => ({ r, output: r.lastLogits === undefined ? "the reply has no lastLogits" : valuesOf(r.lastLogits) }))
    case "encode":
      return s.session.forward(s.handle, { input_ids: { shape: [input.batch, input.seq], data: Int32Array.from(input.ids) } }, { values: true })
        .then((r) => ({ r, output: r.outputs.last_hidden_state?.tensor === undefined ? "the reply has no last_hidden_state" : valuesOf(r.outputs.last_hidden_state.tensor) }))
    case "classify": {
      // As f32, the way native and the blind client upload them: the server casts to the model's f16 on the GPU
      // (microseconds), where a CPU conversion of a b8 batch costs milliseconds; twice the bytes on the wire.
      return s.session.forward(s.handle, { input: { shape: input.shape, data: images! } }, { values: true, phase: "vision" })
        .then((r) => ({ r, output: r.outputs.logits?.tensor === undefined ? "the reply has no logits" : valuesOf(r.outputs.logits.tensor) }))
    }
  }
}

const semanticRun = (config: BaselineConfig, s: SemanticState, input: WorkInput) =>
  Effect.gen(function*() {
    // Images are made from their seed before the clock starts, as every baseline does.
    const images = input.kind === "classify" ? pixels(input) : undefined
    const started = performance.now()
    const { r, output } = yield* attempt(config.name, () => semanticCall(s, input, images))
    const latencyMs = performance.now() - started
    if (typeof output === "string") return yield* baselineError("Run", `${config.name}: ${output}`)
    const t = r.timings, p = r.profile
    return {
      latencyMs,
      inputBytes: t.bytesOut,
      outputBytes: t.bytesIn,
      breakdown: {
        client_serialize_ms: t.serializeMs,
        client_deserialize_ms: t.deserializeMs,
        client_network_c2s_ms: t.networkC2sMs,
        client_network_s2c_ms: t.networkS2cMs,
        server_duration_ms: p.durationMs,
        server_queue_latency_ms: p.queueMs,
        server_plan_ms: p.planMs,
        server_placement_ms: p.placementMs,
        server_execution_ms: p.executionMs,
        server_skeletonization_ms: p.skeletonizationMs,
        server_cleanup_ms: p.cleanupMs,
      },
      roundTrips: 1,
      output,
    } satisfies Measured
  })

// ---- blind ---------------------------------------------------------------------------------------------------------

interface BlindState {
  readonly gpu: RemoteGpu
  readonly mem: Memory
  readonly model: LoadedModel
  /** Sums over the server's replies to GpuSubmits, kept by a tap on the connection (RemoteGpu does not expose them). */
  readonly server: { executionMs: number; durationMs: number }
}

/** Sums the Profile of every GpuSubmitResult on this connection: a measurement tap, behaviour unchanged. */
const tapProfiles = (conn: Connection, into: BlindState["server"]) => {
  const call = conn.call.bind(conn)
  conn.call = ((body, expect, onEvent) =>
    call(body, expect, onEvent).then((r) => {
      const p = (r.body as { profile?: { executionMs: number; durationMs: number } }).profile
      if (p !== undefined) {
        into.executionMs += p.executionMs
        into.durationMs += p.durationMs
      }
      return r
    })) as Connection["call"]
}

const blindRun = (config: BaselineConfig, s: BlindState, input: WorkInput) =>
  Effect.gen(function*() {
    const before = { ...s.gpu.stats }
    s.server.executionMs = 0
    s.server.durationMs = 0
    const images = input.kind === "classify" ? pixels(input) : undefined
    const started = performance.now()
    const output = yield* attempt(config.name, () => runInput(s.gpu, s.mem, s.model, input, images))
    const latencyMs = performance.now() - started
    const after = { ...s.gpu.stats }
    const server = { ...s.server }
    yield* attempt(config.name, () => s.gpu.checkErrors()) // outside the timing, as native's check is
    return {
      latencyMs,
      inputBytes: after.bytesOut - before.bytesOut,
      outputBytes: after.bytesIn - before.bytesIn,
      breakdown: {
        client_serialize_ms: after.serializeMs - before.serializeMs,
        client_deserialize_ms: after.deserializeMs - before.deserializeMs,
        server_duration_ms: server.durationMs,
        server_execution_ms: server.executionMs,
      },
      roundTrips: after.roundTrips - before.roundTrips,
      output,
    } satisfies Measured
  })

// ---- layer ---------------------------------------------------------------------------------------------------------

type State = { readonly mode: "semantic"; readonly semantic: SemanticState } | { readonly mode: "blind"; readonly blind: BlindState }

export const makeRemoteDjinn = (config: BaselineConfig, job: Job) => {
  const mode = config.type === "remote_djinn" ? config.mode : "semantic"
  const setup = Effect.gen(function*(): Effect.fn.Return<{ readonly state: State; readonly info: SetupInfo }, BaselineError, Scope.Scope> {
    const endpoint = yield* djinnServer(config, job, { http: false, preload: mode === "semantic" })
    const conn = yield* connection(config, endpoint.host, endpoint.port)
    const adapter = yield* serverAdapter(conn)
    const environment = adapter === undefined ? {} : { environment: adapterEnvironment(adapter, { "server.launched": String(endpoint.launched) }) }
    if (mode === "semantic") {
      const model = yield* attempt(`${config.name} model`, () => conn.ensureModel(endpoint.model!)).pipe(Effect.mapError((e) => baselineError("Setup", e.message)))
      const session = yield* attempt(`${config.name} session`, () => conn.openSession({ priority: "interactive" })).pipe(Effect.mapError((e) => baselineError("Setup", e.message)))
      return { state: { mode: "semantic", semantic: { session, handle: model.handle as number } }, info: environment }
    }
    const server = { executionMs: 0, durationMs: 0 }
    tapProfiles(conn, server)
    const gpu = yield* Effect.acquireRelease(
      attempt(`${config.name} RemoteGpu`, () => conn.remoteGpu()).pipe(Effect.mapError((e) => baselineError("Setup", e.message))),
      (g) => Effect.sync(() => g.destroy()),
    )
    const mem = pooledMemory(gpu) // a caching allocator, as a framework (PyTorch) has: no buffer creation per request
    // The engine in this process builds the model on the remote GPU: the weights cross the network once, here.
    const model = yield* Effect.try({
      try: () => loadModel(gpu, mem, resolveSource(job.model.model), pickDtype(gpu, job.model.dtype)),
      catch: (e) => baselineError(/Unsupported/.test(describe(e)) ? "Unavailable" : "Setup", `${config.name}: ${describe(e)}`),
    })
    yield* attempt(`${config.name} weight upload`, () => gpu.finish()).pipe(Effect.mapError((e) => baselineError("Setup", e.message)))
    return { state: { mode: "blind", blind: { gpu, mem, model, server } }, info: environment }
  })
  return makeBaseline(config.name, job, setup, (state, request) =>
    state.mode === "semantic" ? semanticRun(config, state.semantic, request.input) : blindRun(config, state.blind, request.input))
}

export const remoteDjinnLayer = (config: BaselineConfig, job: Job) => Layer.effect(Baseline, makeRemoteDjinn(config, job))
