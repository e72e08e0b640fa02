/**
 * Client-side cost of one call. Serialization and deserialization are measured; the network share is what is left
 * of the round trip after them and the server's own duration, split evenly between the two directions (the clocks
 * of client and server are not synchronised, so the split is an estimate, as in NTP).
 */
export interface CallTimings {
  readonly serializeMs: number
  readonly deserializeMs: number
  readonly networkC2sMs: number
  readonly networkS2cMs: number
  readonly roundTripMs: number
  /** The server's durationMs (0 when the reply carries no profile). */
  readonly serverMs: number
  readonly bytesOut: number
  readonly bytesIn: number
  readonly messagesIn: number
  /** Where the call's time went, as performance.now() values of this process (single calls only). */
  readonly marks?: CallMarks
}

/** performance.now() marks of one call: the request encoded and handed to the socket, its first reply bytes, its final reply. */
export interface CallMarks {
  readonly startedAt: number
  readonly encodedAt: number
  readonly sentAt: number
  /** The data event that brought the first bytes of the call's first reply message (an event or the final reply). */
  readonly replyStartedAt: number
  /** The final reply's frame was whole (its decode starts); decoded. */
  readonly replyAt: number
  readonly decodedAt: number
}

export class CallClock {
  readonly startedAt = performance.now()
  encodedAt = 0
  sentAt = 0
  replyStartedAt = 0
  replyAt = 0
  decodedAt = 0
  serializeMs = 0
  deserializeMs = 0
  bytesOut = 0
  bytesIn = 0
  messagesIn = 0

  finish(serverMs: number): CallTimings {
    const roundTripMs = performance.now() - this.startedAt
    const network = Math.max(0, roundTripMs - this.serializeMs - this.deserializeMs - serverMs)
    return {
      serializeMs: this.serializeMs,
      deserializeMs: this.deserializeMs,
      networkC2sMs: network / 2,
      networkS2cMs: network / 2,
      roundTripMs,
      serverMs,
      bytesOut: this.bytesOut,
      bytesIn: this.bytesIn,
      messagesIn: this.messagesIn,
      marks: { startedAt: this.startedAt, encodedAt: this.encodedAt, sentAt: this.sentAt, replyStartedAt: this.replyStartedAt, replyAt: this.replyAt, decodedAt: this.decodedAt },
    }
  }
}

/** Sums timings of several calls (a model upload, a blind generation). */
export const sumTimings = (all: ReadonlyArray<CallTimings>): CallTimings => {
  const sum = (f: (t: CallTimings) => number) => all.reduce((n, t) => n + f(t), 0)
  return {
    serializeMs: sum((t) => t.serializeMs),
    deserializeMs: sum((t) => t.deserializeMs),
    networkC2sMs: sum((t) => t.networkC2sMs),
    networkS2cMs: sum((t) => t.networkS2cMs),
    roundTripMs: sum((t) => t.roundTripMs),
    serverMs: sum((t) => t.serverMs),
    bytesOut: sum((t) => t.bytesOut),
    bytesIn: sum((t) => t.bytesIn),
    messagesIn: sum((t) => t.messagesIn),
  }
}
