// The flat reader of the hot kinds (codec/hot-decode.ts) must give exactly what the capnp-es path gives — the same
// values, key order and byte-field ownership — or defer to it; decodePayload (hot first) must return what the generic
// path alone returns on every input, valid or hostile, ok value or error.
import fc from "fast-check"
import * as $ from "capnp-es"
import { Result } from "effect"
import { createHash } from "node:crypto"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { decodePayloadGeneral } from "../src/codec/decode.ts"
import { encodePartsGeneral, writeMessage } from "../src/codec/encode.ts"
import { decodeHot, hotDecode } from "../src/codec/hot-decode.ts"
import { encodeHotParts } from "../src/codec/hot-encode.ts"
import * as R from "../src/codec/read.ts"
import { serialize } from "../src/codec/wire.ts"
import {
  decode,
  decodePayload,
  encodePayload,
  FrameDecoder,
  SegmentedPayload,
  type DomainMessage,
  type MessageBody,
  type Payload,
  type ProtocolError,
  type RequestId,
} from "../src/index.ts"
import { bodies, message, seededBytes } from "./arbitraries.ts"
import { farPtr, listPtr, structPtr, word } from "./craft.ts"

const HOT = ["Generate", "Forward", "TokenEvent", "Result", "RefData"] as const
const hotBody: fc.Arbitrary<MessageBody> = fc.oneof(...HOT.map((t) => bodies[t] as fc.Arbitrary<MessageBody>))
const hotMessage = message(hotBody)
const concat = (parts: ReadonlyArray<Uint8Array>) => new Uint8Array(Buffer.concat(parts))
const hotBytes = (m: DomainMessage) => concat(encodeHotParts(m as Parameters<typeof encodeHotParts>[0])).subarray(4)
const generalBytes = (m: DomainMessage) => concat(encodePartsGeneral(m)).subarray(4)

// ---------------------------------------------------------------------------------------------------------------
// Payload forms: the three ways a payload reaches decodePayload.

