/**
 * The kernel runner's perf mode (the test runner's other half, as in llama.cpp's test-backend-ops): a case sets up
 * its inputs once, encodes one run at a time (rotating inputs so that repeated runs do not measure a cache), and
 * validates against its CPU reference before and after measuring. Time is GPU time from timestamp queries.
 */
import type { GpuDevice } from "@djinn/gpu"

export interface Validation {
  readonly ok: boolean
  /** Normalised error ‖out − ref‖ / ‖ref‖ over the checked elements. */
  readonly error: number
  readonly tolerance: number
  /** How many output elements were compared. */
  readonly checked: number
}

export interface PerfInstance {
  /** Records one run (the i-th: cases rotate among their input sets); the caller submits. */
  encode(i: number): void
  /** How many distinct input sets `encode` rotates through. */
  readonly rotation: number
  /** Runs once more and checks the output against the CPU reference. */
  validate(): Promise<Validation>
  dispose(): void
}

export interface PerfCase {
  readonly kernel: string
  readonly variant: string
  readonly shape: string
  /** Bytes a run must move: inputs read once, outputs written once. */
  readonly bytes: number
  readonly flops: number
  /** Which ceiling the case is judged against. */
  readonly bound: "memory" | "compute" | "tensor"
  setup(gpu: GpuDevice): Promise<PerfInstance>
}

export interface TimingOptions {
  readonly warmup: number
  readonly reps: number
  /** Each sample is a submit of at least this much GPU time (µs), runs averaged, so launch overhead stays small. */
  readonly minSampleUs: number
  /** At most this many runs per sample. */
  readonly maxInner: number
  /**
   * Keep warming up, back to back, for at least this long (ms of wall time): GPUs idle at low clocks between cases
   * and take tens to hundreds of milliseconds of steady load to reach their boost clock.
   */
  readonly warmupMs: number
}

export interface Timing {
  /** GPU µs per run, one entry per sample. */
  readonly samplesUs: readonly number[]
  /** Runs per sample. */
  readonly inner: number
}

/**
 * Submits what is recorded and waits for it. Perf code keeps one timed submit in flight at a time: the device's
 * timestamp resolve for a second submit before `finish` lands at a 16-byte offset, which WebGPU rejects (it needs
 * 256), so each submit here is followed by `finish`.
 */
export const settle = async (gpu: GpuDevice): Promise<number> => {
  gpu.submit()
  return (await gpu.finish()).gpuMs
}

/** Times a case's runs with GPU timestamps: warm-up, then `reps` samples of `inner` runs each in one submit. */
export const measure = async (gpu: GpuDevice, instance: PerfInstance, options: TimingOptions): Promise<Timing> => {
  let run = 0
  const sample = async (inner: number): Promise<number> => {
    for (let j = 0; j < inner; j++) instance.encode(run++)
    return ((await settle(gpu)) * 1000) / inner
  }
  await gpu.finish()
  let oneUs = Infinity
  for (let i = 0; i < Math.max(1, options.warmup); i++) oneUs = Math.min(oneUs, await sample(1))
  if (!(oneUs > 0)) throw new Error("no GPU time measured: the adapter lacks timestamp queries or the device was not opened with profiling")
  const inner = Math.max(1, Math.min(options.maxInner, Math.ceil(options.minSampleUs / oneUs)))
  const warmStart = performance.now()
  do await sample(inner)
  while (performance.now() - warmStart < options.warmupMs)
  const samplesUs: number[] = []
  for (let i = 0; i < options.reps; i++) samplesUs.push(await sample(inner))
  await gpu.checkErrors()
  return { samplesUs, inner }
}

export const quantile = (values: readonly number[], q: number): number => {
  const sorted = [...values].sort((a, b) => a - b)
  if (sorted.length === 0) return NaN
  const pos = (sorted.length - 1) * q
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo)
}

export const median = (values: readonly number[]): number => quantile(values, 0.5)
