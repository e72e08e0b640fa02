// `pnpm kernels --perf | --check [flags]`: the kernel runner. --check validates every perf case once against its CPU
// reference; --perf also times them (GPU timestamps) and writes results/kernels/<adapter>.{json,md}.
import { execFileSync } from "node:child_process"
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { adapterName, openGpu, type AdapterDescription, type DType, type GpuDevice } from "@djinn/gpu"
import { registry } from "../index.ts"
import { measure, quantile, type PerfCase } from "../testing/perf.ts"
import * as probe from "./bandwidth.ts"
import { perfCases } from "./cases.ts"
import { adapterSlug, markdown, type CaseResult, type Ceilings, type PerfRecord } from "./report.ts"

const USAGE = `usage: pnpm kernels (--perf | --check) [options]
  --perf                 time every case (validated before and after) and write results/kernels/<adapter>.{json,md}
  --check                validate every case once against its CPU reference (no timing)
  --small | --full       shape set (default: small on CPU adapters such as lavapipe, full otherwise)
  --filter TEXT          only cases whose "kernel variant shape" contains TEXT (comma-separated alternatives)
  --reps N               timed samples per case (default 20, at least 20 for reported numbers)
  --warmup N             untimed runs first (default 3)
  --warmup-ms MS         then keep warming up for this long, so the GPU reaches its boost clock (default 300)
  --no-validate          skip the CPU-reference checks around the timing
  --probes               only the tensor-core GEMM's timing probes beside its routed tile (wrong results by design:
                         no validation)
  --ceiling-gbps X       bandwidth ceiling for % (default: 3000 on GPUs, the probe's measurement on CPU adapters)
  --ceiling-tflops X     arithmetic ceiling for % (default: 60 on GPUs, none on CPU adapters)
  --ceiling-tensor-tflops X  tensor-core ceiling for f16 GEMMs where subgroup matrices exist (default 490: an
                         mma-only probe kernel on the H100, docs/perf-notes.md)
  --out NAME             result file name (default: from the adapter, e.g. lavapipe)
  --out-dir DIR          where results go (default: results/kernels under the working directory)
  --no-write             print only
  --backend NAME         Dawn backend (vulkan, metal, d3d12…)`

const flags = (() => {
  try {
    return parseArgs({
      options: {
        perf: { type: "boolean" }, check: { type: "boolean" }, small: { type: "boolean" }, full: { type: "boolean" },
        filter: { type: "string" }, reps: { type: "string" }, warmup: { type: "string" }, "warmup-ms": { type: "string" },
        "no-validate": { type: "boolean" }, probes: { type: "boolean" },
        "ceiling-gbps": { type: "string" }, "ceiling-tflops": { type: "string" }, "ceiling-tensor-tflops": { type: "string" }, out: { type: "string" }, "out-dir": { type: "string" },
        "no-write": { type: "boolean" }, backend: { type: "string" }, help: { type: "boolean", short: "h" },
      },
      strict: true,
    }).values
  } catch (error) {
    console.error(String(error instanceof Error ? error.message : error))
    console.error(USAGE)
    process.exit(2)
  }
})()

const positive = (name: string, raw: string | undefined, fallback: number | undefined): number | undefined => {
  if (raw === undefined) return fallback
  const v = Number(raw)
  if (!Number.isFinite(v) || v <= 0) {
    console.error(`--${name} must be a positive number, got '${raw}'`)
    process.exit(2)
  }
  return v
}

if (flags.help === true || (flags.perf !== true && flags.check !== true)) {
  console.log(USAGE)
  process.exit(flags.help === true ? 0 : 2)
}

const reps = Math.round(positive("reps", flags.reps, 20)!)
const warmup = Math.round(positive("warmup", flags.warmup, 3)!)
const warmupMs = positive("warmup-ms", flags["warmup-ms"], 300)!
const validateRuns = flags["no-validate"] !== true && flags.probes !== true
const minSampleUs = 1000

/** CPU adapters (Mesa's llvmpipe/lavapipe, SwiftShader) get the small shapes. */
const isCpuAdapter = (a: AdapterDescription): boolean =>
  a.architecture === "software" || /llvmpipe|lavapipe|swiftshader|\bcpu\b/i.test(`${a.device} ${a.description}`)

const gpu: GpuDevice = await openGpu(new Map([...registry, [probe.spec.id, probe.spec]]), {
  profiling: true,
  ...(flags.backend !== undefined ? { backend: flags.backend } : {}),
})
const name = adapterName(gpu.adapter)
const cpu = isCpuAdapter(gpu.adapter)
const small = flags.small === true || (flags.full !== true && cpu)
const dtypes: DType[] = gpu.adapter.f16 ? ["f16", "f32"] : ["f32"]
const filters = (flags.filter ?? "").split(",").map((f) => f.trim()).filter((f) => f !== "")
const cases = perfCases({ small, dtypes, probes: flags.probes === true }).filter((c) => filters.length === 0 || filters.some((f) => `${c.kernel} ${c.variant} ${c.shape}`.includes(f)))
const log = (line: string) => process.stderr.write(line + "\n")
log(`adapter: ${name}${cpu ? " (CPU)" : ""} · ${small ? "small" : "full"} shapes · ${cases.length} cases · f16 ${gpu.adapter.f16 ? "yes" : "no"} · subgroups ${gpu.adapter.subgroups ? "yes" : "no"} · timestamps ${gpu.adapter.timestamps ? "yes" : "no"}`)

