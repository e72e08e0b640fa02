// The hot writer (Generate, Forward, TokenEvent, RefData, Result) must produce exactly the capnp-es builders' bytes.
import fc from "fast-check"
import { Result as R } from "effect"
import { describe, expect, it } from "vitest"
import { encodePartsGeneral } from "../src/codec/encode.ts"
import { encodeHotParts, isHot } from "../src/codec/hot-encode.ts"
import { decode, encode, encodeParts, type DomainMessage, type Input, type MessageBody, type RefId, type Tensor } from "../src/index.ts"
import { bodies, canon, message, seededBytes } from "./arbitraries.ts"

const HOT = ["Generate", "Forward", "TokenEvent", "RefData", "Result"] as const
const bytesOf = (parts: ReadonlyArray<Uint8Array>) => Buffer.concat(parts)

/** Tensors at and around the size from which data goes out as a segment of its own. */
const bigTensor: fc.Arbitrary<Tensor> = fc
  .tuple(fc.constantFrom(65_535, 65_536, 65_537, 100_003), fc.integer({ min: 1, max: 1000 }))
  .map(([n, seed]) => ({ dtype: "u8" as const, shape: [n], data: seededBytes(n, seed) }))
const bigInputs = fc.array(
  fc.oneof(fc.record({ name: fc.string({ maxLength: 8 }), tensor: bigTensor }), fc.record({ name: fc.constant("ids"), ref: fc.nat().map((n) => n as RefId) })),
  { maxLength: 3 },
) as fc.Arbitrary<Input[]>
const withBig: fc.Arbitrary<MessageBody> = fc.oneof(
  bodies.Generate.chain((g) => bigInputs.map((inputs) => ({ ...g, inputs: [...g.inputs, ...inputs] }))),
  bodies.Forward.chain((f) => bigInputs.map((inputs) => ({ ...f, inputs: [...inputs, ...f.inputs] }))),
  bigTensor.chain((t) => bodies.Result.map((r) => ({ ...r, lastLogits: t }))),
  bigTensor.map((t): MessageBody => ({ _tag: "RefData", ref: { id: 3 as RefId, dtype: t.dtype, shape: t.shape, byteSize: t.data.byteLength }, data: t.data })),
)

describe("hot writer", () => {
  it("covers exactly the hot kinds", () => {
    for (const tag of Object.keys(bodies)) expect(isHot(tag)).toBe((HOT as ReadonlyArray<string>).includes(tag))
  })

  it("writes the capnp-es builders' bytes for every hot kind", () => {
    fc.assert(
      fc.property(message(fc.oneof(...HOT.map((t) => bodies[t] as fc.Arbitrary<MessageBody>))), (m) => {
        const hot = bytesOf(encodeHotParts(m as Parameters<typeof encodeHotParts>[0]))
        expect(hot.equals(bytesOf(encodePartsGeneral(m)))).toBe(true)
        expect(hot.equals(Buffer.from(encode(m)))).toBe(true)
        expect(canon(R.getOrThrow(decode(hot)))).toEqual(canon(m))
      }),
      { numRuns: 1500 },
    )
  })

  it("sends large tensors as segments of their own, from the caller's bytes, with the same bytes", () => {
    fc.assert(
      fc.property(message(withBig), (m) => {
        const parts = encodeParts(m)
        expect(bytesOf(parts).equals(bytesOf(encodePartsGeneral(m)))).toBe(true)
        const blobs = JSON.stringify(m, (_k, v) => (v instanceof Uint8Array ? v.byteLength : v))
        if (/6553[67]|100003/.test(blobs)) expect(parts.length).toBeGreaterThan(1)
        expect(canon(R.getOrThrow(decode(bytesOf(parts))))).toEqual(canon(m))
      }),
      { numRuns: 60 },
    )
  })

  it("copies blobs in beyond 64 external segments, as the builders do", () => {
    const inputs: Input[] = Array.from({ length: 66 }, (_, i) => ({ name: `t${i}`, tensor: { dtype: "u8", shape: [65_536], data: seededBytes(65_536, i + 1) } }))
    const m = { requestId: 9, body: { _tag: "Forward", sessionId: 1, modelHandle: 2, inputs, hints: { phase: "vision", priority: "batch", expectedTokens: 0, kvBudgetBytes: 0, finalize: false }, want: { tokens: false, lastLogits: true, refs: false } } } as unknown as DomainMessage
    expect(bytesOf(encodeParts(m)).equals(bytesOf(encodePartsGeneral(m)))).toBe(true)
  })
})
