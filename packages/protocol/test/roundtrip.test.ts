import fc from "fast-check"
import * as $ from "capnp-es"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import {
  decode,
  decodePayload,
  DTYPE_BYTES,
  encode,
  encodeParts,
  encodePayload,
  Limits,
  validate,
  type DomainMessage,
  type MessageTag,
  type RefId,
  type RequestId,
} from "../src/index.ts"
import { writeMessage } from "../src/codec/encode.ts"
import { warmCodec } from "../src/codec/warm.ts"
import { serialize } from "../src/codec/wire.ts"
import { bodies, canon, message, seededBytes } from "./arbitraries.ts"

const roundTrip = (m: DomainMessage) => {
  const r = decode(encode(m))
  if (Result.isFailure(r)) throw new Error(`decode failed: ${r.failure.reason}: ${r.failure.message}`)
  expect(canon(r.success)).toEqual(canon(m))
}

describe("round trip", () => {
  for (const tag of Object.keys(bodies) as Array<MessageTag>) {
    it(`${tag}: decode(encode(m)) = m`, () => {
      fc.assert(fc.property(message(bodies[tag]), roundTrip), { numRuns: 60 })
    })
  }

  it("every generated message is valid for the domain schemas", () => {
    fc.assert(
      fc.property(message(), (m) => {
        const r = validate(m)
        if (Result.isFailure(r)) throw new Error(r.failure.message)
      }),
      { numRuns: 150 },
    )
  })

  it("unframed payloads and scatter parts carry the same bytes", () => {
    fc.assert(
      fc.property(message(), (m) => {
        const framed = encode(m)
        const payload = encodePayload(m)
        expect(Buffer.from(framed.subarray(4)).equals(Buffer.from(payload))).toBe(true)
        expect(Buffer.concat(encodeParts(m)).equals(Buffer.from(framed))).toBe(true)
        const r = decodePayload(payload)
        expect(Result.isSuccess(r) && canon(r.success)).toEqual(canon(m))
      }),
      { numRuns: 100 },
    )
  })

  it("multi-MB tensors survive byte for byte, and decode hands out views, not copies", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 * 1024 * 1024 }), fc.nat(), (n, seed) => {
        const elems = Math.floor(n / 4)
        const data = seededBytes(elems * 4, seed)
        const m: DomainMessage = {
          requestId: 1 as RequestId,
          body: { _tag: "RefData", ref: { id: 9 as RefId, dtype: "f32", shape: [elems], byteSize: elems * 4 }, data },
        }
        const r = decode(encode(m))
        expect(Result.isSuccess(r)).toBe(true)
        const got = (r as Result.Success<DomainMessage, never>).success.body
        if (got._tag !== "RefData") throw new Error("wrong kind")
        expect(Buffer.from(got.data).equals(Buffer.from(data))).toBe(true)
        // A large tensor travels as a segment of its own and is read in place: the view spans that segment's buffer.
        if (data.byteLength >= 64 * 1024) {
          expect(got.data.byteOffset).toBe(0)
          expect(got.data.buffer.byteLength).toBe((data.byteLength + 7) & ~7)
        }
      }),
      { numRuns: 4 },
    )
  })

  it("NaN and infinity payloads keep their exact bits in tensors and profiles", () => {
    const bits = new Uint32Array([0x7fc00001, 0xffc12345, 0x7f800000, 0xff800000, 0x80000000, 0x7f800001])
    const data = new Uint8Array(bits.buffer)
    const prof = { queueMs: NaN, planMs: Infinity, placementMs: -Infinity, executionMs: -0, skeletonizationMs: 5e-324, cleanupMs: 1.5, durationMs: Number.MAX_VALUE }
    const m: DomainMessage = {
      requestId: 3 as RequestId,
      body: { _tag: "Result", tokens: [], lastLogits: { dtype: "f32", shape: [6], data }, refs: [], profile: prof },
    }
    const r = decode(encode(m))
    if (Result.isFailure(r) || r.success.body._tag !== "Result") throw new Error("decode failed")
    expect(Buffer.from(r.success.body.lastLogits!.data).equals(Buffer.from(data))).toBe(true)
    expect(canon(r.success.body.profile)).toEqual(canon(prof))
  })

  it("the largest legal shapes round-trip; one element more is refused", () => {
    const huge = { id: 1 as RefId, dtype: "u8" as const, shape: [Limits.maxDim, 512], byteSize: 2 ** 40 }
    const tokens = { queueMs: 0, planMs: 0, placementMs: 0, executionMs: 0, skeletonizationMs: 0, cleanupMs: 0, durationMs: 0 }
    roundTrip({ requestId: 0 as RequestId, body: { _tag: "Result", tokens: [], refs: [huge], profile: tokens } })
    const over = { ...huge, shape: [Limits.maxDim, 513], byteSize: 513 * 2 ** 31 * DTYPE_BYTES.u8 }
    const r = decode(encode({ requestId: 0 as RequestId, body: { _tag: "Result", tokens: [], refs: [over], profile: tokens } }))
    expect(Result.isFailure(r) && r.failure.reason).toBe("InvalidValue")
  })
})

describe("codec warm-up", () => {
  it("runs once per process and leaves the codec's reused buffers in a clean state", () => {
    expect(warmCodec(3)).toBeGreaterThan(0)
    expect(warmCodec(3)).toBe(0)
    fc.assert(fc.property(message(), (m) => {
      const r = decode(encode(m))
      expect(Result.isSuccess(r) && canon(r.success)).toEqual(canon(m))
    }), { numRuns: 50 })
  })
})

describe("messages from other encoders", () => {
  it("multi-segment messages (far and double-far pointers) decode the same", () => {
    fc.assert(
      fc.property(message(), fc.nat({ max: 20_000 }), (m, pad) => {
        // capnp-es's multi-segment arena starts a new 4 KiB segment whenever one fills, so objects land across
        // segments behind far pointers; a padding tensor makes sure the message outgrows the first one.
        const msg = new $.Message({ kind: 1, buffers: [] } as unknown as ConstructorParameters<typeof $.Message>[0], false)
        const padded: DomainMessage =
          m.body._tag === "Generate" || m.body._tag === "Forward"
            ? { ...m, body: { ...m.body, inputs: [...m.body.inputs, { name: "pad", tensor: { dtype: "u8", shape: [pad], data: seededBytes(pad, pad) } }] } }
            : m
        writeMessage(msg, padded)
        const bytes = serialize(msg, true)
        const r = decode(bytes)
        if (Result.isFailure(r)) throw new Error(`${r.failure.reason}: ${r.failure.message}`)
        expect(canon(r.success)).toEqual(canon(padded))
      }),
      { numRuns: 150 },
    )
  })
})
