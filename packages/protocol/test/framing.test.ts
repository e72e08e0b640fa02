import fc from "fast-check"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import {
  decodeFrames, decodePayload, encode, encodeFrame, encodeParts, FrameDecoder, MessageDecoder, SegmentedPayload, type DomainMessage, type RefId,
  type RequestId,
} from "../src/index.ts"
import { canon, message, seededBytes } from "./arbitraries.ts"

/** Cuts `bytes` at the given fractions (sorted, deduplicated), so chunks can be empty-free and split anywhere. */
const split = (bytes: Uint8Array, cuts: ReadonlyArray<number>): Array<Uint8Array> => {
  const at = [...new Set(cuts.map((c) => Math.floor(c * bytes.byteLength)))].sort((a, b) => a - b)
  const out: Array<Uint8Array> = []
  let prev = 0
  for (const c of [...at, bytes.byteLength]) {
    out.push(bytes.subarray(prev, c))
    prev = c
  }
  return out
}

const ok = <A, E>(r: Result.Result<A, E>): A => {
  if (Result.isFailure(r)) throw new Error(`unexpected failure: ${String(r.failure)}`)
  return r.success
}

describe("framing", () => {
  it("FrameDecoder yields every message of a stream cut at arbitrary byte boundaries", () => {
    fc.assert(
      fc.property(
        fc.array(message(), { maxLength: 12 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 30 }),
        (msgs, cuts) => {
          const stream = Buffer.concat(msgs.map(encode))
          const dec = new FrameDecoder()
          const got: Array<DomainMessage> = []
          for (const chunk of split(stream, cuts)) for (const p of ok(dec.push(chunk))) got.push(ok(decodePayload(p)))
          expect(dec.buffered).toBe(0)
          expect(canon(got)).toEqual(canon(msgs))
        },
      ),
      { numRuns: 150 },
    )
  })

  it("byte-at-a-time delivery works too", () => {
    fc.assert(
      fc.property(fc.array(message(), { minLength: 1, maxLength: 3 }), (msgs) => {
        const stream = Buffer.concat(msgs.map(encode))
        const dec = new FrameDecoder()
        const got: Array<DomainMessage> = []
        for (let i = 0; i < stream.byteLength; i++) for (const p of ok(dec.push(stream.subarray(i, i + 1)))) got.push(ok(decodePayload(p)))
        expect(canon(got)).toEqual(canon(msgs))
      }),
      { numRuns: 20 },
    )
  })

  it("decodeFrames returns whole frames as views and the unfinished tail", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 8 }), fc.nat(), (payloads, cut) => {
        const stream = Buffer.concat(payloads.map(encodeFrame))
        const end = stream.byteLength === 0 ? 0 : cut % (stream.byteLength + 1)
        const { frames, rest } = ok(decodeFrames(stream.subarray(0, end)))
        frames.forEach((f, i) => expect(Buffer.from(f).equals(Buffer.from(payloads[i]))).toBe(true))
        const used = frames.reduce((n, f) => n + 4 + f.byteLength, 0)
        expect(rest.byteLength).toBe(end - used)
        expect(frames.every((f) => f.buffer === stream.buffer)).toBe(true)
      }),
      { numRuns: 200 },
    )
  })

  it("an oversize length prefix fails at once, before a byte of payload is buffered, and stays failed", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1025, max: 0xffff_ffff }), fc.nat({ max: 3 }), (length, firstCut) => {
        const prefix = new Uint8Array(4)
        new DataView(prefix.buffer).setUint32(0, length, true)
        const dec = new FrameDecoder({ maxFrameBytes: 1024 })
        const first = dec.push(prefix.subarray(0, firstCut))
        expect(Result.isSuccess(first)).toBe(true)
        const r = dec.push(prefix.subarray(firstCut))
        expect(Result.isFailure(r) && r.failure.reason).toBe("FrameTooLarge")
        expect(dec.buffered).toBe(0)
        expect(Result.isFailure(dec.push(new Uint8Array(8)))).toBe(true)
        const f = decodeFrames(prefix, { maxFrameBytes: 1024 })
        expect(Result.isFailure(f) && f.failure.reason).toBe("FrameTooLarge")
      }),
      { numRuns: 100 },
    )
  })

  it("a segmented decoder assembles spanning payloads by segment and decodes them the same", () => {
    fc.assert(
      fc.property(
        fc.array(message(), { maxLength: 8 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 30 }),
        (msgs, cuts) => {
          const stream = Buffer.concat(msgs.map(encode))
          const dec = FrameDecoder.segmented({ splitSegmentsFrom: 0 })
          const got: Array<DomainMessage> = []
          for (const chunk of split(stream, cuts)) for (const p of ok(dec.push(chunk))) got.push(ok(decodePayload(p)))
          expect(dec.buffered).toBe(0)
          expect(canon(got)).toEqual(canon(msgs))
        },
      ),
      { numRuns: 150 },
    )
  })

  it("a segmented decoder fails junk exactly as the plain one does (a lying segment table falls back to one buffer)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 300 }), fc.nat({ max: 8 }), fc.nat(), (junk, count, cut) => {
        const payload = new Uint8Array(junk)
        if (payload.byteLength >= 4) new DataView(payload.buffer).setUint32(0, count, true) // plausible segment counts too
        const frame = encodeFrame(payload)
        const at = cut % (frame.byteLength + 1)
        const plain = new FrameDecoder()
        const segmented = FrameDecoder.segmented({ splitSegmentsFrom: 0 })
        const outcome = (dec: FrameDecoder<Uint8Array> | FrameDecoder<SegmentedPayload | Uint8Array>) => {
          const frames = [...ok(dec.push(frame.subarray(0, at))), ...ok(dec.push(frame.subarray(at)))]
          expect(frames.length).toBe(1)
          const r = decodePayload(frames[0])
          return Result.isFailure(r) ? r.failure.reason : canon(r.success)
        }
        expect(outcome(segmented)).toEqual(outcome(plain))
      }),
      { numRuns: 300 },
    )
  })

  it("a large tensor is sent from the caller's bytes and received into a segment of its own", () => {
    const data = seededBytes(1_000_003, 7)
    const m: DomainMessage = { requestId: 2 as RequestId, body: { _tag: "RefData", ref: { id: 4 as RefId, dtype: "u8", shape: [data.byteLength], byteSize: data.byteLength }, data } }
    const parts = encodeParts(m)
    expect(parts.some((p) => p === data)).toBe(true) // not copied into the message
    const stream = Buffer.concat(parts)
    expect(stream.equals(Buffer.from(encode(m)))).toBe(true) // the same bytes as the one-buffer encoding
    const dec = FrameDecoder.segmented()
    const frames: Array<SegmentedPayload | Uint8Array> = []
    for (let at = 0; at < stream.byteLength; at += 65536) frames.push(...ok(dec.push(stream.subarray(at, at + 65536))))
    expect(frames.length).toBe(1)
    expect(frames[0]).toBeInstanceOf(SegmentedPayload)
    const got = ok(decodePayload(frames[0])).body
    if (got._tag !== "RefData") throw new Error("wrong kind")
    expect(Buffer.from(got.data).equals(Buffer.from(data))).toBe(true)
    expect((frames[0] as SegmentedPayload).segments).toContain(got.data.buffer) // decoded in place
  })

  it("a list of blobs mixes external segments and inline bytes", () => {
    const reads = [seededBytes(70_001, 1), seededBytes(10, 2), new Uint8Array(0), seededBytes(100_000, 3)]
    const profile = { queueMs: 0, planMs: 0, placementMs: 0, executionMs: 1, skeletonizationMs: 0, cleanupMs: 0, durationMs: 2 }
    const m: DomainMessage = { requestId: 3 as RequestId, body: { _tag: "GpuSubmitResult", reads, profile } }
    const stream = Buffer.concat(encodeParts(m))
    for (const dec of [new FrameDecoder(), FrameDecoder.segmented()]) {
      const frames: Array<SegmentedPayload | Uint8Array> = []
      for (let at = 0; at < stream.byteLength; at += 65536) frames.push(...ok(dec.push(stream.subarray(at, at + 65536))))
      expect(canon(ok(decodePayload(frames[0])))).toEqual(canon(m))
    }
  })

  it("a frame at exactly the limit is accepted", () => {
    const dec = new FrameDecoder({ maxFrameBytes: 16 })
    const frames = ok(dec.push(encodeFrame(new Uint8Array(16).fill(7))))
    expect(frames.length).toBe(1)
    expect(frames[0].byteLength).toBe(16)
  })
})

describe("MessageDecoder", () => {
  it("decodes a chunked stream, failing bad frames one by one and oversize frames for good", () => {
    fc.assert(
      fc.property(fc.array(message(), { maxLength: 6 }), fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 10 }), (msgs, cuts) => {
        const junk = encodeFrame(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]))
        const stream = Buffer.concat([...msgs.map(encode), junk])
        const dec = new MessageDecoder()
        const got: Array<Result.Result<DomainMessage, unknown>> = []
        for (const chunk of split(stream, cuts)) got.push(...ok(dec.push(chunk)))
        expect(got.length).toBe(msgs.length + 1)
        expect(canon(got.slice(0, -1).map(ok))).toEqual(canon(msgs))
        expect(Result.isFailure(got[got.length - 1])).toBe(true)
      }),
      { numRuns: 50 },
    )
    const dec = new MessageDecoder({ maxFrameBytes: 8 })
    const r = dec.push(encode({ requestId: 1 as RequestId, body: { _tag: "Ack" } }))
    expect(Result.isFailure(r) && r.failure.reason).toBe("FrameTooLarge")
  })
})
