import { describe, expect, it } from "vitest"
import { dtypesOf, guardedOutput, randomFloats, randomInts, relError, roundF16, testDevice, tolerance, upload } from "../testing/harness.ts"
import { encode, reference } from "./embedding.ts"

describe("embedding", async () => {
  const gpu = await testDevice()
  // [T, D, vocab, idsOffset, positions (0: no POS), posOffset]
  const cases: [number, number, number, number, number, number][] = [
    [1, 1, 2, 0, 0, 0],
    [7, 2, 50, 3, 8, 1],
    [13, 31, 97, 5, 0, 0],
    [37, 64, 1000, 1, 40, 20], // rows 40.. are past the end of pos: they add nothing
    [5, 768, 11, 0, 1024, 1019],
  ]
  for (const dtype of dtypesOf(gpu)) {
    for (const [T, D, vocab, idsOffset, positions, posOffset] of cases) {
      it(`${dtype} T=${T} D=${D} vocab=${vocab}${positions > 0 ? ` POS from ${posOffset}` : ""}`, async () => {
        let table = randomFloats(vocab * D, T + D)
        let pos = positions > 0 ? randomFloats(positions * D, D) : undefined
        if (dtype === "f16") { table = roundF16(table); pos = pos && roundF16(pos) }
        const ids = randomInts(idsOffset + T, T, vocab)
        // Out-of-range ids write zero rows.
        if (T > 3) { ids[idsOffset + 1] = -1; ids[idsOffset + 2] = vocab; ids[idsOffset + 3] = 2 ** 31 - 1 }
        const out = guardedOutput(gpu, T * D, dtype)
        encode(gpu, {
          table: upload(gpu, table, dtype), ids: upload(gpu, ids, "i32"), out: out.binding, T, D, idsOffset, dtype,
          ...(pos ? { pos: upload(gpu, pos, dtype), posOffset } : {}),
        })
        const got = await out.read()
        const ref = reference(table, ids, { T, D, idsOffset, pos, posOffset })
        expect(relError(got, ref)).toBeLessThan(tolerance(dtype))
        if (T > 3) expect(got.slice(D, 4 * D).every((v) => v === 0)).toBe(true)
      })
    }
  }
})
