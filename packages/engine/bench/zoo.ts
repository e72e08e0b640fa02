// The model zoo on one GPU: full-size synthetic Llama-2-7B, BERT-base and ResNet-50 (weights generated on the GPU from
// a seed), each loaded, measured and freed in turn. Prints one JSON record: load time, weight and peak GPU memory, and
// wall latencies (after one warm-up, up to `await gpu.finish()`) for Llama prompt 512 + 1 token, prefill 1024 and
// steady decode, BERT at sequence 128 and ResNet-50 at batch 8.
//
//   node packages/engine/bench/zoo.ts [--small] [--dtype f16|f32] [--seed N] [--only llama,bert,resnet] [--reps N]
//   (bundled: node dist/zoo.mjs …)
//
// --small runs shrunk configs and shapes (lavapipe, CI smoke); the default needs ~16 GB of GPU memory in f16.
import { adapterName, openGpu, type DType, type GpuDevice } from "@djinn/gpu"
import { argmax, fill, registry } from "@djinn/kernels"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import {
  allocTensor, Bert, binding, directMemory, findKnownModel, Llama, readTensor, ResNet, syntheticWeights, type Allocation, type Memory,
  type ResolvedModel, type Tensor,
} from "../src/index.ts"
import { loadModel } from "../src/loader.ts"

interface Options { small: boolean; dtype: DType | "auto"; seed: number; only: Set<string>; reps: number }

const parseArgs = (argv: readonly string[]): Options => {
  const o: Options = { small: false, dtype: "auto", seed: 0, only: new Set(["llama", "bert", "resnet"]), reps: 3 }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const value = () => { const v = argv[++i]; if (v === undefined) throw new Error(`${a} needs a value`); return v }
    if (a === "--small") o.small = true
    else if (a === "--dtype") { const v = value(); if (v !== "f16" && v !== "f32" && v !== "auto") throw new Error(`--dtype ${v}`); o.dtype = v }
    else if (a === "--seed") o.seed = Number(value())
    else if (a === "--only") o.only = new Set(value().split(","))
    else if (a === "--reps") o.reps = Math.max(1, Number(value()))
    else throw new Error(`unknown argument ${a} (--small, --dtype f16|f32, --seed N, --only llama,bert,resnet, --reps N)`)
  }
  return o
}

/** Memory that counts the bytes it holds: peak = the most held at once (every buffer the model and its runs allocate). */
class TrackedMemory implements Memory {
  held = 0
  peak = 0
  private readonly live = new Map<string, Allocation>()
  private readonly inner: Memory
  constructor(inner: Memory) { this.inner = inner }
  alloc(bytes: number, segment: "text" | "data" | "stack", label?: string): Allocation {
    const a = this.inner.alloc(bytes, segment, label)
    this.live.set(`${a.buffer}:${a.offset}`, a)
    this.held += a.size
    this.peak = Math.max(this.peak, this.held)
    return a
  }
  release(a: Allocation): void {
    const key = `${a.buffer}:${a.offset}`
    const mine = this.live.get(key)
    if (mine === undefined) return
    this.live.delete(key)
    this.held -= mine.size
    this.inner.release(mine)
  }
  releaseAll(): void { for (const a of [...this.live.values()]) this.release(a) }
}

/** Buffers kernels create for themselves (attention / split-K workspaces), outside any Memory. */
const trackDevice = (gpu: GpuDevice) => {
  const sizes = new Map<number, number>()
  let held = 0
  let peak = 0
  const create = gpu.createBuffer.bind(gpu)
  const destroy = gpu.destroyBuffer.bind(gpu)
  gpu.createBuffer = (size, label) => { const id = create(size, label); sizes.set(id, size); held += size; peak = Math.max(peak, held); return id }
  gpu.destroyBuffer = (id) => { held -= sizes.get(id) ?? 0; sizes.delete(id); destroy(id) }
  return { get held() { return held }, get peak() { return peak }, resetPeak: () => { peak = held } }
}

const knownConfig = (id: string): Record<string, unknown> & { model_type: string } =>
  JSON.parse(readFileSync(join(findKnownModel(id)!, "config.json"), "utf8"))

const SMALL: Record<string, Record<string, unknown>> = {
  "meta-llama/Llama-2-7b-hf": { vocab_size: 1000, hidden_size: 128, intermediate_size: 344, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 4, max_position_embeddings: 256 },
  "google-bert/bert-base-uncased": { vocab_size: 1000, hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 128, max_position_embeddings: 64 },
  "microsoft/resnet-50": { embedding_size: 8, hidden_sizes: [16, 32, 64, 128], depths: [1, 1, 1, 1], num_labels: 10 },
}

