// Shared by hot-decode.test.ts and hot-decode-hostile.test.ts: hot messages from both writers, the three payload
// forms, exact result comparison (values, key order, byte-field ownership), and decodePayload against the generic
// path alone.
import fc from "fast-check"
import { Result } from "effect"
import { createHash } from "node:crypto"
import { afterEach, beforeEach, expect } from "vitest"
import { decodePayloadGeneral } from "../src/codec/decode.ts"
import { encodePartsGeneral } from "../src/codec/encode.ts"
import { hotDecode } from "../src/codec/hot-decode.ts"
import { encodeHotParts } from "../src/codec/hot-encode.ts"
import * as R from "../src/codec/read.ts"
import {
  decodePayload,
  SegmentedPayload,
  type DomainMessage,
  type MessageBody,
  type Payload,
  type ProtocolError,
} from "../src/index.ts"
import { bodies, message } from "./arbitraries.ts"

export const HOT = ["Generate", "Forward", "TokenEvent", "Result", "RefData"] as const
export const hotBody: fc.Arbitrary<MessageBody> = fc.oneof(...HOT.map((t) => bodies[t] as fc.Arbitrary<MessageBody>))
export const hotMessage = message(hotBody)
export const concat = (parts: ReadonlyArray<Uint8Array>) => new Uint8Array(Buffer.concat(parts))
export const hotBytes = (m: DomainMessage) => concat(encodeHotParts(m as Parameters<typeof encodeHotParts>[0])).subarray(4)
export const generalBytes = (m: DomainMessage) => concat(encodePartsGeneral(m)).subarray(4)

// ---------------------------------------------------------------------------------------------------------------
// Payload forms: the three ways a payload reaches decodePayload.

/** A copy of `p` at an odd offset inside a larger Node Buffer (a frame inside a socket chunk). */
export const inChunk = (p: Uint8Array): Uint8Array => {
  const b = Buffer.alloc(p.byteLength + 13, 0xee)
  b.set(p, 5)
  return b.subarray(5, 5 + p.byteLength)
}
/** `p` as FrameDecoder assembles large frames: the table, then each segment in an ArrayBuffer of its own. */
export const segmented = (p: Uint8Array): SegmentedPayload | undefined => {
  if (p.byteLength < 8) return undefined
  const dv = new DataView(p.buffer, p.byteOffset, p.byteLength)
  const count = dv.getUint32(0, true) + 1
  const table = (4 + 4 * count + 7) & ~7
  if (count > 64 || table > p.byteLength) return undefined
  const segments: Array<ArrayBuffer> = []
  let at = table
  for (let i = 0; i < count; i++) {
    const len = dv.getUint32(4 + 4 * i, true) * 8
    if (at + len > p.byteLength) return undefined
    segments.push(p.slice(at, at + len).buffer)
    at += len
  }
  return at === p.byteLength ? new SegmentedPayload(p.slice(0, table), segments, p.byteLength) : undefined
}
export type Form = "fresh" | "chunk" | "segmented"
/** A fresh copy of `p` in the given form (each decode gets its own: capnp-es may write into segments it reads). */
export const form = (p: Uint8Array, f: Form): Payload | undefined =>
  f === "fresh" ? p.slice() : f === "chunk" ? inChunk(p) : segmented(p)
export const FORMS: ReadonlyArray<Form> = ["fresh", "chunk", "segmented"]

// ---------------------------------------------------------------------------------------------------------------
// Exact comparison: values (NaN and −0 included), key order, shared default objects, and how each byte field is
// owned — its bytes, its offset and buffer size, and whether it aliases the payload (a copy must never alias it; a
// SegmentedPayload's fields are views into its own segments, named by index).

export const CONSTANTS = new Map<unknown, string>([
  [R.DEFAULT_HINTS, "DEFAULT_HINTS"],
  [R.DEFAULT_PARAMS, "DEFAULT_PARAMS"],
  [R.NO_WANT, "NO_WANT"],
  [R.ZERO_PROFILE, "ZERO_PROFILE"],
])
export const describeValue = (v: unknown, payload: Payload): unknown => {
  if (v instanceof Uint8Array) {
    const segment = payload instanceof SegmentedPayload ? payload.segments.indexOf(v.buffer as ArrayBuffer) : -1
    return {
      bytes: createHash("sha1").update(v).digest("hex"),
      length: v.byteLength,
      offset: v.byteOffset,
      buffer: v.buffer.byteLength,
      segment,
      aliasesPayload: !(payload instanceof SegmentedPayload) && v.buffer === payload.buffer,
      ctor: v.constructor.name,
    }
  }
  if (CONSTANTS.has(v)) return `const:${CONSTANTS.get(v)}`
  if (Array.isArray(v)) return v.map((x) => describeValue(x, payload))
  if (typeof v === "number") return Object.is(v, -0) ? "-0" : Number.isNaN(v) ? "NaN" : v
  if (v !== null && typeof v === "object") return Object.keys(v).map((k) => [k, describeValue((v as Record<string, unknown>)[k], payload)])
  return v
}
export const describeResult = (r: Result.Result<DomainMessage, ProtocolError>, payload: Payload) =>
  Result.isSuccess(r) ? { ok: describeValue(r.success, payload) } : { reason: r.failure.reason, message: r.failure.message }

/** The generic path's result on a fresh copy of `bytes`, in form `f`. */
export const general = (bytes: Uint8Array, f: Form, options?: Parameters<typeof decodePayload>[1]) => {
  const p = form(bytes, f)!
  return describeResult(decodePayloadGeneral(p, options), p)
}
/** decodePayload (hot first) on a fresh copy; also says whether the hot path answered. */
export const combined = (bytes: Uint8Array, f: Form, options?: Parameters<typeof decodePayload>[1]) => {
  const p = form(bytes, f)!
  const before = hotDecode.taken
  const r = decodePayload(p, options)
  return { result: describeResult(r, p), hot: hotDecode.taken > before }
}

/** decodePayload and the generic path agree on `bytes` in every form. Returns whether the hot path answered. */
export const agree = (bytes: Uint8Array, forms: ReadonlyArray<Form> = FORMS): boolean => {
  let hot = false
  for (const f of forms) {
    if (form(bytes, f) === undefined) continue
    const c = combined(bytes, f)
    expect(c.result).toEqual(general(bytes, f))
    hot ||= c.hot
  }
  return hot
}
/** Payload bytes of a hot message, from either writer, as a mutable copy. */
export const bothWriters = fc.tuple(hotMessage, fc.boolean()).map(([m, hot]) => (hot ? hotBytes(m) : generalBytes(m)).slice())

/**
 * The hot path on around every test of the calling file, whatever DJINN_HOT_DECODE says (those tests are about the
 * hot path; a test that turns it off gets it back on).
 */
export const hotPathOn = (): void => {
  beforeEach(() => { hotDecode.enabled = true })
  afterEach(() => { hotDecode.enabled = true })
}
