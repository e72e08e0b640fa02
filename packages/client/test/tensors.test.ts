// Tensors as the client sends and receives them: the fast f16 conversion, wire tensors from typed arrays, and the
// names of a forward's outputs.
import { toHalf } from "@djinn/gpu"
import { describe, expect, it } from "vitest"
import { outputNames, tensorValues, toF16, wireTensor } from "../src/index.ts"

describe("client tensors", () => {
  it("toF16 gives the scalar reference toHalf bit for bit: random bit patterns (subnormals, NaN, Inf included) and edges", () => {
    let s = 12345
    const bits = Uint32Array.from({ length: 200_000 }, () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0))
    const random = new Float32Array(bits.buffer)
    const edges = Float32Array.from([0, -0, 1, -1.5, 65504, 65519.99, 65520, 65536, -65520, Infinity, -Infinity, 6.1e-5, 5.96e-8, 2.98e-8, 2.99e-8, 1e-10, 1 / 3])
    for (const values of [random, edges]) {
      const fast = toF16(values), ref = Uint16Array.from(values, (v) => toHalf(v))
      const differ = [...fast.keys()].filter((i) => fast[i] !== ref[i] && !Number.isNaN(values[i]))
      expect(differ.map((i) => values[i])).toEqual([])
      expect([...fast.keys()].filter((i) => Number.isNaN(values[i])).every((i) => (fast[i] & 0x7c00) === 0x7c00 && (fast[i] & 0x3ff) !== 0)).toBe(true)
    }
  })

  it("wire tensors take their dtype from the typed array and check the byte count", () => {
    expect(wireTensor("x", { shape: [2], data: Int32Array.from([1, 2]) })).toMatchObject({ dtype: "i32", shape: [2] })
    expect(wireTensor("x", { shape: [1, 2], data: Float32Array.from([1, 2]) }).dtype).toBe("f32")
    expect(() => wireTensor("x", { shape: [3], data: Int32Array.from([1, 2]) })).toThrow(/8 bytes for shape \[3\] of i32 \(needs 12\)/)
    const half = { dtype: "f16" as const, shape: [2], data: new Uint8Array(toF16(Float32Array.from([0.5, -2])).buffer) }
    expect(Array.from(tensorValues(wireTensor("h", half)))).toEqual([0.5, -2])
  })

  it("names outputs in the server's order: encoders by a rank-3 first output, everything else logits", () => {
    expect(outputNames([[2, 16, 64], [2, 64]])).toEqual(["last_hidden_state", "pooler_output"])
    expect(outputNames([[2, 16, 64]])).toEqual(["last_hidden_state"])
    expect(outputNames([[8, 1000]])).toEqual(["logits"])
    expect(outputNames([])).toEqual([])
  })
})
