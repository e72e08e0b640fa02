import { registry } from "@djinn/kernels"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { openGpu, type GpuDevice } from "../src/index.ts"
import { StagedUploads } from "../src/uploads.ts"
import { WebGpuDevice } from "../src/webgpu-device.ts"

/** Large writes go through mapped staging buffers (reused once their copy is done); small ones through queue.writeBuffer. */
describe("uploads", () => {
  let gpu: GpuDevice
  beforeAll(async () => { gpu = await openGpu(registry) })
  afterAll(() => gpu?.destroy())

  const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed * 7 + (i >> 9)) & 0xff)

  it("large writes arrive whole, at an offset, again and again through reused staging buffers", async () => {
    const size = (3 << 20) + 256
    const id = gpu.createBuffer(size)
    for (let k = 0; k < 6; k++) {
      const data = bytes(2 << 20, k)
      gpu.writeBuffer(id, 256 * k, data)
      const back = await gpu.read(id, 256 * k, data.byteLength)
      expect(Buffer.compare(Buffer.from(back), Buffer.from(data))).toBe(0)
      if (k % 2 === 1) await new Promise((r) => setTimeout(r, 5)) // let a staging buffer come back mapped
    }
    // Two large writes before a read: the second wins where they overlap, as with queue.writeBuffer.
    gpu.writeBuffer(id, 0, bytes(1 << 20, 40))
    gpu.writeBuffer(id, 1 << 19, bytes(1 << 20, 41))
    const back = await gpu.read(id, 0, 3 << 19)
    expect(Buffer.compare(Buffer.from(back.subarray(0, 1 << 19)), Buffer.from(bytes(1 << 20, 40).subarray(0, 1 << 19)))).toBe(0)
    expect(Buffer.compare(Buffer.from(back.subarray(1 << 19)), Buffer.from(bytes(1 << 20, 41)))).toBe(0)
    await gpu.checkErrors()
    gpu.destroyBuffer(id)
  })

  it("reads asked for together see the buffers as they were when asked, whatever is written or dispatched after", async () => {
    const a = gpu.createBuffer(1024), b = gpu.createBuffer(1024)
    gpu.writeBuffer(a, 0, bytes(1024, 1))
    gpu.writeBuffer(b, 0, bytes(1024, 2))
    // Both copies wait for the end of this task; the writes after them must not leak into them.
    const ra = gpu.read(a, 0, 1024)
    gpu.writeBuffer(a, 0, bytes(1024, 3))
    const rb = gpu.read(b, 512, 512)
    const rc = gpu.read(a, 0, 1024)
    gpu.writeBuffer(b, 0, bytes(1024, 4))
    const [va, vb, vc] = await Promise.all([ra, rb, rc])
    expect(Buffer.compare(Buffer.from(va), Buffer.from(bytes(1024, 1)))).toBe(0)
    expect(Buffer.compare(Buffer.from(vb), Buffer.from(bytes(1024, 2).subarray(512)))).toBe(0)
    expect(Buffer.compare(Buffer.from(vc), Buffer.from(bytes(1024, 3)))).toBe(0)
    const vd = await gpu.read(b, 0, 1024)
    expect(Buffer.compare(Buffer.from(vd), Buffer.from(bytes(1024, 4)))).toBe(0)
    await gpu.checkErrors()
    gpu.destroyBuffer(a)
    gpu.destroyBuffer(b)
  })

  it("keeps the largest staging buffers: a model's many weight uploads do not crowd out a larger input's", async () => {
    if (!(gpu instanceof WebGpuDevice)) throw new Error("a WebGpuDevice was expected")
    const uploads = new StagedUploads(gpu.device)
    const target = gpu.createBuffer(5 << 20)
    const settle = async () => { await gpu.read(target, 0, 4); await new Promise((r) => setTimeout(r, 5)) }
    // Weights at load: several sizes between 1 and 4.5 MiB.
    for (const mib of [1, 1.125, 2, 4, 4.5, 2, 1]) {
      uploads.write(gpu.bufferOf(target), 0, bytes(mib * (1 << 20), 1))
      await settle()
    }
    const before = { ...uploads.counts }
    // Then requests of 4.6 MiB, one after another: the first may need a new buffer, the rest reuse it.
    for (let k = 0; k < 4; k++) {
      const data = bytes(4.6 * (1 << 20) & ~3, k)
      uploads.write(gpu.bufferOf(target), 0, data)
      const back = await gpu.read(target, 0, data.byteLength)
      expect(Buffer.compare(Buffer.from(back), Buffer.from(data))).toBe(0)
      await settle()
    }
    expect(uploads.counts.created - before.created).toBeLessThanOrEqual(1)
    expect(uploads.counts.reused - before.reused).toBeGreaterThanOrEqual(3)
    uploads.destroy()
    gpu.destroyBuffer(target)
  })
})
