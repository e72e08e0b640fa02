/** The perf run's record (one JSON file per adapter) and its markdown table. */
import type { AdapterDescription } from "@djinn/gpu"
import type { Validation } from "../testing/perf.ts"

export interface CaseResult {
  readonly kernel: string
  readonly variant: string
  readonly shape: string
  /** memory: judged by bandwidth; compute: by the FMA rate; tensor: by the tensor-core rate (f16 GEMMs that may take subgroup matrices). */
  readonly bound: "memory" | "compute" | "tensor"
  readonly bytes: number
  readonly flops: number
  /** Runs per timed sample (averaged within a submit) and input sets rotated through. */
  readonly inner?: number
  readonly rotation?: number
  /** Raw GPU µs per run, one per sample; statistics below are computed from these. */
  readonly samplesUs?: readonly number[]
  readonly medianUs?: number
  readonly p10Us?: number
  readonly p90Us?: number
  readonly gbps?: number
  readonly tflops?: number
  /** Percent of the ceiling of the case's bound (bandwidth or arithmetic). */
  readonly pctCeiling?: number
  readonly before?: Validation
  readonly after?: Validation
  /** Why the case did not run or failed (recorded, not thrown). */
  readonly error?: string
}

export interface Ceilings {
  /** Bandwidth (GB/s) the memory-bound cases are judged against, and where the figure comes from. */
  readonly gbps: number
  readonly gbpsSource: "flag" | "default" | "probe"
  /** Arithmetic rate (TFLOP/s) for the compute-bound cases; none on CPU adapters unless given. */
  readonly tflops?: number
  readonly tflopsSource?: "flag" | "default"
  /** Tensor-core rate (TFLOP/s) for f16 GEMMs where the adapter has subgroup matrices. */
  readonly tensorTflops?: number
  readonly tensorTflopsSource?: "flag" | "default"
  /** What the probe measured in this run. */
  readonly probeGbps?: number
}

export interface PerfRecord {
  readonly kind: "djinn-kernels-perf"
  readonly version: 1
  readonly date: string
  readonly adapter: string
  readonly description: AdapterDescription
  readonly mode: "full" | "small"
  readonly settings: { readonly warmup: number; readonly warmupMs: number; readonly reps: number; readonly minSampleUs: number }
  readonly environment: { readonly node: string; readonly platform: string; readonly commit?: string }
  readonly ceilings: Ceilings
  readonly wallSeconds: number
  readonly cases: readonly CaseResult[]
}

const fixed = (v: number | undefined, digits: number): string => (v === undefined || !Number.isFinite(v) ? "–" : v.toFixed(digits))
/** Three significant digits, no exponent for the ranges seen here (CPU adapters run at a thousandth of a GPU). */
const sig = (v: number | undefined): string => {
  if (v === undefined || !Number.isFinite(v)) return "–"
  if (v === 0 || Math.abs(v) >= 100) return v.toFixed(0)
  return v.toFixed(Math.min(6, 2 - Math.floor(Math.log10(Math.abs(v)))))
}

const check = (r: CaseResult): string => {
  if (r.error !== undefined) return `error: ${r.error.replaceAll("|", "/").slice(0, 80)}`
  const worst = [r.before, r.after].filter((v) => v !== undefined && v.checked > 0) as Validation[]
  if (worst.length === 0) return "–"
  const bad = worst.find((v) => !v.ok)
  const e = Math.max(...worst.map((v) => v.error))
  return bad === undefined ? `ok ${e.toExponential(1)}` : `FAIL ${e.toExponential(1)} > ${bad.tolerance.toExponential(0)}`
}

export const markdown = (record: PerfRecord): string => {
  const c = record.ceilings
  const lines = [
    `# Kernel perf: ${record.adapter}`,
    "",
    `${record.date} · ${record.mode} shapes · median of ${record.settings.reps} samples after ≥ ${record.settings.warmup} warm-up runs and ${record.settings.warmupMs} ms (GPU timestamps) · ${record.wallSeconds.toFixed(1)} s wall`,
    "",
    `Ceilings: bandwidth ${sig(c.gbps)} GB/s (${c.gbpsSource})` +
      (c.tflops !== undefined ? `, arithmetic ${c.tflops} TFLOP/s (${c.tflopsSource})` : ", arithmetic: none given") +
      (c.tensorTflops !== undefined ? `, tensor cores ${c.tensorTflops} TFLOP/s (${c.tensorTflopsSource})` : "") +
      (c.probeGbps !== undefined ? `; the probe measured ${sig(c.probeGbps)} GB/s read` : ""),
    "",
    "| kernel | variant | shape (M×N×K) | median µs | GB/s | TFLOP/s | % ceiling | check |",
    "| --- | --- | --- | ---: | ---: | ---: | ---: | --- |",
  ]
  for (const r of record.cases) {
    lines.push(`| ${r.kernel} | ${r.variant} | ${r.shape} | ${fixed(r.medianUs, 1)} | ${sig(r.gbps)} | ${r.flops > 0 ? sig(r.tflops) : "–"} | ${fixed(r.pctCeiling, 0)} | ${check(r)} |`)
  }
  lines.push("", "GB/s counts the bytes a run must move (W, x and b read once, y written once); % ceiling is against bandwidth for memory-bound cases (gemv, probe) and arithmetic for compute-bound ones (matmul: the tensor-core ceiling for f16 where subgroup matrices exist).")
  return lines.join("\n") + "\n"
}

/** A file name for the adapter: `lavapipe` for Mesa's CPU driver, else its name in lower-case words. */
export const adapterSlug = (a: AdapterDescription, name: string): string => {
  if (/llvmpipe|lavapipe/i.test(name)) return "lavapipe"
  if (/swiftshader/i.test(name)) return "swiftshader"
  return name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 60) || a.backend
}
