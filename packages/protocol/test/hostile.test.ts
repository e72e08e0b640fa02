// Malformed and malicious bytes: every case must come back as a typed ProtocolError — no exception, no hang, and no
// allocation driven by a length field beyond the frame limit.
import fc from "fast-check"
import * as $ from "capnp-es"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import * as G from "../src/gen/djinn.ts"
import {
  decode,
  decodePayload,
  encode,
  encodePayload,
  ProtocolError,
  validate,
  type DomainMessage,
  type ProtocolErrorReason,
  type RequestId,
} from "../src/index.ts"
import { message } from "./arbitraries.ts"
import { compositeTag, concat, farPtr, frame, listPtr, payload, root, structPtr, word } from "./craft.ts"

/** Decodes, asserting the call neither throws nor takes long; returns the failure reason or "ok". */
const outcome = (bytes: Uint8Array, framed = false): ProtocolErrorReason | "ok" => {
  const t0 = performance.now()
  let r: Result.Result<DomainMessage, ProtocolError>
  try {
    r = framed ? decode(bytes) : decodePayload(bytes)
  } catch (e) {
    throw new Error(`decode threw: ${String(e)}`)
  }
  expect(performance.now() - t0).toBeLessThan(250)
  if (Result.isSuccess(r)) {
    // Anything that decodes must also satisfy the domain schemas.
    expect(Result.isSuccess(validate(r.success))).toBe(true)
    return "ok"
  }
  expect(r.failure).toBeInstanceOf(ProtocolError)
  return r.failure.reason
}
const failure = (bytes: Uint8Array) => {
  const r = decodePayload(bytes)
  if (Result.isSuccess(r)) throw new Error("expected a failure")
  return r.failure
}

/** Byte offset (within the single segment) of pointer `index` of the struct `pick` selects in message `m`. */
const pointerAt = (m: DomainMessage, pick: (root: G.Message) => $.Struct, index: number): number => {
  const msg = new $.Message(encodePayload(m), false)
  return $.utils.getPointer(index, pick(msg.getRoot(G.Message))).byteOffset
}
/** `m`'s payload with the 8 bytes at `at` (segment-relative) replaced. */
const patched = (m: DomainMessage, at: number, w: Uint8Array): Uint8Array => {
  const p = encodePayload(m).slice()
  p.set(w, 8 + at)
  return p
}

const rid = 1 as RequestId
const hints = { phase: "auto", priority: "batch", expectedTokens: 0, kvBudgetBytes: 0, finalize: false } as const
const generate: DomainMessage = {
  requestId: rid,
  body: {
    _tag: "Generate",
    sessionId: 1 as never,
    modelHandle: 2 as never,
    inputs: [{ name: "input_ids", tensor: { dtype: "i32", shape: [1, 2], data: new Uint8Array(8) } }],
    hints,
    params: { maxNewTokens: 4, temperature: 0, topK: 0, topP: 1, seed: 0, stopTokens: [], stream: false },
    want: { tokens: true, lastLogits: false, refs: false },
  },
}
const result: DomainMessage = {
  requestId: rid,
  body: {
    _tag: "Result",
    tokens: [1, 2, 3],
    refs: [],
    profile: { queueMs: 0, planMs: 0, placementMs: 0, executionMs: 0, skeletonizationMs: 0, cleanupMs: 0, durationMs: 0 },
  },
}
const gen = (r: G.Message) => r.body.generate
const input0 = (r: G.Message) => r.body.generate.inputs.get(0)
const tensor0 = (r: G.Message) => r.body.generate.inputs.get(0).value.tensor

