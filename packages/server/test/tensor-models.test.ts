// Encoder (BERT) and vision (ResNet) models through semantic Forward, over TCP to a server in a child process: the
// outputs — values in the reply, or refs fetched later — must be what the engine computes in this process.
import { connect, tensorValues, toF16, type Connection, type ForwardOutput } from "@djinn/client"
import {
  directMemory, forwardEncoder, forwardVision, loadEncoder, loadVision, resolveModel, SafetensorsCheckpoint, toFloat32, toInt32,
} from "@djinn/engine"
import { openGpu, type GpuDevice } from "@djinn/gpu"
import { registry } from "@djinn/kernels"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { spawnServer, type SpawnedServer } from "../src/index.ts"
import { fixture, golden, relError, type Stats } from "./helpers.ts"

const KNOWN = ["google-bert/bert-base-uncased", "microsoft/resnet-50"]

let server: SpawnedServer
let conn: Connection
let gpu: GpuDevice

beforeAll(async () => {
  // bert-mini and two known ids (synthetic weights) are preloaded; resnet50-narrow (a torchvision descriptor, no
  // model_type) is uploaded by the client.
  server = await spawnServer(["--arena-mb", "8", "--preload", `${fixture("bert-mini")},${KNOWN.join(",")}`], { env: process.env })
  conn = await connect(server.address)
  gpu = await openGpu(registry)
})
afterAll(async () => {
  conn?.close()
  await server?.stop()
  gpu?.destroy()
})

const values = (o: ForwardOutput | undefined): Float32Array => tensorValues(o!.tensor!)
const bertMask = toInt32(SafetensorsCheckpoint.file(fixture("bert-mini/golden.safetensors")).read("attention_mask"))

describe("BERT bert-mini through semantic Forward", () => {
  const g = golden("bert-mini")
  const [B, S] = g.inputShape
  const mask = bertMask
  const inputs = { input_ids: { shape: [B, S], data: g.inputIds }, attention_mask: { shape: [B, S], data: mask } }

  it("values in the reply equal the local engine's (and PyTorch's within 1e-4)", async () => {
    const model = await conn.ensureModel({ modelDir: fixture("bert-mini") })
    expect(model.via).toBe("found")
    const mem = directMemory(gpu)
    const local = await forwardEncoder(gpu, mem, loadEncoder(gpu, mem, resolveModel({ modelDir: fixture("bert-mini") }), "f32"), { inputIds: g.inputIds, B, S, attentionMask: mask })
    const session = await conn.openSession()
    const r = await session.forward(model, inputs, { values: true })
    expect(r.refs).toEqual([])
    expect(Object.keys(r.outputs)).toEqual(["last_hidden_state", "pooler_output"])
    expect(r.outputs.last_hidden_state.shape).toEqual([B, S, 64])
    expect(r.outputs.pooler_output.shape).toEqual([B, 64])
    expect(relError(values(r.outputs.last_hidden_state), local.lastHiddenState)).toBeLessThan(1e-6)
    expect(relError(values(r.outputs.pooler_output), local.poolerOutput!)).toBeLessThan(1e-6)
    expect(relError(values(r.outputs.last_hidden_state), g.outputs.get("last_hidden_state")!.data)).toBeLessThan(1e-4)
    expect(relError(values(r.outputs.pooler_output), g.outputs.get("pooler_output")!.data)).toBeLessThan(1e-4)
    // Same Profile as causal requests, and the client's own timings.
    for (const v of Object.values(r.profile)) expect(v).toBeGreaterThanOrEqual(0)
    expect(r.profile.durationMs).toBeGreaterThanOrEqual(r.profile.executionMs)
    expect(r.timings.bytesIn).toBeGreaterThan(B * S * 64 * 4)
    // token_type_ids all 0, given explicitly, is the same input.
    const typed = await session.forward(model, { ...inputs, token_type_ids: { shape: [B, S], data: new Int32Array(B * S) } }, { values: true })
    expect(relError(values(typed.outputs.last_hidden_state), local.lastHiddenState)).toBeLessThan(1e-6)
    await session.close()
  })

  it("by default the outputs stay on the server as refs: nothing big travels until fetched", async () => {
    const model = await conn.ensureModel({ modelDir: fixture("bert-mini") })
    const session = await conn.openSession()
    const r = await session.forward(model, inputs)
    expect(r.refs.map((x) => x.shape)).toEqual([[B, S, 64], [B, 64]])
    expect(r.outputs.last_hidden_state.tensor).toBeUndefined()
    expect(r.timings.bytesIn).toBeLessThan(1024)
    const hidden = await r.outputs.last_hidden_state.ref!.fetchFloat32()
    expect(relError(hidden, g.outputs.get("last_hidden_state")!.data)).toBeLessThan(1e-4)
    expect(((await conn.stats()) as unknown as Stats).vmu.refs.count).toBe(2)
    for (const ref of r.refs) await ref.free()
    expect(((await conn.stats()) as unknown as Stats).vmu.refs.count).toBe(0)
    await session.close()
  })

  it("rejects bad inputs with badRequest, and Generate on an encoder with unsupported", async () => {
    const model = await conn.ensureModel({ modelDir: fixture("bert-mini") })
    const session = await conn.openSession()
    await expect(session.forward(model, { input_ids: { shape: [1, 2], data: Int32Array.from([1, 1024]) } }, { values: true }))
      .rejects.toMatchObject({ _tag: "ClientError", code: "badRequest", message: expect.stringContaining("outside [0, 1024)") })
    await expect(session.forward(model, { input_ids: { shape: [1, 2], data: Int32Array.from([1, 2]) }, attention_mask: { shape: [1, 3], data: new Int32Array(3) } }))
      .rejects.toMatchObject({ code: "badRequest", message: expect.stringContaining("attention_mask has shape [1, 3]") })
    await expect(session.generate(model, [1, 2, 3], { maxNewTokens: 2 })).rejects.toMatchObject({ code: "unsupported" })
    // The session still serves after the failures.
    const ok = await session.forward(model, { input_ids: { shape: [1, 2], data: Int32Array.from([1, 2]) } }, { values: true })
    expect(ok.outputs.last_hidden_state.shape).toEqual([1, 2, 64])
    await session.close()
  })
})

