import {
  decodePayload,
  encodeParts,
  FrameDecoder,
  SegmentPool,
  PROTOCOL_VERSION,
  startFrameReads,
  type Payload,
  type ProtocolError,
  warmCodec,
  type DomainMessage,
  type MessageBody,
  type RequestId,
} from "@djinn/protocol"
import { Cause, Context, Deferred, Effect, Layer, Result, Scope } from "effect"
import type { Socket } from "node:net"
import { timingSafeEqual } from "node:crypto"
import { Blind, type BlindNamespace } from "./blind.ts"
import { Settings } from "./config.ts"
import { serverError, toServerError, wireCode, wireMessage, type ServerError } from "./errors.ts"
import { Inference, type Outcome } from "./inference.ts"
import { makeLane, type Lane } from "./lane.ts"
import { Models, type ModelEntry } from "./models.ts"
import { RequestClock } from "./profiler.ts"
import { Sessions } from "./sessions.ts"
import { Skeletonizer } from "./skeletonizer.ts"
import { ServerStats, type ConnectionStats } from "./stats.ts"
import { TraceLog, type RequestTrace } from "./trace.ts"

/** Bytes of received, not yet handled messages above which the socket stops reading (TCP pushes back on the client). */
const PAUSE_BYTES = 64 * 1024 * 1024
const RESUME_BYTES = 16 * 1024 * 1024
const HANDSHAKE_MS = 10_000

const SERVER_ONLY = new Set(["Welcome", "SessionOpened", "ModelInfo", "TokenEvent", "Result", "RefData", "GpuSubmitResult", "StatsReply", "Ack", "Error"])

interface State {
  readonly id: string
  readonly remote: string
  readonly openedAt: number
  authed: boolean
  blind: BlindNamespace | undefined
  messagesIn: number
  bytesIn: number
  bytesOut: number
  queuedBytes: number
}

