// The flat reader of the hot kinds (codec/hot-decode.ts) must give exactly what the capnp-es path gives — the same
// values, key order and byte-field ownership — or defer to it; decodePayload (hot first) must return what the generic
// path alone returns on every input, valid or hostile, ok value or error.
import fc from "fast-check"
import * as $ from "capnp-es"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { writeMessage } from "../src/codec/encode.ts"
import { decodeHot, hotDecode } from "../src/codec/hot-decode.ts"
import { encodeHotParts } from "../src/codec/hot-encode.ts"
import * as R from "../src/codec/read.ts"
import { serialize } from "../src/codec/wire.ts"
import {
  decodePayload,
  encodePayload,
  FrameDecoder,
  SegmentedPayload,
  type DomainMessage,
  type Payload,
  type RequestId,
} from "../src/index.ts"
import { seededBytes } from "./arbitraries.ts"
import { listPtr, structPtr, word } from "./craft.ts"
import { hotMessage, concat, hotBytes, generalBytes, FORMS, general, combined, hotPathOn } from "./hot-decode-support.ts"

hotPathOn()

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
