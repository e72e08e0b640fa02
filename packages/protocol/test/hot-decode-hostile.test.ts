// decodePayload (hot reader first, codec/hot-decode.ts) must return what the generic path alone returns on hostile and
// damaged bytes — the same ok value or the same error — in every payload form.
import fc from "fast-check"
import * as $ from "capnp-es"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { writeMessage } from "../src/codec/encode.ts"
import { hotDecode } from "../src/codec/hot-decode.ts"
import { encodeHotParts } from "../src/codec/hot-encode.ts"
import { serialize } from "../src/codec/wire.ts"
import { decode, type DomainMessage, type RequestId } from "../src/index.ts"
import { seededBytes } from "./arbitraries.ts"
import { farPtr, listPtr, structPtr, word } from "./craft.ts"
import { hotMessage, concat, hotBytes, general, agree, bothWriters, hotPathOn } from "./hot-decode-support.ts"

hotPathOn()

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
