import { openGpu, type GpuDevice } from "@djinn/gpu"
import { registry } from "@djinn/kernels"
import { Schema } from "effect"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  allocTensor, defaultLayout, directMemory, readTensor, uploadTensor, findKnownModel, forwardVision, loadVision, resnetParameterCount, resnetPlan, resnetTensors, ResNetConfig, resolveModel,
  SafetensorsCheckpoint, syntheticWeights, toFloat32, type ResNetLayout, type ResolvedModel,
} from "../src/index.ts"
import { fixture, relError } from "./fixtures.ts"

let gpu: GpuDevice
beforeAll(async () => { gpu = await openGpu(registry) })
afterAll(() => gpu?.destroy())

const decode = Schema.decodeUnknownSync(ResNetConfig)
const knownConfig = (id: string) => JSON.parse(readFileSync(join(findKnownModel(id)!, "config.json"), "utf8"))

describe("ResNet-50 resnet50-narrow (torchvision names, base width 16) against PyTorch", () => {
  const model = resolveModel({ modelDir: fixture("resnet50-narrow") })
  const golden = SafetensorsCheckpoint.file(fixture("resnet50-narrow/golden.safetensors"))
  const input = toFloat32(golden.read("input"))
  const ref = toFloat32(golden.read("logits"))
  const shape = golden.read("input").shape as [number, number, number, number]

  it("infers the widths from the weights; the checkpoint holds exactly the tensors of the plan", () => {
    const plan = resnetPlan(decode(model.config), model.weights)
    expect(plan.naming).toBe("torchvision")
    expect(plan.stem.cout).toBe(16)
    expect(plan.blocks.length).toBe(16)
    expect(plan.fc).toMatchObject({ inputs: 512, classes: 1000 })
    const ckpt = SafetensorsCheckpoint.open(fixture("resnet50-narrow"))
    const stored = new Map([...ckpt.tensors].filter(([k]) => !k.endsWith("num_batches_tracked")).map(([k, v]) => [k, v.shape]))
    expect(new Map(resnetTensors(plan).map((t) => [t.name, t.shape]))).toEqual(stored)
  })

  // Both layouts: NCHW through conv2d, NHWC with every convolution a GEMM (the tiled one here, tensor cores on NVIDIA).
  for (const layout of ["nchw", "nhwc"] as const) {
    it(`${layout}: reproduces the logits (f32, BatchNorm folded at load, rel ≤ 1e-4)`, async () => {
      const mem = directMemory(gpu)
      const net = loadVision(gpu, mem, model, "f32", { layout })
      expect(net.layout).toBe(layout)
      const logits = await forwardVision(gpu, mem, net, input, shape)
      expect(logits.length).toBe(2 * 1000)
      expect(relError(logits, ref)).toBeLessThan(1e-4)
    })

    it(`${layout}: f16 stays within 1e-2`, async () => {
      if (!gpu.adapter.f16) return
      const mem = directMemory(gpu)
      const logits = await forwardVision(gpu, mem, loadVision(gpu, mem, model, "f16", { layout }), input, shape)
      expect(relError(logits, ref)).toBeLessThan(1e-2)
    })
  }

  it("nhwc f16 also takes an f16 input (as the server casts it) and refuses an f32 one on nchw", async () => {
    if (!gpu.adapter.f16) return
    const mem = directMemory(gpu)
    const net = loadVision(gpu, mem, model, "f16", { layout: "nhwc" })
    const logits = allocTensor(mem, [2, 1000], "f16", "stack")
    net.encode({ input: uploadTensor(gpu, mem, input, shape, "f16", "stack"), logits, scratch: net.newScratch(mem, shape[0], shape[2], shape[3]) })
    expect(relError(await readTensor(gpu, logits), ref)).toBeLessThan(1e-2)
    const nchw = loadVision(gpu, mem, model, "f16", { layout: "nchw" })
    expect(() => nchw.encode({ input: uploadTensor(gpu, mem, input, shape, "f32", "stack"), logits, scratch: nchw.newScratch(mem, shape[0], shape[2], shape[3]) }))
      .toThrow(/f32 input for an f16 nchw model/)
  })
})