describe("hostile input: arbitrary bytes", () => {
  it("random bytes never escape decode", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), fc.boolean(), (bytes, framed) => {
        outcome(bytes, framed)
      }),
      { numRuns: 2000 },
    )
  })

  it("random segment tables over random words", () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 64 }), { minLength: 1, maxLength: 5 }), fc.uint8Array({ maxLength: 600 }), (sizes, junk) => {
        const table = new Uint8Array((4 + 4 * sizes.length + 7) & ~7)
        const dv = new DataView(table.buffer)
        dv.setUint32(0, sizes.length - 1, true)
        sizes.forEach((s, i) => dv.setUint32(4 + 4 * i, s, true))
        outcome(concat([table, junk]))
      }),
      { numRuns: 1000 },
    )
  })

  it("valid messages with random words overwritten (pointers in and out of range, loops, bad tags)", () => {
    fc.assert(
      fc.property(
        message(),
        fc.array(fc.tuple(fc.nat(), fc.nat({ max: 0xffff_ffff }), fc.nat({ max: 0xffff_ffff })), { minLength: 1, maxLength: 4 }),
        (m, edits) => {
          const p = encodePayload(m).slice()
          const words = (p.byteLength - 8) / 8
          const dv = new DataView(p.buffer)
          for (const [at, lo, hi] of edits) {
            const w = 8 + 8 * (at % words)
            dv.setUint32(w, lo, true)
            dv.setUint32(w + 4, hi, true)
          }
          outcome(p)
        },
      ),
      { numRuns: 1500 },
    )
  })

  it("valid messages with plausible pointers written over random words (small offsets, real segment ids)", () => {
    const ptrWord = fc.oneof(
      fc.tuple(fc.integer({ min: -8, max: 40 }), fc.nat({ max: 8 }), fc.nat({ max: 8 })).map(([o, d, p]) => structPtr(o, d, p)),
      fc.tuple(fc.integer({ min: -8, max: 40 }), fc.nat({ max: 7 }), fc.nat({ max: 64 })).map(([o, s, n]) => listPtr(o, s, n)),
      fc.tuple(fc.nat({ max: 40 }), fc.boolean(), fc.nat({ max: 2 })).map(([o, d, seg]) => farPtr(o, seg, d)),
      fc.tuple(fc.nat({ max: 0xffff }), fc.nat({ max: 0xffff })).map(([a, b]) => word(a, b)),
    )
    fc.assert(
      fc.property(message(), fc.array(fc.tuple(fc.nat(), ptrWord), { minLength: 1, maxLength: 5 }), (m, edits) => {
        const p = encodePayload(m).slice()
        const words = (p.byteLength - 8) / 8
        for (const [at, w] of edits) p.set(w, 8 + 8 * (at % words))
        outcome(p)
      }),
      { numRuns: 1500 },
    )
  })

  it("valid messages with single bytes flipped", () => {
    fc.assert(
      fc.property(message(), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 6 }), (m, flips) => {
        const p = encodePayload(m).slice()
        for (const [at, x] of flips) p[at % p.byteLength] ^= x
        outcome(p)
      }),
      { numRuns: 1500 },
    )
  })
})

describe("hostile input: frames and segment tables", () => {
  it("every truncation of a valid frame is Truncated", () => {
    fc.assert(
      fc.property(message(), fc.nat(), (m, cut) => {
        const f = encode(m)
        expect(outcome(f.subarray(0, cut % f.byteLength), true)).toBe("Truncated")
      }),
      { numRuns: 300 },
    )
  })

  it("a frame with bytes after it is Malformed; an oversize prefix is FrameTooLarge", () => {
    const f = encode(result)
    expect(outcome(concat([f, new Uint8Array(1)]), true)).toBe("Malformed")
    const big = f.slice()
    new DataView(big.buffer).setUint32(0, 0xffff_ffff, true)
    expect(outcome(big, true)).toBe("FrameTooLarge")
    expect(Result.isFailure(decode(f, { maxFrameBytes: 16 }))).toBe(true)
  })

  it("corrupt segment tables are refused before any segment is copied", () => {
    const seg = encodePayload(result).subarray(8)
    const table = (count: number, ...sizes: Array<number>) => {
      const t = new Uint8Array((4 + 4 * Math.max(sizes.length, 1) + 7) & ~7)
      const dv = new DataView(t.buffer)
      dv.setUint32(0, count, true)
      sizes.forEach((s, i) => dv.setUint32(4 + 4 * i, s, true))
      return t
    }
    expect(outcome(concat([table(0xffff_ffff, 1), seg]))).toBe("Malformed") // 2^32 segments
    expect(outcome(concat([table(600, 1), seg]))).toBe("Malformed") // more than 512
    expect(outcome(concat([table(0, 0xffff_ffff), seg]))).toBe("Truncated") // 32 GiB segment
    expect(outcome(concat([table(0, 1), seg]))).toBe("Malformed") // trailing bytes
    expect(outcome(concat([table(0, 0)]))).toBe("Malformed") // no root pointer
    expect(outcome(table(3, 1))).toBe("Truncated") // a 4-segment table needs 24 bytes, the payload has 8
    expect(outcome(new Uint8Array(4))).toBe("Truncated")
  })
})