/** A copy of `p` at an odd offset inside a larger Node Buffer (a frame inside a socket chunk). */
const inChunk = (p: Uint8Array): Uint8Array => {
  const b = Buffer.alloc(p.byteLength + 13, 0xee)
  b.set(p, 5)
  return b.subarray(5, 5 + p.byteLength)
}
/** `p` as FrameDecoder assembles large frames: the table, then each segment in an ArrayBuffer of its own. */
const segmented = (p: Uint8Array): SegmentedPayload | undefined => {
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
type Form = "fresh" | "chunk" | "segmented"
/** A fresh copy of `p` in the given form (each decode gets its own: capnp-es may write into segments it reads). */
const form = (p: Uint8Array, f: Form): Payload | undefined =>
  f === "fresh" ? p.slice() : f === "chunk" ? inChunk(p) : segmented(p)
const FORMS: ReadonlyArray<Form> = ["fresh", "chunk", "segmented"]

// ---------------------------------------------------------------------------------------------------------------
// Exact comparison: values (NaN and −0 included), key order, shared default objects, and how each byte field is
// owned — its bytes, its offset and buffer size, and whether it aliases the payload (a copy must never alias it; a
// SegmentedPayload's fields are views into its own segments, named by index).

const CONSTANTS = new Map<unknown, string>([
  [R.DEFAULT_HINTS, "DEFAULT_HINTS"],
  [R.DEFAULT_PARAMS, "DEFAULT_PARAMS"],
  [R.NO_WANT, "NO_WANT"],
  [R.ZERO_PROFILE, "ZERO_PROFILE"],
])
const describeValue = (v: unknown, payload: Payload): unknown => {
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
const describeResult = (r: Result.Result<DomainMessage, ProtocolError>, payload: Payload) =>
  Result.isSuccess(r) ? { ok: describeValue(r.success, payload) } : { reason: r.failure.reason, message: r.failure.message }

/** The generic path's result on a fresh copy of `bytes`, in form `f`. */
const general = (bytes: Uint8Array, f: Form, options?: Parameters<typeof decodePayload>[1]) => {
  const p = form(bytes, f)!
  return describeResult(decodePayloadGeneral(p, options), p)
}
/** decodePayload (hot first) on a fresh copy; also says whether the hot path answered. */
const combined = (bytes: Uint8Array, f: Form, options?: Parameters<typeof decodePayload>[1]) => {
  const p = form(bytes, f)!
  const before = hotDecode.taken
  const r = decodePayload(p, options)
  return { result: describeResult(r, p), hot: hotDecode.taken > before }
}

// On whatever DJINN_HOT_DECODE says: these tests are about the hot path.
beforeEach(() => {
  hotDecode.enabled = true
})
afterEach(() => {
  hotDecode.enabled = true
})

// ---------------------------------------------------------------------------------------------------------------

describe("hot reader: valid messages", () => {
  it("decodes every hot kind exactly as the capnp-es path does, from both writers' bytes, in every payload form", () => {
    fc.assert(
      fc.property(hotMessage, fc.constantFrom(...FORMS), (m, f) => {
        for (const bytes of [hotBytes(m), generalBytes(m)]) {
          const c = combined(bytes, f)
          expect(c.hot).toBe(true)
          expect(c.result).toEqual(general(bytes, f))
        }
      }),
      { numRuns: 1500 },
    )
  })

  it("takes the hot path (counted), and not when switched off", () => {
    const m: DomainMessage = {
      requestId: 7 as RequestId,
      body: {
        _tag: "Forward", sessionId: 1 as never, modelHandle: 2 as never,
        inputs: [{ name: "input_ids", tensor: { dtype: "i32", shape: [1, 128], data: seededBytes(512, 3) } }],
        hints: { phase: "prefill", priority: "interactive", expectedTokens: 0, kvBudgetBytes: 0, finalize: false },
        want: { tokens: false, lastLogits: true, refs: false },
      },
    }
    const p = hotBytes(m)
    const taken = hotDecode.taken
    expect(Result.isSuccess(decodePayload(p))).toBe(true)
    expect(hotDecode.taken).toBe(taken + 1)
    expect(decodeHot(p)).toBeDefined()
    hotDecode.enabled = false
    expect(Result.isSuccess(decodePayload(p))).toBe(true)
    expect(hotDecode.taken).toBe(taken + 2)
    // Other kinds go to the generic path.
    const deferred = hotDecode.deferred
    hotDecode.enabled = true
    expect(Result.isSuccess(decodePayload(encodePayload({ requestId: 1 as RequestId, body: { _tag: "Ack" } })))).toBe(true)
    expect(hotDecode.deferred).toBe(deferred + 1)
  })

  it("multi-segment messages from capnp-es's own arena (far and double-far pointers) are read hot, with the same result", () => {
    fc.assert(
      fc.property(hotMessage, fc.nat({ max: 20_000 }), fc.constantFrom(...FORMS), (m, pad, f) => {
        const msg = new $.Message({ kind: 1, buffers: [] } as unknown as ConstructorParameters<typeof $.Message>[0], false)
        const padded: DomainMessage =
          m.body._tag === "Generate" || m.body._tag === "Forward"
            ? { ...m, body: { ...m.body, inputs: [...m.body.inputs, { name: "pad", tensor: { dtype: "u8", shape: [pad], data: seededBytes(pad, pad) } }] } }
            : m
        writeMessage(msg, padded)
        const bytes = serialize(msg, false)
        const c = combined(bytes, f)
        expect(c.result).toEqual(general(bytes, f))
        expect(c.hot).toBe(true)
      }),
      { numRuns: 150 },
    )
  })

  it("large tensors sent as segments of their own are views of that segment (SegmentedPayload) or of a private copy", () => {
    for (const n of [65_536, 100_003, 300_001]) {
      const data = seededBytes(n, n)
      const m: DomainMessage = {
        requestId: 2 as RequestId,
        body: {
          _tag: "Forward", sessionId: 1 as never, modelHandle: 2 as never,
          inputs: [{ name: "x", tensor: { dtype: "u8", shape: [n], data } }, { name: "ids", ref: 9 as never }],
          hints: R.DEFAULT_HINTS, want: R.NO_WANT,
        },
      }
      const bytes = hotBytes(m)
      for (const f of FORMS) {
        const c = combined(bytes, f)
        expect(c.hot).toBe(true)
        expect(c.result).toEqual(general(bytes, f))
      }
      // Through FrameDecoder, as the server receives it: the view lies in the segment buffer the decoder filled.
      const frames = FrameDecoder.segmented({ splitSegmentsFrom: 0 })
      const framed = concat(encodeHotParts(m as Parameters<typeof encodeHotParts>[0]))
      const got: Array<Payload> = []
      for (let at = 0; at < framed.byteLength; at += 4093) {
        const r = frames.push(framed.subarray(at, at + 4093))
        if (Result.isSuccess(r)) got.push(...r.success)
      }
      expect(got).toHaveLength(1)
      const payload = got[0] as SegmentedPayload
      const r = decodePayload(payload)
      if (Result.isFailure(r) || r.success.body._tag !== "Forward") throw new Error("decode failed")
      const input = r.success.body.inputs[0]
      if (!("tensor" in input)) throw new Error("wrong input")
      expect(payload.segments).toContain(input.tensor.data.buffer)
      expect(Buffer.from(input.tensor.data).equals(Buffer.from(data))).toBe(true)
    }
  })

  it("structs and list elements larger than this schema's (a newer peer), with null extra pointers, read the same", () => {
    // Message{requestId, body=Forward} where Message has 2 data words and 2 pointers, Forward 3 data words and 4
    // pointers, and its one Input 3 data words and 3 pointers; the extra pointers are null.
    const segment = [
      structPtr(0, 2, 2), // 0: root
      word(77, 12), // 1: requestId 77, body Forward
      word(0xdead, 0xbeef), // 2: extra data
      structPtr(1, 3, 4), // 3: body pointer → word 5
      word(0, 0), // 4: extra pointer of Message
      word(5, 0), // 5: sessionId 5
      word(6, 0), // 6: modelHandle 6
      word(0x1234, 0), // 7: extra data
      listPtr(3, 7, 6), // 8: inputs → tag at word 12, 6 words of elements
      word(0, 0), // 9: hints (null → defaults)
      structPtr(9, 1, 0), // 10: want → word 20
      word(0, 0), // 11: extra pointer of Forward
      structPtr(1, 3, 3), // 12: tag: one element of 3 data words, 3 pointers
      word(1, 0), // 13: which = ref
      word(42, 0), // 14: ref 42
      word(0, 0), // 15: extra data
      listPtr(3, 2, 4), // 16: name → word 20 (shared with want), 4 bytes
      word(0, 0), // 17: tensor (null: ref member)
      word(0, 0), // 18: extra pointer of Input
      word(0, 0), // 19: padding
      word(0x0078_7965, 0), // 20: want's bits (0x65: tokens, refs) and, as text, "eyx\0"
    ]
    const bytes = concat([new Uint8Array([0, 0, 0, 0, segment.length, 0, 0, 0]), ...segment])
    for (const f of FORMS) {
      const c = combined(bytes, f)
      expect(c.result).toEqual(general(bytes, f))
      expect(c.hot).toBe(true)
    }
    const r = decodePayload(bytes.slice())
    expect(Result.isSuccess(r) && r.success.body).toEqual({
      _tag: "Forward", sessionId: 5, modelHandle: 6, inputs: [{ name: "eyx", ref: 42 }], hints: R.DEFAULT_HINTS,
      want: { tokens: true, lastLogits: false, refs: true },
    })
  })

  it("null fields read as the generic path's defaults (the same shared objects)", () => {
    // Generate with every pointer null but the body's: no inputs, default hints, params, want.
    const bytes = concat([new Uint8Array([0, 0, 0, 0, 9, 0, 0, 0]), structPtr(0, 1, 1), word(3, 11), structPtr(0, 2, 4), word(1, 0), word(2, 0), word(0, 0), word(0, 0), word(0, 0), word(0, 0)])
    const c = combined(bytes, "fresh")
    expect(c.hot).toBe(true)
    expect(c.result).toEqual(general(bytes, "fresh"))
    expect(c.result).toMatchObject({ ok: [["requestId", 3], ["body", expect.arrayContaining([["params", "const:DEFAULT_PARAMS"]])]] })
  })

  it("skipValidation and maxFrameBytes behave as on the generic path", () => {
    const bad: DomainMessage = {
      requestId: 1 as RequestId,
      body: { _tag: "RefData", ref: { id: 1 as never, dtype: "f32", shape: [2], byteSize: 8 }, data: new Uint8Array(3) },
    }
    const bytes = hotBytes(bad)
    for (const options of [undefined, { skipValidation: true }, { maxFrameBytes: 16 }, { maxFrameBytes: bytes.byteLength }]) {
      for (const f of FORMS) expect(combined(bytes, f, options).result).toEqual(general(bytes, f, options))
    }
    expect(combined(bytes, "fresh").result).toMatchObject({ reason: "InvalidValue" })
    expect(combined(bytes, "fresh", { skipValidation: true }).hot).toBe(true)
  })
})

// ---------------------------------------------------------------------------------------------------------------

/** decodePayload and the generic path agree on `bytes` in every form. Returns whether the hot path answered. */
const agree = (bytes: Uint8Array, forms: ReadonlyArray<Form> = FORMS): boolean => {
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
const bothWriters = fc.tuple(hotMessage, fc.boolean()).map(([m, hot]) => (hot ? hotBytes(m) : generalBytes(m)).slice())

describe("hot reader: hostile and damaged bytes give the generic path's result", () => {
  it("random words overwritten", () => {
    let hot = 0
    fc.assert(
      fc.property(bothWriters, fc.array(fc.tuple(fc.nat(), fc.nat({ max: 0xffff_ffff }), fc.nat({ max: 0xffff_ffff })), { minLength: 1, maxLength: 4 }), (p, edits) => {
        const words = (p.byteLength - 8) / 8
        const dv = new DataView(p.buffer)
        for (const [at, lo, hi] of edits) {
          dv.setUint32(8 + 8 * (at % words), lo, true)
          dv.setUint32(8 + 8 * (at % words) + 4, hi, true)
        }
        if (agree(p)) hot++
      }),
      { numRuns: 1500 },
    )
    expect(hot).toBeGreaterThan(0) // some edits land in data and leave a valid message
  })

  it("plausible pointers written over random words (small offsets, far pointers to real segments, -0 words)", () => {
    const ptrWord = fc.oneof(
      fc.tuple(fc.integer({ min: -8, max: 40 }), fc.nat({ max: 8 }), fc.nat({ max: 8 })).map(([o, d, p]) => structPtr(o, d, p)),
      fc.tuple(fc.integer({ min: -8, max: 40 }), fc.nat({ max: 7 }), fc.nat({ max: 64 })).map(([o, s, n]) => listPtr(o, s, n)),
      fc.tuple(fc.nat({ max: 40 }), fc.boolean(), fc.nat({ max: 2 })).map(([o, d, seg]) => farPtr(o, seg, d)),
      fc.constantFrom(word(0, 0), word(0, 0x8000_0000), word(3, 0), word(0xffff_fffc, 0)),
      fc.tuple(fc.nat({ max: 0xffff }), fc.nat({ max: 0xffff })).map(([a, b]) => word(a, b)),
    )
    let hot = 0
    fc.assert(
      fc.property(bothWriters, fc.array(fc.tuple(fc.nat(), ptrWord), { minLength: 1, maxLength: 5 }), (p, edits) => {
        const words = (p.byteLength - 8) / 8
        for (const [at, w] of edits) p.set(w, 8 + 8 * (at % words))
        if (agree(p)) hot++
      }),
      { numRuns: 2000 },
    )
    expect(hot).toBeGreaterThan(0)
  })

  it("single bytes flipped (segment table included)", () => {
    fc.assert(
      fc.property(bothWriters, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 6 }), (p, flips) => {
        for (const [at, x] of flips) p[at % p.byteLength] ^= x
        agree(p)
      }),
      { numRuns: 2000 },
    )
  })

  it("truncated, extended and re-tabled payloads", () => {
    fc.assert(
      fc.property(bothWriters, fc.nat(), fc.integer({ min: -3, max: 3 }), fc.integer({ min: 0, max: 24 }), (p, cut, words, extra) => {
        agree(p.subarray(0, cut % (p.byteLength + 1)))
        agree(concat([p, new Uint8Array(extra)]))
        // The segment table's size off by a few words, with the bytes to match or not.
        const q = concat([p, new Uint8Array(Math.max(0, 8 * words))])
        const dv = new DataView(q.buffer)
        dv.setUint32(4, Math.max(0, dv.getUint32(4, true) + words), true)
        agree(q)
      }),
      { numRuns: 500 },
    )
  })

  it("multi-segment messages with words overwritten", () => {
    fc.assert(
      fc.property(hotMessage, fc.nat({ max: 8000 }), fc.array(fc.tuple(fc.nat(), fc.nat({ max: 0xffff_ffff }), fc.nat({ max: 0xffff_ffff })), { minLength: 1, maxLength: 3 }), (m, pad, edits) => {
        const msg = new $.Message({ kind: 1, buffers: [] } as unknown as ConstructorParameters<typeof $.Message>[0], false)
        const padded: DomainMessage =
          m.body._tag === "Generate" || m.body._tag === "Forward"
            ? { ...m, body: { ...m.body, inputs: [{ name: "pad", tensor: { dtype: "u8", shape: [pad], data: seededBytes(pad, pad) } }, ...m.body.inputs] } }
            : m
        writeMessage(msg, padded)
        const p = serialize(msg, false).slice()
        const dv = new DataView(p.buffer)
        const table = (4 + 4 * (dv.getUint32(0, true) + 1) + 7) & ~7
        const words = (p.byteLength - table) / 8
        for (const [at, lo, hi] of edits) {
          const w = table + 8 * (at % words)
          // Mostly small values near real pointers' (far pointers into the other segments), sometimes anything.
          dv.setUint32(w, at % 3 === 0 ? lo : lo % 4096, true)
          dv.setUint32(w + 4, at % 3 === 0 ? hi : hi % 8, true)
        }
        agree(p)
      }),
      { numRuns: 300 },
    )
  })

  it("crafted cases: a null-as-float -0 word, shared targets beyond the budgets, capability pointers, undersized structs", () => {
    const m: DomainMessage = {
      requestId: 5 as RequestId,
      body: {
        _tag: "Forward", sessionId: 1 as never, modelHandle: 2 as never,
        inputs: Array.from({ length: 40 }, (_, i) => ({ name: "", tensor: { dtype: "u8" as const, shape: [i], data: seededBytes(i, i + 1) } })),
        hints: { phase: "decode", priority: "batch", expectedTokens: 3, kvBudgetBytes: 0, finalize: true },
        want: { tokens: true, lastLogits: false, refs: false },
      },
    }
    const base = hotBytes(m).slice()
    const dv = new DataView(base.buffer)
    // The Forward struct starts at segment word 3 (root, Message, body pointer → 2 data words, then 3 pointers).
    const fwd = 3
    const ptr = (i: number) => 8 + 8 * (fwd + 2 + i)
    // 1. hints = the -0 word, followed by 32768 words of zeros: capnp-es takes the word for null (default hints), the
    //    walk for a struct of 32768 null pointers, so the generic path succeeds; the hot reader leaves it to it.
    {
      const words = [structPtr(0, 1, 1), word(9, 12), structPtr(0, 2, 3), word(1, 0), word(2, 0), word(0, 0), word(0, 0x8000_0000)]
      const p = concat([new Uint8Array(8), ...words, new Uint8Array(8 * 32_770)])
      new DataView(p.buffer).setUint32(4, (p.byteLength - 8) / 8, true)
      expect(agree(p)).toBe(false)
      expect(general(p, "fresh")).toMatchObject({ ok: [["requestId", 9], ["body", expect.arrayContaining([["hints", "const:DEFAULT_HINTS"]])]] })
    }
    // 2. every input's name pointing at one long text (the read budget), and at one big shape list (the walk).
    {
      const big = 3000
      const p = concat([base, new Uint8Array(8 * big)])
      const q = new DataView(p.buffer)
      q.setUint32(4, (p.byteLength - 8) / 8, true)
      const textAt = (base.byteLength - 8) / 8
      for (let i = 0; i < big * 8 - 1; i++) p[8 + 8 * textAt + i] = 0x61
      const list = q.getInt32(ptr(0), true) >> 2
      const first = fwd + 2 + 0 + 1 + list + 1 // the first Input element (after the composite tag)
      for (const k of [1, 2, 5, 40]) {
        const r = p.slice()
        const rv = new DataView(r.buffer)
        for (let i = 0; i < k; i++) {
          const nameWord = first + 4 * i + 2
          rv.setUint32(8 + 8 * nameWord, (((textAt - nameWord - 1) << 2) | 1) >>> 0, true)
          rv.setUint32(8 + 8 * nameWord + 4, ((big * 8) << 3) | 2, true)
        }
        agree(r)
      }
    }
    // 3. a capability pointer in an unread (idle) pointer, an undersized Input list, an undersized hints struct.
    {
      const p = base.slice()
      const q = new DataView(p.buffer)
      const list = q.getInt32(ptr(0), true) >> 2
      const tag = fwd + 2 + 0 + 1 + list
      const r1 = p.slice()
      new DataView(r1.buffer).setUint32(8 + 8 * tag + 4, 1 | (2 << 16), true) // elements of 1 data word: undersized
      agree(r1)
      const r2 = p.slice()
      const hints = new DataView(r2.buffer)
      hints.setUint32(ptr(1) + 4, 2, true) // hints of 2 data words
      agree(r2)
      const r3 = p.slice()
      new DataView(r3.buffer).setUint32(8 + 8 * (tag + 1) + 0, 1, true) // first input: which = ref, tensor pointer left
      agree(r3)
      const r4 = p.slice()
      new DataView(r4.buffer).setUint32(8 + 8 * (tag + 1 + 3), 3, true) // a capability where a tensor is
      agree(r4)
    }
  })

  it("crafted cases: objects running past the end of their segment into the next (in one payload buffer)", () => {
    const table = (a: number, b: number) => concat([word(1, a), word(b, 0)])
    // Result{tokens} whose u32 list (or the Result struct itself, or a text) starts in segment 0 and ends in segment 1.
    const result = (tokens: Uint8Array, resultPtr = structPtr(0, 1, 4)) => [structPtr(0, 1, 1), word(1, 14), resultPtr, word(0, 0), tokens, word(0, 0), word(0, 0), word(0, 0)]
    const cases = [
      concat([table(9, 1), ...result(listPtr(3, 4, 4)), word(7, 0), word(8, 9)]), // 4 tokens: words 8 and 9 (seg 1)
      concat([table(9, 1), ...result(listPtr(3, 4, 2)), word(7, 0), word(8, 9)]), // 2 tokens: inside: ok
      concat([table(7, 1), ...result(listPtr(3, 4, 2), structPtr(0, 1, 5)).slice(0, 7), word(0, 0)]), // Result overruns
      concat([table(8, 1), structPtr(0, 1, 1), word(1, 12), structPtr(0, 2, 3), word(1, 0), word(2, 0), listPtr(2, 7, 4), word(0, 0), word(0, 0), word(0, 0)]),
    ]
    // Forward whose one Input's name ("aaaaaaaaab") runs into segment 1, then the same in one segment.
    const fwd = [structPtr(0, 1, 1), word(1, 12), structPtr(0, 2, 3), word(1, 0), word(2, 0), listPtr(2, 7, 4), word(0, 0), word(0, 0), structPtr(1, 2, 2), word(1, 0), word(3, 0), listPtr(1, 2, 11), word(0, 0), word(0x6161_6161, 0x6161_6161)]
    cases.push(concat([table(fwd.length, 1), ...fwd, word(0x6261, 0)]))
    cases.push(concat([table(fwd.length + 1, 0), ...fwd, word(0x6261, 0)]))
    // A root far pointer whose landing pad lies just past segment 0 (the first word of segment 1), single and
    // double; then the same pads inside segment 0.
    const token = [word(1, 13), structPtr(0, 1, 0), word(5, 6)] // Message at word 1, TokenEvent at word 3
    const single = [structPtr(-4, 1, 1)] // pad at word 4: content at 4 + 1 − 4 = word 1
    const double = [farPtr(1, 0), structPtr(0, 1, 1)] // pad: far to segment 0 word 1, then the tag
    cases.push(concat([table(4, 1), farPtr(4, 0), ...token, ...single]))
    cases.push(concat([table(4, 2), farPtr(4, 0, true), ...token, ...double]))
    cases.push(concat([table(5, 1), farPtr(4, 0), ...token, ...single, word(0, 0)]))
    cases.push(concat([table(6, 1), farPtr(4, 0, true), ...token, ...double, word(0, 0)]))
    const outcomes = cases.map((p) => (agree(p), general(p, "fresh")))
    expect(outcomes.map((o) => ("ok" in o ? "ok" : o.reason))).toEqual(["Malformed", "ok", "Malformed", "Malformed", "Malformed", "ok", "Malformed", "Malformed", "ok", "ok"])
  })

  it("framed decode agrees too (prefix checks come first)", () => {
    fc.assert(
      fc.property(hotMessage, fc.nat(), (m, cut) => {
        const f = concat(encodeHotParts(m as Parameters<typeof encodeHotParts>[0]))
        const g = f.subarray(0, cut % (f.byteLength + 1))
        hotDecode.enabled = false
        const generic = decode(g)
        hotDecode.enabled = true
        const r = decode(g)
        expect(Result.isSuccess(r) ? "ok" : r.failure.message).toEqual(Result.isSuccess(generic) ? "ok" : generic.failure.message)
      }),
      { numRuns: 200 },
    )
  })
})