const started = performance.now()
const message = (error: unknown) => (error instanceof Error ? error.message : String(error)).split("\n")[0]

const runCase = async (c: PerfCase, perf: boolean): Promise<CaseResult> => {
  const base = { kernel: c.kernel, variant: c.variant, shape: c.shape, bound: c.bound, bytes: c.bytes, flops: c.flops }
  const t0 = performance.now()
  let instance
  try {
    instance = await c.setup(gpu)
    const before = validateRuns || !perf ? await instance.validate() : undefined
    if (!perf) return { ...base, before }
    const timing = await measure(gpu, instance, { warmup, reps, minSampleUs, maxInner: 64, warmupMs })
    const after = validateRuns ? await instance.validate() : undefined
    const medianUs = quantile(timing.samplesUs, 0.5)
    return {
      ...base, before, after, inner: timing.inner, rotation: instance.rotation, samplesUs: timing.samplesUs,
      medianUs, p10Us: quantile(timing.samplesUs, 0.1), p90Us: quantile(timing.samplesUs, 0.9),
      gbps: c.bytes / medianUs / 1e3, tflops: c.flops / medianUs / 1e6,
    }
  } catch (error) {
    return { ...base, error: message(error) }
  } finally {
    instance?.dispose()
    try { await gpu.checkErrors() } catch (error) { log(`  (GPU error after ${c.kernel} ${c.shape}: ${message(error)})`) }
    log(`  ${c.kernel} ${c.variant} ${c.shape}: ${((performance.now() - t0) / 1000).toFixed(1)} s`)
  }
}

const perf = flags.perf === true
const results: CaseResult[] = []
for (const c of cases) results.push(await runCase(c, perf))

const probeGbps = results.find((r) => r.kernel === "bandwidth")?.gbps
const flagGbps = positive("ceiling-gbps", flags["ceiling-gbps"], undefined)
const flagTflops = positive("ceiling-tflops", flags["ceiling-tflops"], undefined)
const flagTensor = positive("ceiling-tensor-tflops", flags["ceiling-tensor-tflops"], undefined)
const tensorCores = !cpu && gpu.adapter.subgroupMatrix && gpu.adapter.f16
const ceilings: Ceilings = {
  ...(flagGbps !== undefined
    ? { gbps: flagGbps, gbpsSource: "flag" as const }
    : cpu && probeGbps !== undefined ? { gbps: probeGbps, gbpsSource: "probe" as const } : { gbps: 3000, gbpsSource: "default" as const }),
  ...(flagTflops !== undefined ? { tflops: flagTflops, tflopsSource: "flag" as const } : cpu ? {} : { tflops: 60, tflopsSource: "default" as const }),
  ...(probeGbps !== undefined ? { probeGbps } : {}),
  ...(flagTensor !== undefined ? { tensorTflops: flagTensor, tensorTflopsSource: "flag" as const } : tensorCores ? { tensorTflops: 490, tensorTflopsSource: "default" as const } : {}),
}
const judged = results.map((r): CaseResult => {
  if (r.medianUs === undefined) return r
  const arithmetic = r.bound === "tensor" && ceilings.tensorTflops !== undefined ? ceilings.tensorTflops : ceilings.tflops
  const pct = r.bound === "memory" ? (100 * r.gbps!) / ceilings.gbps : arithmetic !== undefined ? (100 * r.tflops!) / arithmetic : undefined
  return pct === undefined ? r : { ...r, pctCeiling: pct }
})

const commit = (() => {
  try { return execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim() } catch { return undefined }
})()
const record: PerfRecord = {
  kind: "djinn-kernels-perf",
  version: 1,
  date: new Date().toISOString(),
  adapter: name,
  description: gpu.adapter,
  mode: small ? "small" : "full",
  settings: { warmup, warmupMs, reps, minSampleUs },
  environment: { node: process.version, platform: `${process.platform}-${process.arch}`, ...(commit !== undefined ? { commit } : {}) },
  ceilings,
  wallSeconds: (performance.now() - started) / 1000,
  cases: judged,
}
const table = markdown(record)
if (perf) {
  console.log(table)
  if (flags["no-write"] !== true) {
    const dir = flags["out-dir"] ?? join("results", "kernels")
    mkdirSync(dir, { recursive: true })
    const slug = flags.out ?? adapterSlug(gpu.adapter, name)
    writeFileSync(join(dir, `${slug}.json`), JSON.stringify(record, null, 2) + "\n")
    writeFileSync(join(dir, `${slug}.md`), table)
    log(`wrote ${join(dir, slug)}.json and .md`)
  }
} else {
  for (const r of judged) {
    const v = r.before
    console.log(`${r.error !== undefined ? "ERROR" : v?.ok === true ? "ok   " : "FAIL "} ${r.kernel} ${r.variant} ${r.shape}${v !== undefined && v.checked > 0 ? ` error ${v.error.toExponential(2)} (tol ${v.tolerance.toExponential(0)}, ${v.checked} outputs)` : ""}${r.error !== undefined ? ` ${r.error}` : ""}`)
  }
}
const failed = judged.filter((r) => r.error !== undefined || r.before?.ok === false || r.after?.ok === false)
gpu.destroy()
if (failed.length > 0) log(`${failed.length} case(s) failed`)
process.exit(failed.length > 0 ? 1 : 0)
