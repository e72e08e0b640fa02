// CPU cost of recording Llama decode: dispatches per token, and µs per dispatch spent by the CPU.
//
//   node packages/engine/bench/encode.ts [--reps N] [--layers N] [--dtype f16|f32]
//
// 1. Counts the dispatches of one Llama-2-7B decode step (context 512) on a counting stub device: the full-size config
//    without any GPU memory.
// 2. Times, on the real adapter, a Llama-2-7B-shaped model shrunk in width (same layer count and op sequence): `record`
//    is `step()` + argmax (kernels building uniforms, `pipeline()`, `dispatch()`), `encode` is the device turning the
//    recorded list into one command buffer (bind groups, setPipeline, dispatchWorkgroups); `cpu` is their sum.
//    `queue.submit` is reported apart: Dawn's Vulkan translation happens there, but so does lavapipe's execution of the
//    work. The GPU is drained between tokens so that its work (lavapipe runs on the same CPU) stays out of the rest.
import { adapterName, openGpu, type AdapterDescription, type DType, type GpuDevice } from "@djinn/gpu"
import { argmax, registry } from "@djinn/kernels"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { allocTensor, binding, directMemory, findKnownModel, Llama, syntheticWeights, type ResolvedModel } from "../src/index.ts"
import { loadModel } from "../src/loader.ts"

const args = process.argv.slice(2)
const flag = (name: string, fallback: string): string => {
  const i = args.indexOf(name)
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback
}
const reps = Number(flag("--reps", "200"))
const layersArg = Number(flag("--layers", "32"))
const dtypeArg = flag("--dtype", "f32") as DType

const id = "meta-llama/Llama-2-7b-hf"
const base = JSON.parse(readFileSync(join(findKnownModel(id)!, "config.json"), "utf8")) as Record<string, unknown>

/** A device that records nothing and counts dispatches (Llama-2-7B's own shapes, no memory). */
const countingDevice = (adapter: AdapterDescription) => {
  let next = 1
  const counter = {
    dispatches: 0,
    adapter,
    createBuffer: () => next++,
    writeBuffer: () => {},
    destroyBuffer: () => {},
    pipeline: () => 0,
    dispatch: () => { counter.dispatches++ },
    copy: () => {},
    submit: () => {},
    read: async () => new Uint8Array(0),
    finish: async () => ({ gpuMs: 0 }),
    checkErrors: async () => {},
    destroy: () => {},
  }
  return counter
}

const llamaOf = (gpu: GpuDevice, config: Record<string, unknown>, dtype: DType): Llama => {
  const model: ResolvedModel = { id, config: { ...base, ...config }, weights: syntheticWeights(0), weightsSource: "synthetic" }
  const m = loadModel(gpu, directMemory(gpu), model, dtype)
  if (m.kind !== "causal-lm" || !(m.model instanceof Llama)) throw new Error("not a Llama")
  return m.model
}

const decodeStep = (gpu: GpuDevice, lm: Llama, context: number) => {
  const mem = directMemory(gpu)
  const cache = lm.newCache(mem, context + 1)
  const scratch = lm.newScratch(mem, 1)
  const ids = allocTensor(mem, [context + 2], "i32", "stack", "ids")
  const logits = allocTensor(mem, [1, lm.vocabSize], lm.dtype, "stack", "logits")
  return () => {
    cache.length = context
    lm.step({ ids, idsOffset: context, T: 1, cache, scratch, logits, allLogits: false })
    argmax.encode(gpu, { x: binding(logits), out: binding(ids), rows: 1, cols: lm.vocabSize, outOffset: context + 1, dtype: lm.dtype })
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

const gpu = await openGpu(registry)

// 1. Dispatches per decode token at full size.
const stub = countingDevice({ ...gpu.adapter, subgroups: true, f16: true })
const full = llamaOf(stub as unknown as GpuDevice, {}, "f16")
const fullStep = decodeStep(stub as unknown as GpuDevice, full, 512)
stub.dispatches = 0
fullStep()
const perToken = stub.dispatches

// 2. CPU µs per dispatch on the real device.
const small = { vocab_size: 1000, hidden_size: 128, intermediate_size: 344, num_hidden_layers: layersArg, num_attention_heads: 4, num_key_value_heads: 4, max_position_embeddings: 256 }
const lm = llamaOf(gpu, small, dtypeArg)
const step = decodeStep(gpu, lm, 64)
let counted = 0
const dispatch = gpu.dispatch.bind(gpu)
gpu.dispatch = (call) => { counted++; dispatch(call) }
step()
gpu.dispatch = dispatch
gpu.submit()
await gpu.finish()
await gpu.checkErrors()
// queue.submit is timed apart: there Dawn translates the pass for Vulkan, and lavapipe also runs it.
const queue = (gpu as unknown as { device: GPUDevice }).device.queue
const queueSubmit = queue.submit.bind(queue)
let inQueue = 0
queue.submit = (buffers) => { const t = performance.now(); queueSubmit(buffers); inQueue += performance.now() - t }
const record: number[] = []
const submit: number[] = []
const backend: number[] = []
for (let i = 0; i < reps + 20; i++) {
  inQueue = 0
  const t0 = performance.now()
  step()
  const t1 = performance.now()
  gpu.submit()
  const t2 = performance.now()
  await gpu.finish()
  if (i >= 20) { record.push(t1 - t0); submit.push(t2 - t1 - inQueue); backend.push(inQueue) }
}
await gpu.checkErrors()
const us = (ms: number) => Math.round((ms * 1000 * 100) / counted) / 100
console.log(JSON.stringify({
  adapter: adapterName(gpu.adapter),
  llama7b_dispatches_per_decode_token: perToken,
  shrunk: { layers: layersArg, dtype: dtypeArg, dispatches_per_token: counted, reps },
  record_us_per_dispatch: us(median(record)),
  encode_us_per_dispatch: us(median(submit)),
  cpu_us_per_dispatch: us(median(record.map((r, i) => r + submit[i]))),
  queue_submit_us_per_dispatch: us(median(backend)),
  cpu_ms_per_token: median(record.map((r, i) => r + submit[i])),
}, null, 1))
gpu.destroy()
