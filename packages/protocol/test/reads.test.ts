// The in-place read path: FrameDecoder.readBuffer / commit (reads land where the decoder says), and the socket glue
// that drives it (net's onread on a connecting socket, an accepted socket adopted by startFrameReads).
import fc from "fast-check"
import { Result } from "effect"
import { createServer, connect as netConnect, type Server, type Socket } from "node:net"
import { afterEach, describe, expect, it } from "vitest"
import {
  decodePayload, encode, encodeFrame, encodeParts, FrameDecoder, frameReads, SegmentedPayload, SegmentPool, startFrameReads, type DomainMessage,
  type Payload, type ProtocolError, type RefId, type RequestId,
} from "../src/index.ts"
import { canon, message, seededBytes } from "./arbitraries.ts"

const ok = <A, E>(r: Result.Result<A, E>): A => {
  if (Result.isFailure(r)) throw new Error(`unexpected failure: ${String(r.failure)}`)
  return r.success
}

/** Feeds `stream` through readBuffer/commit, each read taking at most the next of `sizes` (cycled) bytes. */
const readAll = (dec: FrameDecoder<Payload>, stream: Uint8Array, sizes: ReadonlyArray<number>): Array<DomainMessage> => {
  const got: Array<DomainMessage> = []
  let at = 0
  for (let i = 0; at < stream.byteLength; i++) {
    const buf = dec.readBuffer()
    expect(buf.byteLength).toBeGreaterThan(0)
    const n = Math.min(buf.byteLength, sizes[i % sizes.length], stream.byteLength - at)
    buf.set(stream.subarray(at, at + n))
    at += n
    // Payloads may be views of the scratch buffer: decode before the next read, as a socket reader does.
    for (const p of ok(dec.commit(n))) got.push(ok(decodePayload(p)))
  }
  expect(dec.buffered).toBe(0)
  return got
}

const bigRefData = (n: number, seed: number): DomainMessage => {
  const data = seededBytes(n, seed)
  return { requestId: seed as RequestId, body: { _tag: "RefData", ref: { id: 4 as RefId, dtype: "u8", shape: [n], byteSize: n }, data } }
}

describe("in-place reads (readBuffer / commit)", () => {
  it("every message of a stream arrives, whatever the read sizes, scratch and direct thresholds", () => {
    fc.assert(
      fc.property(
        fc.array(message(), { maxLength: 10 }),
        fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 4, max: 64 }),
        fc.integer({ min: 1, max: 64 }),
        fc.boolean(),
        (msgs, sizes, readBytes, directReadsFrom, segmented) => {
          const stream = Buffer.concat(msgs.map(encode))
          const options = { readBytes, directReadsFrom, splitSegmentsFrom: 0 }
          const dec = segmented ? FrameDecoder.segmented(options) : new FrameDecoder<Payload>(options)
          expect(canon(readAll(dec, stream, sizes))).toEqual(canon(msgs))
        },
      ),
      { numRuns: 200 },
    )
  })

  it("a large tensor between small messages, split at awkward boundaries, is read into its own segment", () => {
    const small: DomainMessage = { requestId: 1 as RequestId, body: { _tag: "TokenEvent", index: 3, token: 7 } }
    const big = bigRefData(700_001, 9)
    const stream = Buffer.concat([...encodeParts(small), ...encodeParts(big), ...encodeParts(small), ...encodeParts(big)])
    // Cuts inside the prefix, the segment table, one byte before and after the segment boundary, and whole reads.
    for (const sizes of [[1], [3, 5, 7], [4093, 1, 65536, 2], [1_000_000], [13, 262_144, 11]]) {
      const dec = FrameDecoder.segmented()
      const got = readAll(dec, stream, sizes.length === 1 && sizes[0] === 1 ? [1, 1, 1, 1, 1, 1, 1, 1, 1, 100_003] : sizes)
      expect(canon(got)).toEqual(canon([small, big, small, big]))
    }
    // Most of the tensor is read in place: the buffer handed out is a view of the segment it decodes from.
    const dec = FrameDecoder.segmented({ readBytes: 4096 })
    const frame = Buffer.concat(encodeParts(big))
    const scratch = dec.readBuffer().buffer // between frames, reads go to the scratch buffer
    let at = 0
    let direct = 0
    let payload: Payload | undefined
    while (at < frame.byteLength) {
      const buf = dec.readBuffer()
      const n = Math.min(buf.byteLength, frame.byteLength - at)
      buf.set(frame.subarray(at, at + n))
      at += n
      if (buf.buffer !== scratch) direct += n
      const frames = ok(dec.commit(n))
      if (frames.length > 0) payload = frames[0]
    }
    expect(direct).toBeGreaterThanOrEqual(frame.byteLength - 4096) // all but what the first (scratch) read brought
    expect(payload).toBeInstanceOf(SegmentedPayload)
    const body = ok(decodePayload(payload!)).body
    expect(body._tag === "RefData" && (payload as SegmentedPayload).segments.includes(body.data.buffer as ArrayBuffer)).toBe(true)
  })

  it("an oversize frame fails at its prefix, before a byte of payload is held, and the decoder stays failed", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1025, max: 0xffff_ffff }), fc.integer({ min: 1, max: 4 }), (length, first) => {
        const dec = FrameDecoder.segmented({ maxFrameBytes: 1024 })
        const prefix = new Uint8Array(8)
        new DataView(prefix.buffer).setUint32(0, length, true)
        let r: Result.Result<ReadonlyArray<Payload>, ProtocolError> = Result.succeed([])
        for (const [from, to] of [[0, first], [first, 8]]) {
          if (from === to) continue
          const buf = dec.readBuffer()
          buf.set(prefix.subarray(from, to))
          r = dec.commit(to - from)
          if (Result.isFailure(r)) break
        }
        expect(Result.isFailure(r) && r.failure.reason).toBe("FrameTooLarge")
        expect(dec.buffered).toBe(0)
        dec.readBuffer().set(encodeFrame(new Uint8Array(8)))
        expect(Result.isFailure(dec.commit(12))).toBe(true)
      }),
      { numRuns: 100 },
    )
  })
})

