import {
  decodePayload,
  encodeParts,
  FrameDecoder,
  frameReads,
  PROTOCOL_VERSION,
  DEFAULT_MAX_FRAME_BYTES,
  type BodyOf,
  type MessageBody,
  type MessageTag,
  type FrameSink,
  type Payload,
  type Profile,
  type ProtocolError,
  type RequestId,
  warmCodec,
} from "@djinn/protocol"
import { Result } from "effect"
import { connect as netConnect, type Socket } from "node:net"
import { formatAddress, parseAddress, type ServerAddress } from "./address.ts"
import { clientError, ClientError, serverFailure } from "./errors.ts"
import { ensureModel, type ModelSpec, type RemoteModel } from "./models.ts"
import { RemoteGpu } from "./remote-gpu.ts"
import { Session } from "./session.ts"
import { CallClock, type CallTimings } from "./timings.ts"
import type { Hints } from "@djinn/protocol"

export interface ConnectOptions {
  readonly clientName?: string
  readonly authToken?: string
  readonly connectTimeoutMs?: number
  readonly maxFrameBytes?: number
  /**
   * Warm the codec up before connecting (once per process, a few hundred ms of CPU): a long-lived client's first
   * requests then run optimized encode/decode code instead of V8's interpreter. Off by default (one-shot CLIs).
   */
  readonly warmCodec?: boolean
}

/** A final reply and what the call cost on the client side. */
export interface Reply<B extends MessageBody = MessageBody> {
  readonly body: B
  readonly timings: CallTimings
}

interface Pending {
  readonly clock: CallClock
  readonly expect: ReadonlyArray<MessageTag>
  readonly onEvent: ((body: MessageBody) => void) | undefined
  readonly resolve: (reply: Reply) => void
  readonly reject: (error: ClientError) => void
}

/** Bytes and messages through the connection since it opened (all calls, including fire-and-forget ones). */
export interface TrafficStats {
  bytesOut: number
  bytesIn: number
  messagesOut: number
  messagesIn: number
}

const profileOf = (body: MessageBody): Profile | undefined =>
  body._tag === "Result" || body._tag === "GpuSubmitResult" ? body.profile : undefined

/**
 * One TCP connection to a djinn server: the handshake, then requests multiplexed by request id. Replies may be
 * preceded by events for the same id (TokenEvent; RefData carrying a forward's output values). Every call reports
 * its client-side timings.
 */
export class Connection {
  readonly address: ServerAddress
  readonly serverName: string
  readonly traffic: TrafficStats = { bytesOut: 0, bytesIn: 0, messagesOut: 0, messagesIn: 0 }
  private readonly socket: Socket
  private readonly pending = new Map<number, Pending>()
  private nextId = 1
  private readonly decoder: FrameDecoder<Payload>
  /** The read that brought the first bytes of the frame being assembled (call marks). */
  private frameStartedAt = 0
  /** No bytes of an unfinished frame are held (the next read starts a frame). */
  private fresh = true
  private closedWith: ClientError | undefined
  /** Errors the server sent for no request of ours (request id 0: it could not decode something we sent). */
  readonly orphanErrors: ClientError[] = []
  /** Set by RemoteGpu: one blind namespace per connection. */
  blindOpen = false

  private constructor(socket: Socket, address: ServerAddress, serverName: string, decoder: FrameDecoder<Payload>) {
    this.socket = socket
    this.address = address
    this.serverName = serverName
    this.decoder = decoder
    socket.on("close", () => this.fail(clientError("Closed", `the connection to ${formatAddress(address)} closed`)))
    socket.on("error", (e) => this.fail(clientError("Closed", `the connection to ${formatAddress(address)} failed: ${e.message}`)))
  }

  /** Connects and shakes hands; fails with a ClientError naming the address (and where it came from). */
  static async connect(address: ServerAddress | string, options: ConnectOptions = {}): Promise<Connection> {
    const addr = typeof address === "string" ? parseAddress(address) : address
    if (options.warmCodec === true) warmCodec()
    const where = `${formatAddress(addr)}${addr.source === "explicit" ? "" : ` (from ${addr.source})`}`
    // Reads land where the decoder says (in place for the bulk of a large reply); nothing arrives before the Hello.
    const decoder = FrameDecoder.segmented({ maxFrameBytes: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES })
    let sink: FrameSink<Payload> | undefined
    const socket = await new Promise<Socket>((resolve, reject) => {
      // A server speaks only after our Hello, by when the connection takes the reads; one that does not is dropped.
      const early: FrameSink<Payload> = () => (s.destroy(), false)
      const s = netConnect({ host: addr.host, port: addr.port, noDelay: true, onread: frameReads(decoder, (frames, n) => (sink ?? early)(frames, n)) })
      const timer = setTimeout(() => {
        s.destroy()
        reject(clientError("Connect", `cannot connect to the djinn server at ${where}: no answer in ${options.connectTimeoutMs ?? 5000} ms`))
      }, options.connectTimeoutMs ?? 5000)
      s.once("connect", () => { clearTimeout(timer); resolve(s) })
      s.once("error", (e) => { clearTimeout(timer); reject(clientError("Connect", `cannot connect to the djinn server at ${where}: ${e.message}`)) })
    })
    socket.setNoDelay(true)
    const conn = new Connection(socket, addr, "", decoder)
    sink = (frames, n) => conn.onFrames(frames, n)
    const hello = await conn.call({
      _tag: "Hello",
      protocolVersion: PROTOCOL_VERSION,
      clientName: options.clientName ?? "djinn-client/0.1.0",
      ...(options.authToken !== undefined ? { authToken: options.authToken } : {}),
    }, ["Welcome"]).catch((e: ClientError) => {
      socket.destroy()
      throw e.reason === "Server" ? e : clientError("Connect", `the djinn server at ${where} did not complete the handshake: ${e.message}`)
    })
    ;(conn as { serverName: string }).serverName = (hello.body as BodyOf<"Welcome">).serverName
    return conn
  }