describe("hostile input: pointers", () => {
  it("out-of-range struct, list and far pointers", () => {
    expect(outcome(payload([structPtr(0x1fff_ffff, 1, 1)]))).toBe("Malformed")
    expect(outcome(payload([structPtr(-5, 1, 1)]))).toBe("Malformed")
    expect(outcome(payload(root(13, structPtr(0, 0xffff, 0xffff))))).toBe("Malformed")
    expect(outcome(payload([farPtr(0, 99)]))).toBe("Malformed") // no segment 99
    expect(outcome(payload([farPtr(0x0fff_ffff, 0)]))).toBe("Malformed")
    expect(outcome(payload([listPtr(0, 2, 8)]))).toBe("Malformed") // root is a list
  })

  it("looping pointers: self-referencing structs, far pointers landing on themselves, double-far chains", () => {
    outcome(payload([structPtr(-1, 1, 1), word(0, 0)])) // the root's data section is its own pointer: legal, odd
    expect(outcome(payload([farPtr(0, 0)]))).toBe("Malformed") // far pointer whose landing pad is itself
    expect(outcome(payload([farPtr(0, 0, true)]))).toBe("Malformed")
    expect(outcome(payload([farPtr(1, 0), farPtr(0, 0)]))).toBe("Malformed") // far → far
    expect(outcome(payload([farPtr(0, 1)], [farPtr(0, 0)]))).toBe("Malformed") // across segments and back
    // Every input's tensor points back at the inputs list.
    const at = pointerAt(generate, input0, 1)
    const p = encodePayload(generate).slice()
    const listAt = pointerAt(generate, gen, 0)
    new DataView(p.buffer).setInt32(8 + at, (((listAt - at) / 8 - 1) << 2) | 0, true)
    expect(outcome(p)).not.toBe("ok")
  })

  it("a composite list of 2^29 zero-sized elements is refused by the traversal limit, not by trying", () => {
    const at = pointerAt(generate, gen, 0)
    const seg = encodePayload(generate).slice(8)
    const off = (seg.byteLength - at - 8) / 8
    const p = concat([encodePayload(generate).subarray(0, 8), seg.subarray(0, at), listPtr(off, 7, 0), seg.subarray(at + 8), compositeTag(0x1fff_ffff, 0, 0)])
    new DataView(p.buffer).setUint32(4, seg.byteLength / 8 + 1, true)
    const e = failure(p)
    expect(e.reason).toBe("Malformed")
    expect(e.message).toMatch(/traversal limit/)
  })

  it("undersized list elements that capnp-es would upgrade past the allocation cap are refused", () => {
    // 40000 one-word elements where Input (3 data words + 2 pointers here) is expected: upgrading needs ~1.6 MB.
    const n = 40_000
    const at = pointerAt(generate, gen, 0)
    const seg = encodePayload(generate).slice(8)
    const off = (seg.byteLength - at - 8) / 8
    const elements = new Uint8Array(8 * n)
    const p = concat([encodePayload(generate).subarray(0, 8), seg.subarray(0, at), listPtr(off, 7, n), seg.subarray(at + 8), compositeTag(n, 1, 0), elements])
    new DataView(p.buffer).setUint32(4, (p.byteLength - 8) / 8, true)
    const e = failure(p)
    expect(e.reason).toBe("Malformed")
    expect(e.message).toMatch(/upgrading/)
  })

  it("lists and data claiming more elements than the frame holds are out of bounds", () => {
    const tokensAt = pointerAt(result, (r) => r.body.result, 0)
    const e1 = failure(patched(result, tokensAt, listPtr(0, 4, 0x1fff_ffff)))
    expect(e1.message).toMatch(/out of bounds/)
    const dataAt = pointerAt(generate, tensor0, 1)
    const e2 = failure(patched(generate, dataAt, listPtr(0, 2, 0x1fff_ffff)))
    expect(e2.message).toMatch(/out of bounds/)
    const shapeAt = pointerAt(generate, tensor0, 0)
    expect(outcome(patched(generate, shapeAt, listPtr(0, 2, 5)))).toBe("Malformed") // bytes where u32s belong
  })

  it("many pointers sharing one large text cannot amplify the frame", () => {
    const big = "x".repeat(100_000)
    const m: DomainMessage = {
      requestId: rid,
      body: { ...(generate.body as Extract<DomainMessage["body"], { _tag: "Generate" }>), inputs: Array.from({ length: 60 }, () => ({ name: "", ref: 1 as never })) },
    }
    const first = pointerAt(m, input0, 0)
    const stride = pointerAt(m, (r) => r.body.generate.inputs.get(1), 0) - first
    /** `m` with the big text appended and the names of the first `k` inputs all pointing at it. */
    const sharing = (k: number) => {
      const p = encodePayload(m)
      const textAt = p.byteLength - 8 // segment-relative offset of the appended text
      const out = concat([p, new TextEncoder().encode(big + "\0"), new Uint8Array((8 - ((big.length + 1) % 8)) % 8)])
      const dv = new DataView(out.buffer)
      dv.setUint32(4, (out.byteLength - 8) / 8, true)
      for (let i = 0; i < k; i++) {
        const at = first + i * stride
        dv.setUint32(8 + at, (((textAt - at) / 8 - 1) << 2) | 1, true)
        dv.setUint32(8 + at + 4, 2 | ((big.length + 1) << 3), true)
      }
      return out
    }
    expect(outcome(sharing(1))).toBe("ok")
    expect(failure(sharing(60)).message).toMatch(/traversal limit/)
  })
})