// -------------------------------------------------------------------------------------------------------------
// Over a socket

const servers: Server[] = []
afterEach(() => {
  for (const s of servers.splice(0)) s.close()
})

/** A sink that decodes every frame into `got` and records failures. */
const collector = () => {
  const got: Array<DomainMessage> = []
  const failures: Array<string> = []
  const sink = (frames: Result.Result<ReadonlyArray<Payload>, ProtocolError>) => {
    if (Result.isFailure(frames)) {
      failures.push(frames.failure.reason)
      return true
    }
    for (const p of frames.success) got.push(ok(decodePayload(p)))
    return true
  }
  return { got, failures, sink }
}

const until = async (cond: () => boolean, ms = 10_000) => {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out")
    await new Promise((r) => setTimeout(r, 2))
  }
}

/** Writes `bytes` in pieces of the given sizes (cycled), yielding to the event loop between them. */
const writeInPieces = async (socket: Socket, bytes: Uint8Array, sizes: ReadonlyArray<number>) => {
  let at = 0
  for (let i = 0; at < bytes.byteLength; i++) {
    const n = Math.min(sizes[i % sizes.length], bytes.byteLength - at)
    socket.write(bytes.subarray(at, at + n))
    at += n
    if (i % 3 === 0) await new Promise((r) => setImmediate(r))
  }
}

const listen = (pauseOnConnect: boolean, onSocket: (s: Socket) => void): Promise<number> =>
  new Promise((resolve) => {
    const server = createServer({ pauseOnConnect }, onSocket)
    servers.push(server)
    server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port))
  })

