import { openGpu, type GpuDevice } from "@djinn/gpu"
import { registry } from "@djinn/kernels"
import { Schema } from "effect"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  directMemory, findKnownModel, forwardVision, loadVision, resnetParameterCount, resnetPlan, resnetTensors, ResNetConfig, resolveModel,
  SafetensorsCheckpoint, syntheticWeights, toFloat32, type ResolvedModel,
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

  it("reproduces the logits (f32, BatchNorm folded at load, rel ≤ 1e-4)", async () => {
    const mem = directMemory(gpu)
    const net = loadVision(gpu, mem, model, "f32")
    const logits = await forwardVision(gpu, mem, net, input, shape)
    expect(logits.length).toBe(2 * 1000)
    expect(relError(logits, ref)).toBeLessThan(1e-4)
  })

  it("f16 stays within 1e-2", async () => {
    if (!gpu.adapter.f16) return
    const mem = directMemory(gpu)
    const logits = await forwardVision(gpu, mem, loadVision(gpu, mem, model, "f16"), input, shape)
    expect(relError(logits, ref)).toBeLessThan(1e-2)
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

  it("a tiny config with GPU-filled weights runs end to end, deterministically for a seed", async () => {
    const x = Float32Array.from({ length: 2 * 3 * 64 * 64 }, (_, i) => Math.sin(i * 0.37))
    const run = async (m: ResolvedModel) => {
      const mem = directMemory(gpu)
      return forwardVision(gpu, mem, loadVision(gpu, mem, m, "f32"), x, [2, 3, 64, 64])
    }
    const a = await run(tiny(5)), b = await run(tiny(5)), c = await run(tiny(6))
    expect(a.length).toBe(20)
    expect(a.every(Number.isFinite)).toBe(true)
    expect(a.some((v) => v !== 0)).toBe(true)
    expect(Array.from(a)).toEqual(Array.from(b))
    expect(relError(c, a)).toBeGreaterThan(0.1)
  })
})
