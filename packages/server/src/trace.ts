// Per-request timestamps of the semantic path, for measuring what a remote request costs beyond its GPU work (the
// "remote tax"): where a frame's bytes arrived, decoding, the wait for the executor, the work, and the reply's encoding
// and write. Kept only with `--trace-requests on`; read back through StatsReply (`traces`).

/** performance.now() values of one Generate / Forward, in this process's clock. */
export interface RequestTrace {
  readonly requestId: number
  readonly kind: "Generate" | "Forward"
  readonly frameBytes: number
  /** The data event that brought the frame's first bytes. */
  readonly firstChunkAt: number
  /** The frame was whole (decode starts). */
  readonly frameAt: number
  readonly decodedAt: number
  /** The executor job started; its work resolved (before the error check). 0 when the request failed before it. */
  execStartedAt: number
  workEndedAt: number
  /** The handler's outcome reached the connection (reply messages are encoded and written from here). */
  replyAt: number
  /** Encoding and socket.write of every reply message of the request (RefData values, then the Result). */
  encodeMs: number
  writeMs: number
  replyBytes: number
  /** The last reply message was handed to the socket. */
  writtenAt: number
}

const KEEP = 256

/** The last {@link KEEP} traces, oldest first. */
export class TraceLog {
  private readonly ring: RequestTrace[] = []
  private next = 0

  add(t: RequestTrace): void {
    if (this.ring.length < KEEP) this.ring.push(t)
    else this.ring[this.next] = t
    this.next = (this.next + 1) % KEEP
  }

  /**
   * The traces, with the offset that turns this process's performance.now() into CLOCK_MONOTONIC milliseconds
   * (process.hrtime), which every process on the host shares: a client on the same host can line its marks up.
   */
  snapshot(): { readonly monotonicOffsetMs: number; readonly requests: ReadonlyArray<RequestTrace> } {
    const requests = this.ring.length < KEEP ? [...this.ring] : [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)]
    return { monotonicOffsetMs: monotonicOffsetMs(), requests }
  }
}

/** CLOCK_MONOTONIC ms − performance.now() for this process. */
export const monotonicOffsetMs = (): number => Number(process.hrtime.bigint()) / 1e6 - performance.now()