describe("ResNet-50 resnet50-narrow through semantic Forward", () => {
  const ckpt = SafetensorsCheckpoint.file(fixture("resnet50-narrow/golden.safetensors"))
  const input = toFloat32(ckpt.read("input"))
  const ref = toFloat32(ckpt.read("logits"))
  const shape = ckpt.read("input").shape as [number, number, number, number]

  it("uploads a torchvision checkpoint once; logits (values and top-1 tokens) equal the local engine's", async () => {
    const model = await conn.ensureModel({ modelDir: fixture("resnet50-narrow") })
    expect(model.via).toBe("uploaded")
    // The server fingerprints the config as stored, as the client does: the same folder is found, not re-sent.
    expect((await conn.ensureModel({ modelDir: fixture("resnet50-narrow") })).via).toBe("found")
    const mem = directMemory(gpu)
    const local = await forwardVision(gpu, mem, loadVision(gpu, mem, resolveModel({ modelDir: fixture("resnet50-narrow") }), "f32"), input, shape)
    const session = await conn.openSession({ phase: "vision" })
    const r = await session.forward(model, { input: { shape, data: input } }, { want: { lastLogits: true, refs: true, tokens: true } })
    expect(Object.keys(r.outputs)).toEqual(["logits"])
    expect(r.outputs.logits.shape).toEqual([2, 1000])
    const logits = values(r.outputs.logits)
    expect(relError(logits, local)).toBeLessThan(1e-6)
    expect(relError(logits, ref)).toBeLessThan(1e-4)
    // Values and a ref at once: the ref holds the same logits.
    expect(r.outputs.logits.ref!.id).toBe(r.refs[0].id)
    expect(relError(await r.refs[0].fetchFloat32(), local)).toBeLessThan(1e-6)
    const top1 = [0, 1].map((n) => local.subarray(n * 1000, (n + 1) * 1000).reduce((best, v, i, a) => (v > a[best] ? i : best), 0))
    expect(r.tokens).toEqual(top1)
    await expect(session.forward(model, { input: { shape: [1, 1, 32, 32], data: new Float32Array(32 * 32) } }))
      .rejects.toMatchObject({ code: "badRequest", message: expect.stringContaining("channels") })
    await session.close()
  })

  it("consecutive images of one size (read into the connection's reused segment buffers) each get their own logits", async () => {
    const model = await conn.ensureModel({ modelDir: fixture("resnet50-narrow") })
    const mem = directMemory(gpu)
    const vision = loadVision(gpu, mem, resolveModel({ modelDir: fixture("resnet50-narrow") }), "f32")
    const images = [input, input.map((v, i) => (i % 7 === 0 ? -v : v * 0.5))]
    const locals = await Promise.all(images.map((image) => forwardVision(gpu, mem, vision, image, shape)))
    const session = await conn.openSession({ phase: "vision" })
    for (const [i, k] of [0, 1, 0, 1].entries()) {
      const image = images[k]
      // A refused request of the same size between them gives its buffer back too.
      if (i % 2 === 1) await expect(session.forward(model, { pixels: { shape, data: image } })).rejects.toMatchObject({ code: "badRequest" })
      const r = await session.forward(model, { input: { shape, data: image } }, { want: { lastLogits: true } })
      expect(relError(values(r.outputs.logits), locals[k])).toBeLessThan(1e-6)
    }
    await session.close()
  })

  it("an f16 server takes f16 images as they are and casts f32 ones on the GPU; BERT uploads too", async () => {
    if (!gpu.adapter.f16) return
    const f16Server = await spawnServer(["--arena-mb", "8", "--dtype", "f16"], { env: process.env })
    const other = await connect(f16Server.address)
    try {
      const model = await other.ensureModel({ modelDir: fixture("resnet50-narrow") })
      const session = await other.openSession()
      const one = input.subarray(0, input.length / 2) // the first image
      const shape1 = [1, ...shape.slice(1)] as [number, number, number, number]
      const half = await session.forward(model, { input: { dtype: "f16", shape: shape1, data: new Uint8Array(toF16(one).buffer) } }, { values: true })
      const cast = await session.forward(model, { input: { shape: shape1, data: one } }, { values: true })
      expect(half.outputs.logits.dtype).toBe("f16")
      const mem = directMemory(gpu)
      const local = await forwardVision(gpu, mem, loadVision(gpu, mem, resolveModel({ modelDir: fixture("resnet50-narrow") }), "f16"), one, shape1)
      // The local engine converts on the CPU with the same rounding as toF16: the same bits in, the same logits out.
      expect(relError(values(half.outputs.logits), local)).toBeLessThan(1e-6)
      expect(relError(values(cast.outputs.logits), local)).toBeLessThan(1e-3)
      expect(relError(values(cast.outputs.logits), ref.subarray(0, 1000))).toBeLessThan(1e-2)
      // A BERT checkpoint registers by upload as well (this server preloaded nothing).
      const bert = await other.ensureModel({ modelDir: fixture("bert-mini") })
      expect(bert.via).toBe("uploaded")
      const g = golden("bert-mini")
      const r = await session.forward(bert, { input_ids: { shape: g.inputShape, data: g.inputIds }, attention_mask: { shape: g.inputShape, data: bertMask } }, { values: true })
      expect(relError(values(r.outputs.pooler_output), g.outputs.get("pooler_output")!.data)).toBeLessThan(1e-2)
    } finally {
      other.close()
      await f16Server.stop()
    }
  })
})

