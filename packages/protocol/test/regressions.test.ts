// Failures met while building the codec, kept as explicit cases so they stay fixed.
import * as $ from "capnp-es"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import * as G from "../src/gen/djinn.ts"
import { newMessage } from "../src/codec/wire.ts"
import { decode, decodePayload, encode, type DomainMessage, type RequestId } from "../src/index.ts"
import { payload, root, structPtr, word } from "./craft.ts"

const token: DomainMessage = { requestId: 5 as RequestId, body: { _tag: "TokenEvent", index: 1, token: 2 } }

describe("regressions", () => {
  it("a struct whose sections run past the end of its segment is Malformed, also for small (scratch-read) frames", () => {
    // Before the structural walk, a small frame was read from the zeroed spare space of the reused scratch buffer
    // and decoded "successfully" as TokenEvent{0, 0}; a large one failed with a RangeError.
    const small = payload(root(13, structPtr(0, 0xffff, 0xffff)))
    const r = decodePayload(small)
    expect(Result.isFailure(r) && r.failure.reason).toBe("Malformed")
    const large = payload([...root(13, structPtr(0, 3, 0)), ...Array.from({ length: 4096 }, () => word(0, 0))])
    const big = payload([...root(13, structPtr(4096, 3, 0)), ...Array.from({ length: 4096 }, () => word(0, 0))])
    expect(Result.isSuccess(decodePayload(large))).toBe(true)
    expect(Result.isFailure(decodePayload(big))).toBe(true)
  })

  it("the reused scratch builder gets a fresh capnp-es traversal limit for every message", () => {
    // capnp-es charges pointer objects created while *building* too; after ~8 M of them a long-lived process's
    // encode threw "Traversal limit exceeded". Simulate the exhausted limit instead of encoding millions.
    newMessage(16)._capnp.traversalLimit = 1
    expect(Result.isSuccess(decode(encode(token)))).toBe(true)
  })

  it("the scratch reader forgets a longer previous message", () => {
    // A short frame after a long one must not see the long one's bytes through an out-of-range pointer.
    const long: DomainMessage = { requestId: 1 as RequestId, body: { _tag: "StatsReply", json: "y".repeat(4000) } }
    expect(Result.isSuccess(decode(encode(long)))).toBe(true)
    const r = decodePayload(payload(root(21, structPtr(0, 0, 1))))
    expect(Result.isFailure(r)).toBe(true)
  })

  it("no schema field shadows a capnp-es pointer member (a field `byteOffset` once broke every struct accessor)", () => {
    const reserved = ["byteOffset", "segment", "_capnp", "length"]
    for (const [name, cls] of Object.entries(G)) {
      if (typeof cls !== "function" || !(cls.prototype instanceof $.Struct)) continue
      for (const member of Object.getOwnPropertyNames(cls.prototype)) expect(reserved, `${name}.${member}`).not.toContain(member)
    }
  })
})
