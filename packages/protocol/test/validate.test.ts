import fc from "fast-check"
import { Result, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { validateBody, WIRE_CHECKED_KINDS } from "../src/codec/validate.ts"
import { BODY_SCHEMAS, validate, type MessageBody, type MessageTag, type RequestId } from "../src/index.ts"
import { bodies } from "./arbitraries.ts"

describe("domain validation", () => {
  it("kinds the decoder does not re-check accept every value their wire fields can carry", () => {
    // The arbitraries of these kinds span each field's whole wire range (u32, u64 ≤ 2^53 − 1, any string or bytes,
    // every enum literal). If a schema gains a refinement, this fails until the kind leaves WIRE_CHECKED_KINDS.
    for (const tag of WIRE_CHECKED_KINDS) {
      const is = Schema.is(BODY_SCHEMAS[tag] as Schema.Top)
      fc.assert(fc.property(bodies[tag as MessageTag] as fc.Arbitrary<unknown>, (b) => is(b)), { numRuns: 200 })
    }
  })

  it("the hot kinds' fast path agrees with the schemas, on valid values and on near misses", () => {
    // Shapes and byte counts near the rules' edges: dims at and past the bound, fractional and negative dims, ranks
    // past the limit, byte counts one off.
    const dim = fc.oneof(fc.integer({ min: 0, max: 5 }), fc.constantFrom(-1, 1.5, 2 ** 31, 2 ** 31 + 1, 2 ** 40))
    const shape = fc.array(dim, { maxLength: 10 })
    const dtype = fc.constantFrom("f32", "f16", "u8", "i32", "bf16")
    const size = (dt: string, sh: ReadonlyArray<number>) => sh.reduce((a, b) => a * b, 1) * (dt === "f32" || dt === "i32" ? 4 : dt === "u8" ? 1 : 2)
    const bytes = fc.tuple(dtype, shape, fc.integer({ min: -1, max: 1 })).map(([dt, sh, off]) => {
      const n = size(dt, sh)
      return { dt, sh, n: Number.isSafeInteger(n) && n + off >= 0 && n + off < 4096 ? n + off : 3 }
    })
    const refData = fc.tuple(bytes, fc.integer({ min: -1, max: 1 })).map(([{ dt, sh, n }, off]): MessageBody => ({
      _tag: "RefData", ref: { id: 1, dtype: dt, shape: sh, byteSize: Math.max(0, size(dt, sh) + off) }, data: new Uint8Array(n),
    }) as never)
    const result = fc.tuple(fc.array(bytes, { maxLength: 2 }), fc.option(bytes), fc.constantFrom(0, 1.5, NaN, Infinity)).map(([refs, logits, ms]): MessageBody => ({
      _tag: "Result", tokens: [1, 2], refs: refs.map(({ dt, sh, n }) => ({ id: 2, dtype: dt, shape: sh, byteSize: n })),
      ...(logits !== null ? { lastLogits: { dtype: logits.dt, shape: logits.sh, data: new Uint8Array(logits.n) } } : {}),
      profile: { queueMs: 0, planMs: ms, placementMs: 0, executionMs: 1, skeletonizationMs: 0, cleanupMs: 0, durationMs: 2 },
    }) as never)
    const forward = fc.array(bytes, { maxLength: 3 }).map((ts): MessageBody => ({
      _tag: "Forward", sessionId: 1, modelHandle: 2, inputs: ts.map(({ dt, sh, n }, i) => ({ name: `x${i}`, tensor: { dtype: dt, shape: sh, data: new Uint8Array(n) } })),
      hints: { phase: "auto", priority: "interactive", expectedTokens: 0, kvBudgetBytes: 0, finalize: true }, want: { tokens: false, lastLogits: false, refs: true },
    }) as never)
    fc.assert(
      fc.property(fc.oneof(refData, result, forward, bodies.RefData as fc.Arbitrary<MessageBody>, bodies.Result as fc.Arbitrary<MessageBody>), (body) => {
        expect(validateBody(body) === undefined).toBe(Schema.is(BODY_SCHEMAS[body._tag] as Schema.Top)(body))
      }),
      { numRuns: 1000 },
    )
  })

  it("validate refuses hand-built values that break the domain rules", () => {
    const tensor = (dtype: string, shape: Array<number>, bytes: number) => ({
      requestId: 1 as RequestId,
      body: { _tag: "Result", tokens: [], refs: [], lastLogits: { dtype, shape, data: new Uint8Array(bytes) }, profile: { queueMs: 0, planMs: 0, placementMs: 0, executionMs: 0, skeletonizationMs: 0, cleanupMs: 0, durationMs: 0 } },
    })
    expect(Result.isSuccess(validate(tensor("f16", [2, 3], 12)))).toBe(true)
    expect(Result.isFailure(validate(tensor("f16", [2, 3], 11)))).toBe(true) // byte size
    expect(Result.isFailure(validate(tensor("f64", [2], 16)))).toBe(true) // unknown dtype
    expect(Result.isFailure(validate(tensor("u8", [-1], 0)))).toBe(true) // negative dim
    expect(Result.isFailure(validate(tensor("u8", [1.5], 0)))).toBe(true) // fractional dim
    expect(Result.isFailure(validate(tensor("u8", Array(9).fill(1), 1)))).toBe(true) // rank 9
    expect(Result.isFailure(validate(tensor("u8", [2 ** 31 + 1], 0)))).toBe(true) // dim above 2^31
    expect(Result.isFailure(validate(tensor("u8", [2 ** 31, 2 ** 31], 0)))).toBe(true) // product overflows the bound
    expect(Result.isFailure(validate({ requestId: -1, body: { _tag: "Ack" } }))).toBe(true)
    expect(Result.isFailure(validate({ requestId: 1, body: { _tag: "FetchRef", refId: 2 ** 53 } }))).toBe(true)
    expect(Result.isFailure(validate({ requestId: 1, body: { _tag: "Nope" } }))).toBe(true)
    const r = validate(tensor("f16", [2, 3], 11))
    expect(Result.isFailure(r) && r.failure.reason).toBe("InvalidValue")
  })
})
