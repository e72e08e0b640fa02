import { describe, expect, it } from "vitest"
import { dtypesOf, guardedOutput, randomFloats, relError, roundF16, testDevice, tolerance, upload } from "../testing/harness.ts"
import { encode, reference, type BinaryOp } from "./add.ts"

describe("add / mul", async () => {
  const gpu = await testDevice()
  const cases: [n: number, bLen: number, op: BinaryOp][] = [[1, 1, "add"], [257, 257, "add"], [1021, 1, "mul"], [6 * 97, 97, "add"], [3 * 1009, 1009, "mul"]]
  for (const dtype of dtypesOf(gpu)) {
    for (const [n, bLen, op] of cases) {
      it(`${op} ${dtype} n=${n} b=${bLen}`, async () => {
        let a = randomFloats(n, n), b = randomFloats(bLen, bLen + 7)
        if (dtype === "f16") { a = roundF16(a); b = roundF16(b) }
        const out = guardedOutput(gpu, n, dtype)
        encode(gpu, { a: upload(gpu, a, dtype), b: upload(gpu, b, dtype), out: out.binding, n, bLen, op, dtype })
        const got = await out.read()
        expect(relError(got, reference(a, b, op))).toBeLessThan(tolerance(dtype))
      })
    }
  }
  it("rejects a broadcast that does not divide", () => {
    expect(() => encode(gpu, { a: { buffer: 0 }, b: { buffer: 0 }, out: { buffer: 0 }, n: 10, bLen: 3 })).toThrow(/does not divide/)
  })
})