const synthetic = (id: string, o: Options): ResolvedModel => ({
  id,
  config: { ...knownConfig(id), ...(o.small ? SMALL[id] : {}) },
  weights: syntheticWeights(o.seed),
  weightsSource: "synthetic",
})

/** Wall ms of `run` (which records work) up to GPU completion: one warm-up, then the median of `reps`. */
const time = async (gpu: GpuDevice, reps: number, run: () => void | Promise<void>): Promise<{ ms: number; samples: number[] }> => {
  await run()
  await gpu.finish()
  const samples: number[] = []
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now()
    await run()
    await gpu.finish()
    samples.push(performance.now() - t0)
  }
  const sorted = [...samples].sort((a, b) => a - b)
  return { ms: sorted[Math.floor(sorted.length / 2)], samples }
}

const randomIds = (n: number, vocab: number, seed: number): Int32Array => {
  let s = seed >>> 0
  return Int32Array.from({ length: n }, () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return 3 + (s % (vocab - 3)) })
}

const finite = async (gpu: GpuDevice, t: Tensor): Promise<boolean> => (await readTensor(gpu, t)).every(Number.isFinite)

const load = async <A>(gpu: GpuDevice, mem: TrackedMemory, build: () => A) => {
  const t0 = performance.now()
  const model = build()
  await gpu.finish()
  await gpu.checkErrors()
  return { model, loadMs: performance.now() - t0, weightBytes: mem.held }
}

const benchLlama = async (gpu: GpuDevice, dtype: DType, o: Options) => {
  const mem = new TrackedMemory(directMemory(gpu))
  const id = "meta-llama/Llama-2-7b-hf"
  const { model: lm, loadMs, weightBytes } = await load(gpu, mem, () => {
    const m = loadModel(gpu, mem, synthetic(id, o), dtype)
    if (m.kind !== "causal-lm" || !(m.model instanceof Llama)) throw new Error("not a Llama")
    return m.model
  })
  const P = o.small ? 16 : 512
  const PREFILL = o.small ? 32 : 1024
  const DECODE = o.small ? 8 : 32
  const capacity = Math.max(PREFILL, P + DECODE + 1)
  const cache = lm.newCache(mem, capacity)
  const scratch = lm.newScratch(mem, Math.max(PREFILL, P))
  const ids = allocTensor(mem, [capacity + 1], "i32", "stack", "ids")
  const logits = allocTensor(mem, [1, lm.vocabSize], dtype, "stack", "logits")
  gpu.writeBuffer(ids.buffer, ids.offset, new Uint8Array(randomIds(capacity + 1, lm.vocabSize, o.seed + 1).buffer))
  const prefill = (T: number) => { cache.length = 0; lm.step({ ids, idsOffset: 0, T, cache, scratch, logits, allLogits: false }) }
  // Prompt P, then its first token: what a request waits for before streaming starts (token read back included).
  const firstToken = await time(gpu, o.reps, async () => {
    prefill(P)
    argmax.encode(gpu, { x: binding(logits), out: binding(ids), rows: 1, cols: lm.vocabSize, outOffset: P, dtype })
    await gpu.read(ids.buffer, ids.offset + P * 4, 4)
  })
  const prefillLong = await time(gpu, o.reps, () => prefill(PREFILL))
  // Steady decode after the prompt: the GPU-resident greedy loop, one submit per token, as `generate` runs it.
  const decodeOnce = async (): Promise<number> => {
    prefill(P)
    await gpu.finish()
    const t0 = performance.now()
    for (let i = 0; i < DECODE; i++) {
      lm.step({ ids, idsOffset: P + i, T: 1, cache, scratch, logits, allLogits: false })
      argmax.encode(gpu, { x: binding(logits), out: binding(ids), rows: 1, cols: lm.vocabSize, outOffset: P + i + 1, dtype })
      gpu.submit()
    }
    await gpu.finish()
    return (performance.now() - t0) / DECODE
  }
  await decodeOnce()
  const decode: number[] = []
  for (let i = 0; i < o.reps; i++) decode.push(await decodeOnce())
  const ok = await finite(gpu, logits)
  await gpu.checkErrors()
  mem.releaseAll()
  return {
    id, params: paramsOf(weightBytes, dtype), load_ms: loadMs, weight_bytes: weightBytes, peak_bytes: mem.peak,
    [`prompt${P}_plus1_ms`]: firstToken.ms, [`prefill${PREFILL}_ms`]: prefillLong.ms,
    decode_ms_per_token: median(decode), decode_tokens: DECODE, decode_context: P, logits_finite: ok,
    samples: { first_token: firstToken.samples, prefill: prefillLong.samples, decode_per_token: decode },
  }
}

