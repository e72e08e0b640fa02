// Summary statistics from raw samples. Every aggregate in a result file comes from here.

export interface Summary {
  readonly n: number
  readonly mean: number
  readonly median: number
  readonly p95: number
  readonly p99: number
  readonly min: number
  readonly max: number
  /** Sample standard deviation (divisor n − 1, numpy's `std(ddof=1)`); null for a single sample, where it is undefined. */
  readonly stddev: number | null
}

const ascending = (a: number, b: number) => a - b

const assertFinite = (samples: ReadonlyArray<number>): void => {
  for (const x of samples) {
    if (!Number.isFinite(x)) throw new RangeError(`stats: non-finite sample ${x}`)
  }
}

/**
 * The q-quantile (0 ≤ q ≤ 1) of samples already sorted ascending, by linear interpolation between the closest ranks:
 * numpy's default (`method="linear"`, R type 7). Position h = (n − 1)·q; result x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋]).
 */
export const quantileSorted = (sorted: ReadonlyArray<number>, q: number): number => {
  if (sorted.length === 0) throw new RangeError("stats: quantile of no samples")
  if (!(q >= 0 && q <= 1)) throw new RangeError(`stats: quantile ${q} outside [0, 1]`)
  const h = (sorted.length - 1) * q
  const lo = Math.floor(h)
  const hi = Math.min(lo + 1, sorted.length - 1)
  const t = h - lo
  if (t === 0) return sorted[lo]
  const a = sorted[lo]
  const b = sorted[hi]
  // numpy's _lerp: interpolate from the nearer end so that t = 1 gives b exactly and the result stays in [a, b].
  return t >= 0.5 ? b - (b - a) * (1 - t) : a + (b - a) * t
}

export const quantile = (samples: ReadonlyArray<number>, q: number): number => {
  assertFinite(samples)
  return quantileSorted([...samples].sort(ascending), q)
}

/** Neumaier-compensated sum: a mean over many similar latencies should not drift with order. */
const sum = (xs: ReadonlyArray<number>): number => {
  let s = 0
  let c = 0
  for (const x of xs) {
    const t = s + x
    c += Math.abs(s) >= Math.abs(x) ? (s - t) + x : (x - t) + s
    s = t
  }
  return s + c
}

export const mean = (samples: ReadonlyArray<number>): number => {
  if (samples.length === 0) throw new RangeError("stats: mean of no samples")
  assertFinite(samples)
  return sum(samples) / samples.length
}

/** Sample standard deviation (n − 1), two-pass for numerical stability; null when n < 2. */
export const stddev = (samples: ReadonlyArray<number>): number | null => {
  if (samples.length < 2) return null
  // Identical samples: exactly 0, not the rounding residue of (x − mean(x)).
  if (samples.every((x) => x === samples[0])) return 0
  const m = mean(samples)
  return Math.sqrt(sum(samples.map((x) => (x - m) ** 2)) / (samples.length - 1))
}

/** All aggregates of one metric; null when there are no samples (e.g. a server breakdown a baseline doesn't report). */
export const summarize = (samples: ReadonlyArray<number>): Summary | null => {
  if (samples.length === 0) return null
  assertFinite(samples)
  // `+ 0` folds −0 into 0 (they sort as equals, so which one a quantile picks would depend on the samples' order).
  const sorted = samples.map((x) => x + 0).sort(ascending)
  // Clamp: compensated mean can land an ulp outside [min, max] for near-constant samples.
  const m = Math.min(Math.max(mean(sorted), sorted[0]), sorted[sorted.length - 1])
  return {
    n: sorted.length,
    mean: m,
    median: quantileSorted(sorted, 0.5),
    p95: quantileSorted(sorted, 0.95),
    p99: quantileSorted(sorted, 0.99),
    min: sorted[0],
    max: sorted[sorted.length - 1],
    stddev: stddev(sorted),
  }
}
