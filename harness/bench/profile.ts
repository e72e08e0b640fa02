// Where the native baseline's time goes, workload by workload: the same model, inputs and engine calls as the sweep's
// `native` (runInput on a pooled memory), measured four ways on one GPU:
//   wall_ms      — runInput end to end (what the sweep reports as native), median of --reps after one warm-up;
//   record_ms    — the synchronous part of that call: recording, encoding and submitting on the CPU, until the first await;
//   gpu_ms       — the GPU time of its submits (timestamp queries around each submit);
//   kernels      — every dispatch in its own timestamped pass (one more run): time per kernel variant, largest first.
// For causal LMs, --decode N also times a generate of N new tokens after the same prompt and reports the per-token
// steady cost (wall(N) − wall(1)) / (N − 1).
//
// --backend null runs on Dawn's null backend (no GPU work; it offers f16, subgroups and subgroup matrices, so the models
// take the H100's paths): record_ms is then the host's CPU alone, without a software GPU competing for the cores.
// --replay-ab alternates reps with forward replay on and off (WebGpuDevice.setReplay; DJINN_REPLAY=0 turns it off for
// a whole run): the medians of the replayed reps are the row's, those of the others go under `replay_off`.
// --cpu-prof F writes a V8 CPU profile of the timed reps only (warm-up and pipeline compilation left out), one file per
// workload (F with the workload's name before the extension), for chrome://inspect or a script.
//
//   node harness/bench/profile.ts --config configs/overhead_hf_smoke.yaml [--only a,b] [--reps 5] [--decode 64] [--out f.json]
import { readFileSync, writeFileSync } from "node:fs"
import { Session } from "node:inspector/promises"
import { adapterName, openGpu, WebGpuDevice, type DispatchSample } from "@djinn/gpu"
import { loadModel, pooledMemory } from "@djinn/engine"
import { registry } from "@djinn/kernels"
import { Effect } from "effect"
import { parseConfig } from "../src/config.ts"
import { pickDtype, resolveSource, runInput } from "../src/engine/host.ts"
import { pixels, workInput, type WorkInput } from "../src/engine/work.ts"
import { modelConfigOf, modelSourceFor } from "../src/sweep/job.ts"

interface Options {
  config: string; only?: Set<string>; reps: number; decode: number; out?: string; top: number
  /** As the sweep runs: a new input per rep (made before the clock) and no GPU drain between reps. */
  sweepLike: boolean
  /** With --sweep-like: wait for the queue to drain between reps anyway (untimed). */
  drain: boolean
  cpuProf?: string
  backend?: string
  replayAb: boolean
}

const parseArgs = (argv: readonly string[]): Options => {
  const o: Options = { config: "configs/overhead_hf_smoke.yaml", reps: 5, decode: 0, top: 14, sweepLike: false, drain: false, replayAb: false }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const value = () => { const v = argv[++i]; if (v === undefined) throw new Error(`${a} needs a value`); return v }
    if (a === "--config") o.config = value()
    else if (a === "--only") o.only = new Set(value().split(","))
    else if (a === "--reps") o.reps = Math.max(1, Number(value()))
    else if (a === "--decode") o.decode = Math.max(0, Number(value()))
    else if (a === "--out") o.out = value()
    else if (a === "--top") o.top = Number(value())
    else if (a === "--sweep-like") o.sweepLike = true
    else if (a === "--drain") o.drain = true
    else if (a === "--cpu-prof") o.cpuProf = value()
    else if (a === "--backend") o.backend = value()
    else if (a === "--replay-ab") o.replayAb = true
    else throw new Error(`unknown argument ${a} (--config F, --only a,b, --reps N, --decode N, --out F, --top N, --sweep-like, --drain, --cpu-prof F, --backend B, --replay-ab)`)
  }
  return o
}

/** A V8 CPU profile of what `run` does, written to `file` (sampling every 100 µs). */
const cpuProfiled = async <A>(file: string | undefined, run: () => Promise<A>): Promise<A> => {
  if (file === undefined) return await run()
  const session = new Session()
  session.connect()
  await session.post("Profiler.enable")
  await session.post("Profiler.setSamplingInterval", { interval: 100 })
  await session.post("Profiler.start")
  try {
    return await run()
  } finally {
    const { profile } = await session.post("Profiler.stop")
    writeFileSync(file, JSON.stringify(profile))
    session.disconnect()
  }
}

