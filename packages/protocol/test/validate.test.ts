import fc from "fast-check"
import { Result, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { WIRE_CHECKED_KINDS } from "../src/codec/validate.ts"
import { BODY_SCHEMAS, validate, type MessageTag, type RequestId } from "../src/index.ts"
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
