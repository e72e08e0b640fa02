import { describe, expect, it } from "vitest"
import { simdF16ToF32 } from "../src/f16-simd.ts"
import { f16ToF32, f16ToF32Scalar, f32ToF16, fromHalf, toHalf } from "../src/index.ts"

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
  it("f16ToF32 and its scalar path equal the reference fromHalf for all 65536 halves, signed zeros and NaN included", () => {
    const all = Uint16Array.from({ length: 0x10000 }, (_, i) => i)
    for (const convert of [f16ToF32, f16ToF32Scalar]) {
      const fast = convert(all)
      const differ = [...all].filter((h) => !Object.is(fast[h], fromHalf(h)))
      expect(differ).toEqual([])
    }
    // Short inputs (the scalar path below SIMD_MIN).
    expect(Array.from(f16ToF32(Uint16Array.from([0x3c00, 0xc000, 0x0001, 0x8000, 0x7c00, 0x7e00])))).toEqual([1, -2, 2 ** -24, -0, Infinity, NaN])
  })
  it("the WebAssembly SIMD path gives the scalar path's bits for every half, at every length around its lanes and chunks", () => {
    // Node 22 (and every runtime the tests run on) has WebAssembly SIMD: its absence would be a regression here.
    expect(simdF16ToF32).toBeDefined()
    const simd = simdF16ToF32!
    /** Indices where the two conversions' bits differ (NaN's too: the canonical quiet NaN, as the scalar path writes). */
    const differ = (halves: Uint16Array): number[] => {
      const a = simd(halves), b = f16ToF32Scalar(halves)
      expect(a.length).toBe(halves.length)
      const x = new Uint32Array(a.buffer, a.byteOffset, a.length), y = new Uint32Array(b.buffer, b.byteOffset, b.length)
      const out: number[] = []
      for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) out.push(i)
      return out
    }
    expect(differ(Uint16Array.from({ length: 0x10000 }, (_, i) => i))).toEqual([])
    let s = 7
    const random = Uint16Array.from({ length: 3 * 65536 + 11 }, () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 16)
    for (const n of [1, 7, 8, 9, 511, 512, 513, 65535, 65536, 65537, 2 * 65536 + 5, random.length]) {
      // An offset view, not the buffer's start.
      expect(differ(random.subarray(3, 3 + Math.min(n, random.length - 3)))).toEqual([])
    }
  })
})