describe("ResNet synthetic configs", () => {
  it("microsoft/resnet-50: HF names, every tensor's shape follows from config.json (25.56 M parameters)", () => {
    const plan = resnetPlan(decode(knownConfig("microsoft/resnet-50")))
    expect(plan.naming).toBe("hf")
    expect(resnetParameterCount(plan)).toBe(25_557_032)
    const names = new Set(resnetTensors(plan).map((t) => t.name))
    for (const n of ["resnet.embedder.embedder.convolution.weight", "resnet.encoder.stages.0.layers.0.shortcut.convolution.weight",
      "resnet.encoder.stages.3.layers.2.layer.2.normalization.running_var", "classifier.1.weight"]) expect(names.has(n)).toBe(true)
    expect(names.has("resnet.encoder.stages.1.layers.1.shortcut.convolution.weight")).toBe(false)
    // The same network under torchvision names has the same parameters.
    expect(resnetParameterCount(resnetPlan(decode({ model_type: "resnet", architecture: "torchvision.models.resnet50" })))).toBe(25_557_032)
  })

  const tiny = (seed: number): ResolvedModel => ({
    id: "tiny-resnet",
    config: { ...knownConfig("microsoft/resnet-50"), embedding_size: 8, hidden_sizes: [16, 32, 64, 128], depths: [1, 2, 1, 1], num_labels: 10 },
    weights: syntheticWeights(seed),
    weightsSource: "synthetic",
  })

  const x = Float32Array.from({ length: 2 * 3 * 64 * 64 }, (_, i) => Math.sin(i * 0.37))
  const run = async (m: ResolvedModel, layout?: ResNetLayout, shape: [number, number, number, number] = [2, 3, 64, 64]) => {
    const mem = directMemory(gpu)
    return forwardVision(gpu, mem, loadVision(gpu, mem, m, "f32", { layout }), x.subarray(0, shape.reduce((a, b) => a * b)), shape)
  }

  it("a tiny config with GPU-filled weights runs end to end, deterministically for a seed", async () => {
    const a = await run(tiny(5)), b = await run(tiny(5)), c = await run(tiny(6))
    expect(a.length).toBe(20)
    expect(a.every(Number.isFinite)).toBe(true)
    expect(a.some((v) => v !== 0)).toBe(true)
    expect(Array.from(a)).toEqual(Array.from(b))
    expect(relError(c, a)).toBeGreaterThan(0.1)
  })

  // The NHWC weights are the NCHW ones reordered: seeded ones on the GPU (fill, then im2col), checkpoint ones on the
  // CPU. All three must compute one network. The checkpoint holds the seeded tensors with identity BatchNorms plus
  // the folded bias (what the harness exports for peers), which fold back to the seeded convolutions.
  it("NHWC computes what NCHW does, from seeded weights and from their checkpoint form (stage 4 at M = 8 takes gemv and matmul)", async () => {
    const seeded = tiny(7)
    const norms = new Set(resnetTensors(resnetPlan(decode(seeded.config))).filter((t) => t.name.endsWith("running_mean")).map((t) => t.name.slice(0, -"running_mean".length)))
    const identity = (name: string, shape: readonly number[]): Float32Array | undefined => {
      const dot = name.lastIndexOf(".") + 1
      if (!norms.has(name.slice(0, dot))) return undefined
      const n = shape.reduce((a, b) => a * b, 1)
      const field = name.slice(dot)
      return field === "weight" ? new Float32Array(n).fill(1) : field === "running_mean" ? new Float32Array(n) : field === "running_var" ? new Float32Array(n).fill(1 - 1e-5) : undefined
    }
    // No `init`: the loader reads the values and folds them on the CPU, as it does a checkpoint's.
    const checkpoint: ResolvedModel = { ...seeded, weights: { kind: "synthetic", has: () => true, get: (name, shape) => identity(name, shape) ?? seeded.weights.get(name, shape) } }
    const nchw = await run(seeded, "nchw")
    expect(relError(await run(seeded, "nhwc"), nchw)).toBeLessThan(1e-5)
    expect(relError(await run(checkpoint, "nhwc"), nchw)).toBeLessThan(1e-5)
    // 32×32: stage 4 is 1×1 pixels, M = 2 rows (gemv for the relu GEMMs, matmul for the residual ones).
    expect(relError(await run(seeded, "nhwc", [2, 3, 32, 32]), await run(seeded, "nchw", [2, 3, 32, 32]))).toBeLessThan(1e-5)
  })

  it("NHWC is the default only where f16 runs on tensor cores (unless DJINN_RESNET_LAYOUT says otherwise)", () => {
    if (process.env.DJINN_RESNET_LAYOUT !== undefined) return
    const tensorCores = gpu.adapter.f16 && gpu.adapter.subgroupMatrix && gpu.adapter.subgroups && /nvidia/i.test(gpu.adapter.vendor)
    expect(defaultLayout(gpu, "f16")).toBe(tensorCores ? "nhwc" : "nchw")
    expect(defaultLayout(gpu, "f32")).toBe("nchw")
  })
})
