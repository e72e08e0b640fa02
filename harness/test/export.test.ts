// Synthetic weights exported for peers that load checkpoints (the Djinn server's --preload, HF transformers): the
// engine loading the exported folder must compute what it computes from the seeded weights themselves.
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { openGpu, type GpuDevice } from "@djinn/gpu"
import { directMemory, forwardEncoder, forwardVision, loadModel, resolveModel, SafetensorsCheckpoint, toFloat32 } from "@djinn/engine"
import { registry } from "@djinn/kernels"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { exportSynthetic, paramCount } from "../src/engine/export.ts"
import { resolveSource } from "../src/engine/host.ts"
import type { ModelSource } from "../src/engine/work.ts"

let gpu: GpuDevice
beforeAll(async () => { gpu = await openGpu(registry) })
afterAll(() => gpu?.destroy())

type Synthetic = Extract<ModelSource, { kind: "synthetic" }>

/**
 * ‖got − ref‖∞ / ‖ref‖∞. Not bit-exact: the `fill` kernel computes a synthetic value in f32 where the CPU generator
 * (what the export writes) rounds an f64 — a unit in the last place apart, at most.
 */
const maxRelError = (got: Float32Array, ref: Float32Array) =>
  got.reduce((m, v, i) => Math.max(m, Math.abs(v - ref[i])), 0) / ref.reduce((m, v) => Math.max(m, Math.abs(v)), 0)

const bothWays = (source: Synthetic) => {
  const dir = mkdtempSync(join(tmpdir(), "djinn-export-"))
  exportSynthetic(source, dir)
  const mem = directMemory(gpu)
  const load = (m: ReturnType<typeof resolveSource>) => loadModel(gpu, mem, m, "f32")
  return { dir, mem, synthetic: load(resolveSource(source)), exported: load(resolveModel({ modelDir: dir })) }
}

describe("exported synthetic checkpoints", () => {
  it("BERT: HF BertModel names and config; the same hidden states and pooler output", async () => {
    const config = { model_type: "bert", vocab_size: 300, hidden_size: 48, num_hidden_layers: 2, num_attention_heads: 3, intermediate_size: 96, max_position_embeddings: 32, type_vocab_size: 2 }
    const { dir, mem, synthetic, exported } = bothWays({ kind: "synthetic", id: "tiny-bert", config, seed: 3 })
    expect(JSON.parse(readFileSync(join(dir, "config.json"), "utf8"))).toMatchObject({ architectures: ["BertModel"], ...config })
    expect(SafetensorsCheckpoint.open(dir).has("pooler.dense.weight")).toBe(true)
    if (synthetic.kind !== "encoder" || exported.kind !== "encoder") throw new Error("not an encoder")
    const inputs = { inputIds: Int32Array.from([101, 7, 8, 9, 102, 250]), B: 2, S: 3 }
    const a = await forwardEncoder(gpu, mem, synthetic.model, inputs)
    const b = await forwardEncoder(gpu, mem, exported.model, inputs)
    expect(maxRelError(b.lastHiddenState, a.lastHiddenState)).toBeLessThan(1e-6)
    expect(maxRelError(b.poolerOutput!, a.poolerOutput!)).toBeLessThan(1e-6)
  })

  it("ResNet (torchvision config): identity BatchNorms under HF names fold back to the engine's synthetic convolutions", async () => {
    const config = { model_type: "resnet", architecture: "torchvision.models.resnet50", base_width: 8, num_classes: 10 }
    const source: Synthetic = { kind: "synthetic", id: "tiny-resnet", config, seed: 5 }
    const { dir, mem, synthetic, exported } = bothWays(source)
    expect(JSON.parse(readFileSync(join(dir, "config.json"), "utf8"))).toEqual({
      architectures: ["ResNetForImageClassification"], model_type: "resnet", num_channels: 3, embedding_size: 8, hidden_sizes: [32, 64, 128, 256],
      depths: [3, 4, 6, 3], layer_type: "bottleneck", hidden_act: "relu", downsample_in_first_stage: false, downsample_in_bottleneck: false, num_labels: 10,
    })
    const ckpt = SafetensorsCheckpoint.open(dir)
    const bn = "resnet.encoder.stages.1.layers.0.layer.1.normalization."
    expect([...ckpt.tensors.keys()].some((k) => k.startsWith("layer1."))).toBe(false)
    expect(toFloat32(ckpt.read(`${bn}weight`)).every((v) => v === 1)).toBe(true)
    expect(toFloat32(ckpt.read(`${bn}running_mean`)).every((v) => v === 0)).toBe(true)
    if (synthetic.kind !== "vision" || exported.kind !== "vision") throw new Error("not a vision model")
    expect(exported.model.plan.naming).toBe("hf")
    const x = Float32Array.from({ length: 2 * 3 * 32 * 32 }, (_, i) => Math.sin(i * 0.37))
    const a = await forwardVision(gpu, mem, synthetic.model, x, [2, 3, 32, 32])
    const b = await forwardVision(gpu, mem, exported.model, x, [2, 3, 32, 32])
    expect(maxRelError(b, a)).toBeLessThan(1e-6)
    // Parameters (running statistics included) of the full shapes, for the export size limit.
    expect(paramCount({ model_type: "resnet", architecture: "torchvision.models.resnet50", base_width: 64, num_classes: 1000 })).toBe(25_557_032 + 2 * 26_560)
    expect(paramCount({ model_type: "bert", vocab_size: 30522, hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072, max_position_embeddings: 512, type_vocab_size: 2 }))
      .toBe(109_482_240)
  })
})