describe("socket reads", () => {
  const small: DomainMessage = { requestId: 1 as RequestId, body: { _tag: "TokenEvent", index: 3, token: 7 } }
  const stream = () => Buffer.concat([...encodeParts(small), ...encodeParts(bigRefData(3_000_017, 5)), ...encodeParts(small)])

  it("an accepted, paused socket is read in place; a large frame written in awkward pieces arrives whole", async () => {
    const c = collector()
    let mode = ""
    const port = await listen(true, (s) => { mode = startFrameReads(s, FrameDecoder.segmented(), c.sink) })
    const client = netConnect({ port, host: "127.0.0.1" })
    await new Promise((r) => client.once("connect", r))
    await writeInPieces(client, stream(), [1, 2, 3, 4093, 65_537, 7, 1_000_000])
    await until(() => c.got.length === 3)
    expect(mode).toBe("in-place")
    expect(canon(c.got)).toEqual(canon([small, bigRefData(3_000_017, 5), small]))
    client.destroy()
  })

  it("a socket that already reads falls back to 'data' events, with the same result", async () => {
    const c = collector()
    let mode = ""
    const port = await listen(false, (s) => { mode = startFrameReads(s, FrameDecoder.segmented(), c.sink) })
    const client = netConnect({ port, host: "127.0.0.1" })
    await new Promise((r) => client.once("connect", r))
    await writeInPieces(client, stream(), [5, 70_000])
    await until(() => c.got.length === 3)
    expect(mode).toBe("events")
    expect(canon(c.got)).toEqual(canon([small, bigRefData(3_000_017, 5), small]))
    client.destroy()
  })

  it("a connecting socket reads in place through onread; an oversize frame fails the stream once, and the close is seen", async () => {
    let peer: Socket | undefined
    const port = await listen(false, (s) => { peer = s })
    const c = collector()
    const client = netConnect({ port, host: "127.0.0.1", onread: frameReads(FrameDecoder.segmented({ maxFrameBytes: 4_000_000 }), c.sink) })
    let closed = false
    client.on("close", () => { closed = true })
    await until(() => peer !== undefined)
    await writeInPieces(peer!, stream(), [3, 100_000, 1])
    await until(() => c.got.length === 3)
    expect(canon(c.got)).toEqual(canon([small, bigRefData(3_000_017, 5), small]))
    const over = new Uint8Array(64)
    new DataView(over.buffer).setUint32(0, 4_000_001, true)
    peer!.write(over)
    await until(() => c.failures.length > 0)
    peer!.end()
    await until(() => closed)
    expect(c.failures[0]).toBe("FrameTooLarge")
  })
})

describe("SegmentPool (large segments read into reused buffers)", () => {
  const N = 256 * 1024 + 24 // one external segment, a word multiple
  const largeSegments = (p: Payload): Array<ArrayBuffer> =>
    p instanceof SegmentedPayload ? p.segments.filter((s) => s.byteLength >= 64 * 1024) : []
  const one = (dec: FrameDecoder<Payload>, m: DomainMessage, sizes: ReadonlyArray<number>): Payload => {
    const stream = encode(m)
    const frames: Array<Payload> = []
    let at = 0
    for (let i = 0; at < stream.byteLength; i++) {
      const buf = dec.readBuffer()
      const n = Math.min(buf.byteLength, sizes[i % sizes.length], stream.byteLength - at)
      buf.set(stream.subarray(at, at + n))
      at += n
      frames.push(...ok(dec.commit(n)))
    }
    expect(frames).toHaveLength(1)
    expect(canon([ok(decodePayload(frames[0]))])).toEqual(canon([m]))
    return frames[0]
  }

  it("a returned segment carries the next frame of its size, with that frame's bytes; none is lent twice", () => {
    const pool = new SegmentPool()
    const dec = FrameDecoder.segmented({ segmentBuffers: pool })
    const a = one(dec, bigRefData(N, 1), [70_000, 3])
    const [bufA] = largeSegments(a)
    expect(bufA).toBeDefined()
    // Not returned yet: the next frame gets a buffer of its own.
    const b = one(dec, bigRefData(N, 2), [4096])
    expect(largeSegments(b)[0]).not.toBe(bufA)
    pool.give(a)
    pool.give(a) // a second give of the same frame is ignored
    expect(pool.heldBytes).toBe(bufA.byteLength)
    const c = one(dec, bigRefData(N, 3), [65_536, 1, 100_000])
    expect(largeSegments(c)[0]).toBe(bufA)
    const d = one(dec, bigRefData(N, 4), [1 << 20])
    expect(largeSegments(d)[0]).not.toBe(bufA)
    // A frame of another size, or one the pool never lent, does not take it / is not taken.
    pool.give(c)
    one(dec, bigRefData(N + 64, 5), [1 << 20])
    expect(pool.heldBytes).toBe(bufA.byteLength)
    pool.give(one(FrameDecoder.segmented(), bigRefData(N, 6), [1 << 20]))
    expect(pool.heldBytes).toBe(bufA.byteLength)
  })

  it("holds at most maxBuffers and maxBytes", () => {
    const pool = new SegmentPool({ maxBuffers: 2, maxBytes: 3 * N })
    const dec = FrameDecoder.segmented({ segmentBuffers: pool })
    const frames = [1, 2, 3].map((s) => one(dec, bigRefData(N, s), [1 << 20]))
    for (const f of frames) pool.give(f)
    expect(pool.heldBytes).toBeLessThanOrEqual(2 * (N + 8))
    const small = new SegmentPool({ maxBytes: N / 2 })
    const f = one(FrameDecoder.segmented({ segmentBuffers: small }), bigRefData(N, 7), [1 << 20])
    small.give(f)
    expect(small.heldBytes).toBe(0)
  })
})