describe("hostile input: tags and values", () => {
  it("unknown top-level kinds are UnknownKind", () => {
    fc.assert(
      fc.property(fc.integer({ min: 24, max: 0xffff }), (tag) => {
        expect(outcome(payload(root(tag, word(0, 0))))).toBe("UnknownKind")
      }),
      { numRuns: 200 },
    )
  })

  it("unknown nested union tags are Malformed", () => {
    const submit: DomainMessage = { requestId: rid, body: { _tag: "GpuSubmit", calls: [{ _tag: "DestroyBuffer", bufferId: 3 as never }] } }
    const msg = new $.Message(encodePayload(submit), false)
    const call = msg.getRoot(G.Message).body.gpuSubmit.calls.get(0)
    $.utils.setUint16(20, 6, call)
    expect(outcome(new Uint8Array($.Message.toArrayBuffer(msg)))).toBe("Malformed")
    const m2 = new $.Message(encodePayload(generate), false)
    $.utils.setUint16(0, 9, m2.getRoot(G.Message).body.generate.inputs.get(0).value)
    expect(outcome(new Uint8Array(m2.toArrayBuffer()))).toBe("Malformed")
  })

  it("enum ordinals, shapes and ids outside the domain are InvalidValue", () => {
    const edit = (f: (r: G.Message) => void) => {
      const msg = new $.Message(encodePayload(generate), false)
      f(msg.getRoot(G.Message))
      return new Uint8Array(msg.toArrayBuffer())
    }
    const t = (r: G.Message) => r.body.generate.inputs.get(0).value.tensor
    expect(outcome(edit((r) => (t(r).dtype = 7 as G.DType)))).toBe("InvalidValue")
    expect(outcome(edit((r) => ($.utils.setUint16(0, 9, r.body.generate.hints))))).toBe("InvalidValue") // phase
    expect(outcome(edit((r) => (r.body.generate.sessionId = 2n ** 53n)))).toBe("InvalidValue")
    const shape = (dims: Array<number>) =>
      edit((r) => {
        const l = t(r)._initShape(dims.length)
        dims.forEach((d, i) => l.set(i, d))
      })
    expect(outcome(shape([2 ** 31, 2 ** 31, 2 ** 31]))).toBe("InvalidValue") // product overflows the bound
    expect(outcome(shape(Array(8).fill(2 ** 31)))).toBe("InvalidValue")
    expect(outcome(shape([0xffff_ffff]))).toBe("InvalidValue") // dim above 2^31
    expect(outcome(shape([1, 1, 1, 1, 1, 1, 1, 1, 2]))).toBe("InvalidValue") // rank 9
    expect(outcome(shape([3]))).toBe("InvalidValue") // 12 bytes promised, 8 present
    expect(outcome(shape([2, 1]))).toBe("ok")
  })
})
