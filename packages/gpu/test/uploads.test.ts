import { registry } from "@djinn/kernels"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { openGpu, type GpuDevice } from "../src/index.ts"

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
})