const benchBert = async (gpu: GpuDevice, dtype: DType, o: Options) => {
  const mem = new TrackedMemory(directMemory(gpu))
  const id = "google-bert/bert-base-uncased"
  const { model: bert, loadMs, weightBytes } = await load(gpu, mem, () => {
    const m = loadModel(gpu, mem, synthetic(id, o), dtype)
    if (m.kind !== "encoder" || !(m.model instanceof Bert)) throw new Error("not BERT")
    return m.model
  })
  const B = 1, S = o.small ? 16 : 128
  const ids = allocTensor(mem, [B, S], "i32", "stack", "ids")
  gpu.writeBuffer(ids.buffer, ids.offset, new Uint8Array(randomIds(B * S, bert.config.vocab_size, o.seed + 2).buffer))
  const scratch = bert.newScratch(mem, B, S)
  const lastHidden = allocTensor(mem, [B, S, bert.hidden], dtype, "stack", "last_hidden_state")
  const pooled = allocTensor(mem, [B, bert.hidden], dtype, "stack", "pooler_output")
  const t = await time(gpu, o.reps, () => bert.encode({ B, S, ids, scratch, lastHidden, pooled }))
  const ok = await finite(gpu, pooled)
  await gpu.checkErrors()
  mem.releaseAll()
  return { id, params: paramsOf(weightBytes, dtype), load_ms: loadMs, weight_bytes: weightBytes, peak_bytes: mem.peak, [`b${B}_s${S}_ms`]: t.ms, outputs_finite: ok, samples: t.samples }
}

const benchResNet = async (gpu: GpuDevice, dtype: DType, o: Options) => {
  const mem = new TrackedMemory(directMemory(gpu))
  const id = "microsoft/resnet-50"
  const { model: net, loadMs, weightBytes } = await load(gpu, mem, () => {
    const m = loadModel(gpu, mem, synthetic(id, o), dtype)
    if (m.kind !== "vision" || !(m.model instanceof ResNet)) throw new Error("not a ResNet")
    return m.model
  })
  const N = o.small ? 2 : 8, HW = o.small ? 64 : 224
  const input = allocTensor(mem, [N, 3, HW, HW], dtype, "stack", "input")
  fill.encode(gpu, { y: binding(input), n: N * 3 * HW * HW, seed: o.seed + 3, center: 0, scale: 1, dtype })
  const logits = allocTensor(mem, [N, net.numClasses], dtype, "stack", "logits")
  const scratch = net.newScratch(mem, N, HW, HW)
  const t = await time(gpu, o.reps, () => net.encode({ input, logits, scratch }))
  const ok = await finite(gpu, logits)
  await gpu.checkErrors()
  mem.releaseAll()
  return { id, params: paramsOf(weightBytes, dtype), load_ms: loadMs, weight_bytes: weightBytes, peak_bytes: mem.peak, [`b${N}_${HW}px_ms`]: t.ms, logits_finite: ok, samples: t.samples }
}


const median = (xs: readonly number[]): number => { const s = [...xs].sort((a, b) => a - b); return s.length === 0 ? NaN : s[Math.floor(s.length / 2)] }
/** Parameters from weight bytes (ResNet's count is after BatchNorm folding). */
const paramsOf = (bytes: number, dtype: DType): number => Math.round(bytes / (dtype === "f16" ? 2 : 4))

const main = async () => {
  const o = parseArgs(process.argv.slice(2))
  const gpu = await openGpu(registry)
  const device = trackDevice(gpu)
  try {
    const dtype: DType = o.dtype === "auto" ? (gpu.adapter.f16 ? "f16" : "f32") : o.dtype
    if (dtype === "f16" && !gpu.adapter.f16) throw new Error(`${adapterName(gpu.adapter)} has no shader-f16`)
    const models: Record<string, unknown> = {}
    const benches = { llama: benchLlama, bert: benchBert, resnet: benchResNet }
    for (const [name, bench] of Object.entries(benches)) {
      if (!o.only.has(name)) continue
      device.resetPeak()
      const r = await bench(gpu, dtype, o)
      // Everything on the device at once, kernel workspaces included.
      models[name] = { ...r, device_peak_bytes: device.peak }
      console.error(`[zoo] ${name}: ${JSON.stringify(Object.fromEntries(Object.entries(r).filter(([k]) => k !== "samples")))}`)
    }
    console.log(JSON.stringify({ device: adapterName(gpu.adapter), dtype, small: o.small, seed: o.seed, reps: o.reps, models }, null, 2))
  } finally {
    gpu.destroy()
  }
}

await main()