const tokensEqual = (a: string, b: string): boolean => {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/**
 * One client connection: handshake (protocol version, optional token), frame limits, and the routing of messages —
 * control messages in order on one lane, a session's requests on the session's lane, blind GPU batches on a lane of
 * their own. A frame that does not decode is answered with an Error and the connection goes on; a frame over the
 * limit breaks the framing, so it is answered and the connection closed. When the socket closes, everything the
 * connection owns (sessions, arenas, refs, its blind namespace, staged uploads) is freed.
 */
export class Connections extends Context.Service<Connections, {
  readonly handle: (socket: Socket) => Effect.Effect<void>
  readonly list: () => ReadonlyArray<ConnectionStats>
}>()("djinn/server/Connections") {
  static readonly layer = Layer.effect(
    Connections,
    Effect.gen(function* () {
      const settings = yield* Settings
      const sessions = yield* Sessions
      const models = yield* Models
      const inference = yield* Inference
      const skeletonizer = yield* Skeletonizer
      const blind = yield* Blind
      const stats = yield* ServerStats
      // Before the first client: the codec's hot paths optimized, not interpreted, from the first request on.
      yield* Effect.sync(() => warmCodec())
      const open = new Map<string, State>()
      const traces = settings.traceRequests ? new TraceLog() : undefined
      let nextId = 1

      const list = (): ReadonlyArray<ConnectionStats> => [...open.values()].map((c) => ({
        id: c.id,
        remote: c.remote,
        sessions: sessions.owned(c.id).length,
        blind: c.blind !== undefined,
        messagesIn: c.messagesIn,
        bytesIn: c.bytesIn,
        bytesOut: c.bytesOut,
        ageMs: Math.round(performance.now() - c.openedAt),
      }))

      const modelInfo = (m: ModelEntry): MessageBody => ({ _tag: "ModelInfo", handle: m.handle, key: m.key, paramBytes: m.paramBytes, resident: m.onGpu.size > 0 })
      const result = (o: Outcome, clock: RequestClock): MessageBody => ({ _tag: "Result", tokens: o.tokens, refs: o.refs, profile: clock.profile(), ...(o.lastLogits !== undefined ? { lastLogits: o.lastLogits } : {}) })

      const handle = (socket: Socket) => Effect.scoped(Effect.gen(function* () {
        const scope = yield* Effect.scope
        const state: State = {
          id: `c${nextId++}`,
          remote: `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? "?"}`,
          openedAt: performance.now(),
          authed: false,
          blind: undefined,
          messagesIn: 0,
          bytesIn: 0,
          bytesOut: 0,
          queuedBytes: 0,
        }
        const owner = state.id
        const closed = Deferred.makeUnsafe<void>()
        open.set(owner, state)
        yield* Effect.addFinalizer(() => Effect.sync(() => {
          open.delete(owner)
          models.dropUploads(owner)
          socket.destroy()
        }))
        // What the connection owns (sessions, its blind namespace) lives in a child scope made before the lanes, so
        // at close the lanes stop first (a running item finishes), then the owned scope closes (each session after its
        // own running request), then the socket goes.
        const owned = yield* Scope.fork(scope)
        const control = yield* makeLane
        const blindLane = yield* makeLane

        /** Encodes and writes messages for a request; several go out in one writev (a forward's values and its Result). */
        const send = (requestId: number, bodies: MessageBody | ReadonlyArray<MessageBody>, trace?: RequestTrace): void => {
          if (socket.destroyed) return
          const t0 = trace === undefined ? 0 : performance.now()
          const parts = Array.isArray(bodies)
            ? bodies.flatMap((body: MessageBody) => encodeParts({ requestId: requestId as RequestId, body }))
            : encodeParts({ requestId: requestId as RequestId, body: bodies as MessageBody })
          const t1 = trace === undefined ? 0 : performance.now()
          socket.cork()
          for (const p of parts) {
            socket.write(p)
            state.bytesOut += p.byteLength
          }
          socket.uncork()
          if (trace !== undefined) {
            trace.writtenAt = performance.now()
            trace.encodeMs += t1 - t0
            trace.writeMs += trace.writtenAt - t1
            for (const p of parts) trace.replyBytes += p.byteLength
          }
        }
        const reply = (requestId: number, e: ServerError): void =>
          send(requestId, { _tag: "Error", code: wireCode(e.reason), message: wireMessage(e) })
        const hangUp = (requestId: number, e: ServerError): void => {
          reply(requestId, e)
          socket.end()
        }

        /** Runs a handler on a lane; its reply (or its error) goes to the client; `bytes` stop counting when it is done. */
        // `release` runs once the request is over, whichever way it ends (its frame's buffers may then be reused).
        const enqueue = (lane: Lane, requestId: number, bytes: number, effect: Effect.Effect<MessageBody | ReadonlyArray<MessageBody> | undefined, ServerError>, trace?: RequestTrace, release?: () => void) => {
          state.queuedBytes += bytes
          if (state.queuedBytes > PAUSE_BYTES) socket.pause()
          const settle = () => {
            release?.()
            state.queuedBytes -= bytes
            if (state.queuedBytes < RESUME_BYTES && socket.isPaused()) socket.resume()
          }
          lane.submit(
            effect.pipe(
              Effect.flatMap((body) => Effect.sync(() => { if (body !== undefined) send(requestId, body, trace) })),
              Effect.catch((e: ServerError) => Effect.sync(() => reply(requestId, toServerError(e)))),
              Effect.onInterrupt(() => Effect.sync(() => reply(requestId, serverError("Cancelled", "the session closed while the request ran")))),
              Effect.catchCause((cause) => Effect.sync(() => {
                if (!Cause.hasInterruptsOnly(cause)) reply(requestId, serverError("Internal", Cause.pretty(cause)))
              })),
              Effect.ensuring(Effect.sync(settle)),
            ),
            () => {
              settle()
              reply(requestId, serverError("Cancelled", "the session closed before the request ran"))
            },
          )
        }

        const controlMessage = (requestId: number, body: MessageBody): Effect.Effect<MessageBody | undefined, ServerError> => {
          switch (body._tag) {
            case "OpenSession":
              return sessions.open(owner, owned, body.hints).pipe(
                Effect.map((s): MessageBody => ({ _tag: "SessionOpened", sessionId: s.id, kvArenaBytes: s.arena.capacity })))
            case "CloseSession":
              return sessions.close(owner, body.sessionId).pipe(Effect.as<MessageBody>({ _tag: "Ack" }))
            case "LookupModel":
              return Effect.suspend(() => {
                const m = models.lookup(body.key)
                return m === undefined
                  ? Effect.fail(serverError("NotFound", `no model ${body.key.id}${body.key.fingerprint === "" ? "" : ` (${body.key.fingerprint.slice(0, 12)}…)`}`))
                  : Effect.succeed(modelInfo(m))
              })
            case "LoadModel":
              return models.load(body.key).pipe(Effect.map(modelInfo))
            case "RegisterModel":
              return models.register(owner, body.key, body.configJson, body.tensors).pipe(
                Effect.map((handle): MessageBody => ({ _tag: "ModelInfo", handle, key: body.key, paramBytes: 0, resident: false })))
            case "WeightChunk":
              return models.chunk(owner, body.modelHandle, body.tensorIndex, body.offset, body.data).pipe(Effect.as<MessageBody>({ _tag: "Ack" }))
            case "CommitModel":
              return models.commit(owner, body.modelHandle).pipe(Effect.map(modelInfo))
            case "FetchRef":
              return Effect.gen(function* () {
                const session = sessions.owned(owner).find((s) => s.refs.has(body.refId))
                if (session === undefined) return yield* serverError("NotFound", `no ref ${body.refId} in this connection's sessions`)
                const { ref, data } = yield* skeletonizer.fetch(session, body.refId)
                return { _tag: "RefData", ref, data } satisfies MessageBody
              })
            case "FreeRefs":
              return Effect.gen(function* () {
                const owned = sessions.owned(owner)
                const missing: number[] = []
                for (const id of body.refIds) {
                  const session = owned.find((s) => s.refs.has(id))
                  if (session === undefined) missing.push(id)
                  else yield* skeletonizer.free(session, [id])
                }
                if (missing.length > 0) return yield* serverError("NotFound", `no refs ${missing.join(", ")} in this connection's sessions`)
                return { _tag: "Ack" } satisfies MessageBody
              })
            case "StatsRequest":
              return Effect.sync(() => ({ _tag: "StatsReply", json: JSON.stringify({ ...stats.snapshot(list()), ...(traces !== undefined ? { traces: traces.snapshot() } : {}) }) }))
            default:
              return Effect.fail(serverError("BadRequest", `${body._tag} is not a request a client sends`))
          }
        }

        /** The frame's marks (first chunk, whole, decoded): request traces. */
        interface Arrival { readonly frame: Payload; readonly bytes: number; readonly firstChunkAt: number; readonly receivedAt: number; readonly decodedAt: number }

        // A large tensor's segment is read into a buffer this connection already holds when one of its size is free
        // (a fresh one page-faults on every 4 KiB the socket reads into it: ~1.3 ms for ResNet-50 b8's 4.8 MB). A
        // Forward's frame goes back when the request is over: its inputs are uploaded (writeBuffer copies) or copied
        // out by then, and no reply holds a view of them. Other messages' frames are left to the collector.
        const segments = new SegmentPool()

        const route = (m: DomainMessage, arrival: Arrival): void => {
          const { bytes, receivedAt } = arrival
          const { requestId, body } = m
          if (!state.authed) {
            if (body._tag !== "Hello") return hangUp(requestId, serverError("Protocol", `expected Hello first, got ${body._tag}`))
            if (body.protocolVersion !== PROTOCOL_VERSION) {
              return hangUp(requestId, serverError("VersionMismatch", `client speaks protocol ${body.protocolVersion}, the server ${PROTOCOL_VERSION}`))
            }
            if (settings.authToken !== undefined && (body.authToken === undefined || !tokensEqual(body.authToken, settings.authToken))) {
              return hangUp(requestId, serverError("Unauthorized", body.authToken === undefined ? "this server needs an auth token" : "wrong auth token"))
            }
            state.authed = true
            return send(requestId, { _tag: "Welcome", protocolVersion: PROTOCOL_VERSION, serverName: settings.serverName })
          }
          switch (body._tag) {
            case "Hello":
              return reply(requestId, serverError("Protocol", "Hello after the handshake"))
            case "Generate":
            case "Forward": {
              const session = sessions.find(owner, body.sessionId)
              if (session === undefined) return reply(requestId, serverError("NotFound", `no open session ${body.sessionId} on this connection`))
              const clock = new RequestClock(receivedAt)
              const trace: RequestTrace | undefined = traces === undefined ? undefined : {
                requestId, kind: body._tag, frameBytes: bytes, firstChunkAt: arrival.firstChunkAt, frameAt: receivedAt, decodedAt: arrival.decodedAt,
                execStartedAt: 0, workEndedAt: 0, replyAt: 0, encodeMs: 0, writeMs: 0, replyBytes: 0, writtenAt: 0,
              }
              if (trace !== undefined) traces!.add(trace)
              const req = { session, modelHandle: body.modelHandle, inputs: body.inputs, hints: body.hints, want: body.want }
              const run = body._tag === "Generate"
                ? inference.generate(req, body.params, clock, (index, token) => send(requestId, { _tag: "TokenEvent", index, token }))
                : inference.forward(req, clock)
              // Output values (encoder / vision forwards) go ahead of the Result, one RefData each, in output order.
              return enqueue(session.lane, requestId, bytes, run.pipe(Effect.map((o): MessageBody | ReadonlyArray<MessageBody> => {
                if (trace !== undefined) {
                  trace.replyAt = performance.now()
                  trace.execStartedAt = clock.execStartedAt
                  trace.workEndedAt = clock.workEndedAt
                }
                if (o.values === undefined || o.values.length === 0) return result(o, clock)
                return [...o.values.map((v): MessageBody => ({ _tag: "RefData", ref: v.ref, data: v.data })), result(o, clock)]
              })), trace, body._tag === "Forward" ? () => segments.give(arrival.frame) : undefined)
            }
            case "GpuSubmit": {
              const clock = new RequestClock(receivedAt)
              return enqueue(blindLane, requestId, bytes, Effect.gen(function* () {
                const ns = state.blind ?? (state.blind = yield* blind.open(owned))
                const reads = yield* blind.submit(ns, body.calls, clock)
                return { _tag: "GpuSubmitResult", reads, profile: clock.profile() } satisfies MessageBody
              }))
            }
            default:
              if (SERVER_ONLY.has(body._tag)) return reply(requestId, serverError("BadRequest", `${body._tag} is a server message`))
              return enqueue(control, requestId, bytes, controlMessage(requestId, body))
          }
        }

        // Large payloads are assembled segment by segment, read in place: a tensor crosses from the kernel into the
        // buffer it is decoded from.
        const decoder = FrameDecoder.segmented({ maxFrameBytes: settings.maxFrameBytes, segmentBuffers: segments })
        let frameStartedAt = 0 // the read that brought the first bytes of the frame being assembled
        let fresh = true // no bytes of an unfinished frame held before this read
        let framingLost = false
        const onFrames = (frames: Result.Result<ReadonlyArray<Payload>, ProtocolError>, bytes: number): boolean => {
          const chunkAt = performance.now()
          state.bytesIn += bytes
          let firstChunkAt = fresh ? chunkAt : frameStartedAt
          if (Result.isFailure(frames)) {
            // The framing is lost: answer once and end. Reading goes on (every later read fails here unanswered),
            // so the peer's close is seen and the connection's resources go with it.
            if (!framingLost) hangUp(0, toServerError(frames.failure))
            framingLost = true
            return true
          }
          if (fresh || frames.success.length > 0) frameStartedAt = chunkAt
          for (const frame of frames.success) {
            const receivedAt = performance.now()
            state.messagesIn++
            const decoded = decodePayload(frame, { maxFrameBytes: settings.maxFrameBytes })
            if (Result.isFailure(decoded)) {
              // The frame was whole, so the stream is still in step: answer and read on. Before the handshake, hang up.
              const e = toServerError(decoded.failure)
              if (state.authed) reply(0, e)
              else hangUp(0, e)
              continue
            }
            const arrival = { frame, bytes: frame.byteLength, firstChunkAt, receivedAt, decodedAt: performance.now() }
            firstChunkAt = chunkAt
            try {
              route(decoded.success, arrival)
            } catch (cause) {
              reply(decoded.success.requestId, toServerError(cause))
            }
          }
          fresh = decoder.buffered === 0
          return true
        }

        const timer = setTimeout(() => { if (!state.authed) socket.destroy() }, HANDSHAKE_MS)
        socket.setNoDelay(true)
        socket.on("error", () => {})
        socket.on("close", () => {
          clearTimeout(timer)
          Deferred.doneUnsafe(closed, Effect.void)
        })
        if (socket.destroyed) Deferred.doneUnsafe(closed, Effect.void)
        else startFrameReads(socket, decoder, onFrames)
        yield* Deferred.await(closed)
      }))

      return Connections.of({ handle, list })
    }),
  )
}