const median = (xs: readonly number[]): number => { const s = [...xs].sort((a, b) => a - b); return s.length === 0 ? NaN : s[Math.floor(s.length / 2)] }

/** Kernel variants by total GPU time. */
const byKernel = (samples: readonly DispatchSample[]) => {
  const m = new Map<string, { count: number; ns: number; workgroups: string }>()
  for (const s of samples) {
    const e = m.get(s.label) ?? { count: 0, ns: 0, workgroups: s.workgroups.join("x") }
    e.count++
    e.ns += s.ns
    m.set(s.label, e)
  }
  return [...m.entries()].map(([label, e]) => ({ label, count: e.count, us: e.ns / 1e3, workgroups: e.workgroups })).sort((a, b) => b.us - a.us)
}

const printKernels = (kernels: ReturnType<typeof byKernel>) => {
  for (const k of kernels) console.error(`  ${k.us.toFixed(1).padStart(10)} µs  ×${String(k.count).padStart(4)}  ${k.label}  [${k.workgroups}]`)
}

const main = async () => {
  const o = parseArgs(process.argv.slice(2))
  const loaded = Effect.runSync(parseConfig(readFileSync(o.config, "utf8"), o.config))
  // DJINN_PROFILE_TIMESTAMPS=0: no timestamp queries (as the sweep opens the GPU); gpu_ms is then NaN.
  const timestamps = process.env.DJINN_PROFILE_TIMESTAMPS !== "0"
  const gpu = await openGpu(registry, { profiling: timestamps, backend: o.backend })
  if (!(gpu instanceof WebGpuDevice)) throw new Error("profiling needs a WebGpuDevice")
  const results: Record<string, unknown>[] = []
  // Time spent in readbacks (from the call, which submits what is recorded, to the resolved promise).
  const reads = { ms: 0, count: 0 }
  const read = gpu.read.bind(gpu)
  gpu.read = async (buffer, offset, size) => {
    const t0 = performance.now()
    try { return await read(buffer, offset, size) } finally { reads.ms += performance.now() - t0; reads.count++ }
  }
  try {
    for (const w of loaded.config.workloads) {
      if (o.only !== undefined && !o.only.has(w.name)) continue
      const source = modelSourceFor(w, loaded.config.experiment.seed)
      const mem = pooledMemory(gpu)
      const dtype = pickDtype(gpu, w.dtype)
      const model = loadModel(gpu, mem, resolveSource(source), dtype)
      await gpu.finish()
      await gpu.checkErrors()
      const input = workInput(w, loaded.config.experiment.seed, 0, modelConfigOf(source))
      const images = input.kind === "classify" ? pixels(input) : undefined
      const once = async (x: WorkInput, xImages = images) => {
        reads.ms = 0
        reads.count = 0
        gpu.takeCpuStats()
        const t0 = performance.now()
        const pending = runInput(gpu, mem, model, x, xImages)
        const record = performance.now() - t0
        await pending
        const wall = performance.now() - t0
        const readMs = reads.ms, readCount = reads.count, cpu = gpu.takeCpuStats()
        const { gpuMs } = o.sweepLike ? { gpuMs: NaN } : await gpu.finish()
        return { wall, record, gpuMs, readMs, readCount, cpu }
      }
      // Two warm-ups: a forward replays from its third time (seen, captured, replayed).
      await once(input)
      await once(input)
      const runs: Awaited<ReturnType<typeof once>>[] = []
      const off: typeof runs = []
      const profFile = o.cpuProf?.replace(/(\.cpuprofile)?$/, `.${w.name}.cpuprofile`)
      await cpuProfiled(profFile, async () => {
        for (let i = 0; i < (o.replayAb ? 2 * o.reps : o.reps); i++) {
          if (o.replayAb) gpu.setReplay(i % 2 === 0)
          const into = o.replayAb && i % 2 === 1 ? off : runs
          if (!o.sweepLike) { into.push(await once(input)); continue }
          const x = workInput(w, loaded.config.experiment.seed, i + 1, modelConfigOf(source))
          into.push(await once(x, x.kind === "classify" ? pixels(x) : undefined))
          if (o.drain) await gpu.finish()
        }
      })
      if (o.replayAb) gpu.setReplay(true)
      gpu.setDispatchProfiling(timestamps)
      await runInput(gpu, mem, model, input, images)
      const samples = timestamps ? await gpu.takeDispatchProfile() : []
      gpu.setDispatchProfiling(false)
      const kernels = byKernel(samples)
      const r: Record<string, unknown> = {
        workload: w.name, dtype,
        wall_ms: median(runs.map((r) => r.wall)), record_ms: median(runs.map((r) => r.record)), gpu_ms: median(runs.map((r) => r.gpuMs)),
        read_ms: median(runs.map((r) => r.readMs)), reads: runs[0]?.readCount,
        // Per run (medians): the CPU inside submits — uniforms upload, encoding the commands, finish, queue.submit.
        flush_cpu: {
          flushes: runs[0]?.cpu.flushes, commands: runs[0]?.cpu.commands, bind_groups_created: runs.map((r) => r.cpu.bindGroupsCreated),
          uniforms_ms: median(runs.map((r) => r.cpu.uniformsMs)), encode_ms: median(runs.map((r) => r.cpu.encodeMs)),
          finish_ms: median(runs.map((r) => r.cpu.finishMs)), submit_ms: median(runs.map((r) => r.cpu.submitMs)),
          // Forwards replayed from a recording (GpuDevice.replay; DJINN_REPLAY=0 turns it off) and captures made.
          replays: runs.reduce((a, r) => a + r.cpu.replays, 0), captures: runs.reduce((a, r) => a + r.cpu.captures, 0),
        },
        wall_samples: runs.map((r) => +r.wall.toFixed(3)),
        replay_off: off.length === 0 ? undefined : {
          wall_ms: median(off.map((r) => r.wall)), record_ms: median(off.map((r) => r.record)), gpu_ms: median(off.map((r) => r.gpuMs)),
          read_ms: median(off.map((r) => r.readMs)), encode_ms: median(off.map((r) => r.cpu.encodeMs)), replays: off.reduce((a, r) => a + r.cpu.replays, 0),
          wall_samples: off.map((r) => +r.wall.toFixed(3)),
        },
        dispatches: samples.length, kernel_sum_ms: samples.reduce((a, s) => a + s.ns, 0) / 1e6,
        kernels: kernels.slice(0, o.top),
      }
      if (o.decode > 1 && input.kind === "generate") {
        const long: WorkInput = { ...input, newTokens: o.decode }
        const short: WorkInput = { ...input, newTokens: 1 }
        await once(long)
        const l = [], s = []
        for (let i = 0; i < o.reps; i++) { l.push(await once(long)); s.push(await once(short)) }
        const perToken = (median(l.map((x) => x.wall)) - median(s.map((x) => x.wall))) / (o.decode - 1)
        const gpuPerToken = (median(l.map((x) => x.gpuMs)) - median(s.map((x) => x.gpuMs))) / (o.decode - 1)
        const recordPerToken = (median(l.map((x) => x.record)) - median(s.map((x) => x.record))) / (o.decode - 1)
        gpu.setDispatchProfiling(true)
        await runInput(gpu, mem, model, short, images)
        const shortSamples = await gpu.takeDispatchProfile()
        await runInput(gpu, mem, model, { ...input, newTokens: 2 }, images)
        const twoSamples = await gpu.takeDispatchProfile()
        gpu.setDispatchProfiling(false)
        // The second token's dispatches: what a steady decode step runs.
        const step = twoSamples.slice(shortSamples.length)
        r.decode = {
          new_tokens: o.decode, wall_ms_per_token: perToken, gpu_ms_per_token: gpuPerToken, record_ms_per_token: recordPerToken,
          step_dispatches: step.length, step_kernel_sum_ms: step.reduce((a, x) => a + x.ns, 0) / 1e6,
          step_kernels: byKernel(step).slice(0, o.top),
        }
      }
      results.push(r)
      const { kernels: _k, ...head } = r
      console.error(`[profile] ${JSON.stringify({ ...head, decode: r.decode === undefined ? undefined : { ...(r.decode as Record<string, unknown>), step_kernels: undefined } })}`)
      printKernels(kernels.slice(0, o.top))
      if (r.decode !== undefined) {
        console.error("  decode step:")
        printKernels((r.decode as { step_kernels: ReturnType<typeof byKernel> }).step_kernels)
      }
    }
  } finally {
    const out = { device: adapterName(gpu.adapter), config: o.config, reps: o.reps, results }
    if (o.out !== undefined) writeFileSync(o.out, JSON.stringify(out, null, 2))
    console.log(JSON.stringify(out))
    gpu.destroy()
  }
}

await main()
