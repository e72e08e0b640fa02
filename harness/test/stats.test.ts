import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { mean, quantile, stddev, summarize } from "../src/stats.ts"

// The straightforward reference: sort, numpy's linear rule, naive sums.
const ref = {
  quantile: (xs: ReadonlyArray<number>, q: number) => {
    const s = [...xs].sort((a, b) => a - b)
    const h = (s.length - 1) * q
    const lo = Math.floor(h)
    const hi = Math.min(lo + 1, s.length - 1)
    return s[lo] + (h - lo) * (s[hi] - s[lo])
  },
  mean: (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0) / xs.length,
  stddev: (xs: ReadonlyArray<number>) => {
    const m = ref.mean(xs)
    return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1))
  },
}

const samples = fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 200 })
const close = (a: number, b: number, scale: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, scale)
const scaleOf = (xs: ReadonlyArray<number>) => Math.max(...xs.map(Math.abs))

describe("stats", () => {
  it("matches numpy on 1..10 (percentile 95 = 9.55, 99 = 9.91, std ddof=1)", () => {
    const xs = [3, 1, 4, 10, 5, 9, 2, 6, 8, 7]
    expect(summarize(xs)).toEqual({
      n: 10, mean: 5.5, median: 5.5, p95: expect.closeTo(9.55, 12), p99: expect.closeTo(9.91, 12), min: 1, max: 10, stddev: expect.closeTo(3.0276503540974917, 12),
    })
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5)
    expect(quantile([7], 0.99)).toBe(7)
  })

  it("quantiles, mean and stddev agree with the reference", () => {
    fc.assert(fc.property(samples, fc.double({ min: 0, max: 1, noNaN: true }), (xs, q) => {
      const s = scaleOf(xs)
      expect(close(quantile(xs, q), ref.quantile(xs, q), s)).toBe(true)
      expect(close(mean(xs), ref.mean(xs), s)).toBe(true)
      const sd = stddev(xs)
      if (xs.length < 2) expect(sd).toBeNull()
      else expect(close(sd!, ref.stddev(xs), s)).toBe(true)
    }))
  })

  it("summary is ordered, bounded and independent of sample order", () => {
    fc.assert(fc.property(samples, (xs) => {
      const a = summarize(xs)!
      expect(a.n).toBe(xs.length)
      expect(a.min).toBeLessThanOrEqual(a.median)
      expect(a.median).toBeLessThanOrEqual(a.p95)
      expect(a.p95).toBeLessThanOrEqual(a.p99)
      expect(a.p99).toBeLessThanOrEqual(a.max)
      expect(a.mean).toBeGreaterThanOrEqual(a.min)
      expect(a.mean).toBeLessThanOrEqual(a.max)
      const b = summarize([...xs].reverse())!
      expect(b.median).toBe(a.median)
      expect(b.p95).toBe(a.p95)
      expect(b.p99).toBe(a.p99)
    }))
  })

  it("constant samples give that constant and zero spread", () => {
    fc.assert(fc.property(fc.double({ min: -1e9, max: 1e9, noNaN: true }), fc.integer({ min: 2, max: 50 }), (x, n) => {
      const s = summarize(Array.from({ length: n }, () => x))!
      // `+ 0` folds −0 into 0: the sign of a zero is not a statistic.
      expect([s.mean, s.median, s.p95, s.p99, s.min, s.max].map((v) => v + 0)).toEqual(Array(6).fill(x + 0))
      expect(s.stddev).toBe(0)
    }))
  })

  it("no samples is null; non-finite samples are refused", () => {
    expect(summarize([])).toBeNull()
    expect(() => summarize([1, Number.NaN])).toThrow(RangeError)
    expect(() => quantile([1, 2], 1.5)).toThrow(RangeError)
  })
})
