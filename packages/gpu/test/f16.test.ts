import { describe, expect, it } from "vitest"
import { f16ToF32, f32ToF16, fromHalf, toHalf } from "../src/index.ts"

describe("f16 conversions", () => {
  it("f32ToF16 (fast, on the bits) equals the scalar reference toHalf: random bit patterns and edges", () => {
    let s = 12345
    const bits = Uint32Array.from({ length: 200_000 }, () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0))
    const random = new Float32Array(bits.buffer)
    const edges = Float32Array.from([0, -0, 1, -1.5, 65504, 65519.99, 65520, 65536, -65520, Infinity, -Infinity, 6.1e-5, 5.96e-8, 2.98e-8, 2.99e-8, 1e-10, 1 / 3])
    for (const values of [random, edges]) {
      const fast = f32ToF16(values)
      const differ = [...fast.keys()].filter((i) => !Number.isNaN(values[i]) && fast[i] !== toHalf(values[i]))
      expect(differ.map((i) => values[i])).toEqual([])
      expect([...fast.keys()].filter((i) => Number.isNaN(values[i])).every((i) => (fast[i] & 0x7c00) === 0x7c00 && (fast[i] & 0x3ff) !== 0)).toBe(true)
    }
  })
  it("round-trips every finite half exactly", () => {
    const all = Uint16Array.from({ length: 0x10000 }, (_, i) => i).filter((h) => (h & 0x7c00) !== 0x7c00)
    const back = f32ToF16(f16ToF32(all))
    expect([...back.keys()].filter((i) => back[i] !== all[i] && !(all[i] === 0x8000 && back[i] === 0x8000))).toEqual([])
    expect(fromHalf(0x3c00)).toBe(1)
  })
  it("f16ToF32 (on the bits) equals the scalar reference fromHalf for all 65536 halves, signed zeros and NaN included", () => {
    const all = Uint16Array.from({ length: 0x10000 }, (_, i) => i)
    const fast = f16ToF32(all)
    const differ = [...all].filter((h) => !Object.is(fast[h], fromHalf(h)))
    expect(differ).toEqual([])
    // Short inputs take the same path.
    expect(Array.from(f16ToF32(Uint16Array.from([0x3c00, 0xc000, 0x0001, 0x8000, 0x7c00, 0x7e00])))).toEqual([1, -2, 2 ** -24, -0, Infinity, NaN])
  })
})