describe("known ids preloaded with seeded synthetic weights", () => {
  it("google-bert/bert-base-uncased and microsoft/resnet-50 (full size) run; ResNet-50 computes what the local engine's synthetic model does", async () => {
    const stats = (await conn.stats()) as unknown as { models: Array<{ id: string; modelType: string; pinned: boolean }> }
    expect(stats.models.filter((m) => KNOWN.includes(m.id)).map((m) => [m.id, m.modelType, m.pinned]))
      .toEqual([["google-bert/bert-base-uncased", "bert", true], ["microsoft/resnet-50", "resnet", true]])
    const session = await conn.openSession()
    const mem = directMemory(gpu)
    const bert = await conn.ensureModel({ modelId: KNOWN[0] })
    expect(bert.paramBytes).toBe(109_482_240 * 4)
    const ids = Int32Array.from([101, 7592, 2088, 102])
    const b = await session.forward(bert, { input_ids: { shape: [1, 4], data: ids } }, { values: true })
    // (Building BERT-base here too would double the test's time; the weights are the same seeded source as ResNet's.)
    expect(values(b.outputs.last_hidden_state).every(Number.isFinite)).toBe(true)
    expect(values(b.outputs.pooler_output).every((v) => Math.abs(v) <= 1)).toBe(true)
    expect([b.outputs.last_hidden_state.shape, b.outputs.pooler_output.shape]).toEqual([[1, 4, 768], [1, 768]])
    const resnet = await conn.ensureModel({ modelId: KNOWN[1] })
    const image = Float32Array.from({ length: 3 * 32 * 32 }, (_, i) => Math.sin(i * 0.37))
    const r = await session.forward(resnet, { input: { shape: [1, 3, 32, 32], data: image } }, { values: true })
    const localResnet = await forwardVision(gpu, mem, loadVision(gpu, mem, resolveModel({ modelId: KNOWN[1] }), "f32"), image, [1, 3, 32, 32])
    expect(relError(values(r.outputs.logits), localResnet)).toBeLessThan(1e-6)
    await session.close()
  })
})
