// The sweep's pure parts: the equivalence verdicts, the seeded inputs, and the MessagePack framing of the rpc wire.
import { describe, expect, it } from "vitest"
import { encode } from "@msgpack/msgpack"
import { workInput } from "../src/engine/work.ts"
import { makeMeter, makeMsgPack } from "../src/rpc/msgpack.ts"
import { failedRun, measuredRun } from "../src/result.ts"
import type { RunOutcome } from "../src/sweep/baseline.ts"
import { compareOutput, EXACT, judge, judgeReference } from "../src/sweep/equivalence.ts"
import type { Workload } from "../src/config.ts"

const tokens = (run: number, ts: Array<number>): RunOutcome => ({
  record: measuredRun({ run, latencyMs: 1, units: ts.length, inputBytes: null, outputBytes: null }),
  output: { kind: "tokens", tokens: ts },
})
const values = (run: number, vs: Array<number>): RunOutcome => ({
  record: measuredRun({ run, latencyMs: 1, units: 1, inputBytes: null, outputBytes: null }),
  output: { kind: "values", shape: [1, vs.length], values: Float32Array.from(vs) },
})

describe("equivalence", () => {
  const ref = [tokens(0, [1, 2, 3]), tokens(1, [4, 5, 6])]
  it("matches run by run, and names the first differing token", () => {
    expect(judge(ref, [tokens(0, [1, 2, 3]), tokens(1, [4, 5, 6])], EXACT, "native")).toEqual({ match: true, detail: "2 runs identical to native" })
    expect(judge(ref, [tokens(0, [1, 2, 3]), tokens(1, [4, 9, 6])], EXACT, "native")).toEqual({
      match: false,
      detail: "run 1: token 1 is 9, reference 5 (first 1 equal)",
    })
  })
  it("failed runs are not compared; nothing to compare is null, not true", () => {
    const failed: RunOutcome = { record: failedRun(1, "boom"), output: null }
    expect(judge(ref, [tokens(0, [1, 2, 3]), failed], EXACT, "native").match).toBe(true)
    expect(judge(ref, [failed], EXACT, "native").match).toBeNull()
    expect(judge(null, [tokens(0, [1, 2, 3])], EXACT, "native").match).toBeNull()
  })
  it("values: exact for our systems, a relative tolerance and the same argmax for peers", () => {
    const a = values(0, [1, 2, 4]), b = values(0, [1, 2.001, 4.002])
    expect(compareOutput(a.output!, b.output!, EXACT).differs).toMatch(/relative error/)
    expect(compareOutput(a.output!, b.output!, { relative: 1e-2 }).differs).toBeNull()
    // A flipped argmax is within the tolerance only as a near-tie: reported in the note, and a difference otherwise.
    const flipped = compareOutput(a.output!, values(0, [1, 4.001, 4]).output!, { relative: 1 })
    expect(flipped.differs).toBeNull()
    expect(flipped.note).toMatch(/argmax near-ties row 0: 1 for 2/)
    expect(compareOutput(a.output!, values(0, [1, 4.001, 4]).output!, { relative: 0.3 }).differs).toMatch(/relative error/)
  })
  it("the reference is judged on determinism (warm-up k and run k share an input)", () => {
    expect(judgeReference([tokens(0, [1, 2, 3])], ref).match).toBe(true)
    expect(judgeReference([tokens(0, [1, 2, 7])], ref).match).toBe(false)
    expect(judgeReference([], ref).match).toBeNull()
  })
})

describe("seeded inputs", () => {
  const w = { name: "w", implementation: "hf_causal_lm", params: { prompt_length: 16, new_tokens: 4 } } as unknown as Workload
  it("are the same in every process and differ between runs", () => {
    const a = workInput(w, 0, 0, { vocab_size: 100 }), b = workInput(w, 0, 0, { vocab_size: 100 }), c = workInput(w, 0, 1, { vocab_size: 100 })
    expect(a).toEqual(b)
    expect(a).not.toEqual(c)
    expect(a.kind === "generate" && a.ids.every((t) => t >= 0 && t < 100)).toBe(true)
    expect(workInput({ ...w, params: { prompt_length: 3, new_tokens: 0 } } as unknown as Workload, 0, 0, undefined).kind).toBe("forward")
  })
})

describe("MessagePack rpc serialization", () => {
  it("frames messages, reassembles split chunks, keeps bytes binary and meters both directions", () => {
    const meter = makeMeter()
    const parser = makeMsgPack(meter).makeUnsafe()
    const msg = { _tag: "Request", id: "1", tag: "Run", payload: { ids: new Uint8Array([1, 0, 0, 0]), newTokens: 4 }, headers: [] }
    const frame = parser.encode(msg) as Uint8Array
    expect(frame.byteLength).toBe(4 + encode(msg).byteLength)
    const two = new Uint8Array([...frame, ...frame])
    const got = [...parser.decode(two.subarray(0, 7)), ...parser.decode(two.subarray(7, frame.byteLength + 3)), ...parser.decode(two.subarray(frame.byteLength + 3))]
    expect(got).toHaveLength(2)
    expect((got[1] as typeof msg).payload.ids).toBeInstanceOf(Uint8Array)
    expect(meter.bytesOut).toBe(frame.byteLength)
    expect(meter.bytesIn).toBe(2 * frame.byteLength)
    parser.encode({ _tag: "Ping" })
    expect(meter.bytesOut).toBe(frame.byteLength)
  })
})