  get closed(): boolean {
    return this.closedWith !== undefined
  }

  private onFrames(frames: Result.Result<ReadonlyArray<Payload>, ProtocolError>, bytes: number): boolean {
    const chunkAt = performance.now()
    this.traffic.bytesIn += bytes
    const fresh = this.fresh
    let firstChunkAt = fresh ? chunkAt : this.frameStartedAt
    if (Result.isFailure(frames)) {
      this.fail(clientError("Protocol", `the server sent a bad frame: ${frames.failure.message}`))
      this.socket.destroy()
      return false
    }
    if (fresh || frames.success.length > 0) this.frameStartedAt = chunkAt
    for (const frame of frames.success) {
      const t = performance.now()
      const decoded = decodePayload(frame)
      const decodedAt = performance.now()
      const ms = decodedAt - t
      const frameStartedAt = firstChunkAt
      firstChunkAt = chunkAt
      this.traffic.messagesIn++
      if (Result.isFailure(decoded)) {
        this.orphanErrors.push(clientError("Protocol", `undecodable reply: ${decoded.failure.message}`))
        continue
      }
      const { requestId, body } = decoded.success
      const p = this.pending.get(requestId)
      if (p === undefined) {
        if (body._tag === "Error") this.orphanErrors.push(serverFailure(body.code, body.message))
        continue
      }
      p.clock.deserializeMs += ms
      if (p.clock.replyStartedAt === 0) p.clock.replyStartedAt = frameStartedAt
      p.clock.replyAt = t
      p.clock.decodedAt = decodedAt
      p.clock.bytesIn += frame.byteLength + 4
      p.clock.messagesIn++
      // Events ahead of a reply: streamed tokens, and output values of a forward (RefData, unless RefData is the reply).
      if (body._tag === "TokenEvent" || (body._tag === "RefData" && !p.expect.includes("RefData"))) {
        p.onEvent?.(body)
        continue
      }
      this.pending.delete(requestId)
      if (body._tag === "Error") p.reject(serverFailure(body.code, body.message))
      else if (!p.expect.includes(body._tag)) p.reject(clientError("Protocol", `expected ${p.expect.join(" or ")}, got ${body._tag}`))
      else p.resolve({ body, timings: p.clock.finish(profileOf(body)?.durationMs ?? 0) })
    }
    this.fresh = this.decoder.buffered === 0
    return true
  }

  private fail(error: ClientError): void {
    if (this.closedWith !== undefined) return
    this.closedWith = error
    for (const p of this.pending.values()) p.reject(error)
    this.pending.clear()
  }

  /**
   * Sends a request and resolves with its final reply, which must be one of `expect`; an Error reply rejects with a
   * ClientError (reason "Server"). Events for the request (TokenEvent, RefData) go to `onEvent` as they arrive.
   */
  call<T extends MessageTag>(body: MessageBody, expect: ReadonlyArray<T>, onEvent?: (body: MessageBody) => void): Promise<Reply<BodyOf<T>>> {
    if (this.closedWith !== undefined) return Promise.reject(this.closedWith)
    const requestId = this.nextId
    this.nextId = this.nextId >= 0xffff_fffe ? 1 : this.nextId + 1
    const clock = new CallClock()
    const promise = new Promise<Reply<BodyOf<T>>>((resolve, reject) => {
      this.pending.set(requestId, { clock, expect, onEvent, resolve: resolve as (r: Reply) => void, reject })
    })
    const t = performance.now()
    const parts = encodeParts({ requestId: requestId as RequestId, body })
    clock.encodedAt = performance.now()
    clock.serializeMs = clock.encodedAt - t
    this.socket.cork()
    for (const p of parts) {
      this.socket.write(p)
      clock.bytesOut += p.byteLength
    }
    this.socket.uncork()
    clock.sentAt = performance.now()
    this.traffic.bytesOut += clock.bytesOut
    this.traffic.messagesOut++
    return promise
  }

  /** Opens a semantic session (hints: priority class, KV budget, expected tokens…). */
  openSession(hints: Partial<Hints> = {}): Promise<Session> {
    return Session.open(this, hints)
  }

  /** The handle of a model on the server, uploading a checkpoint folder only when the server lacks its content. */
  ensureModel(spec: ModelSpec): Promise<RemoteModel> {
    return ensureModel(this, spec)
  }

  /** The server's state: sessions, VMU segments, models, queues. */
  async stats(): Promise<Record<string, unknown> & { sessions: ReadonlyArray<Record<string, unknown>> }> {
    const r = await this.call({ _tag: "StatsRequest" }, ["StatsReply"])
    return JSON.parse(r.body.json)
  }

  /** A GpuDevice on the server's GPU (blind mode); one per connection. */
  remoteGpu(): Promise<RemoteGpu> {
    return RemoteGpu.open(this)
  }

  /** Closes the connection; the server frees everything it held for it (sessions, arenas, refs, blind buffers). */
  close(): void {
    this.fail(clientError("Closed", `the connection to ${formatAddress(this.address)} was closed by the client`))
    this.socket.end()
    this.socket.destroy()
  }

  /** Breaks the connection without a goodbye (tests: a client that dies mid-request). */
  destroy(): void {
    this.socket.destroy()
  }
}
