import { registry } from "@djinn/kernels"
import * as add from "@djinn/kernels/add/add.ts"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { openGpu, type GpuDevice } from "../src/index.ts"
import { fastVariantKey } from "../src/wgsl.ts"

describe("pipeline and bind-group caches", () => {
  let gpu: GpuDevice
  beforeAll(async () => { gpu = await openGpu(registry) })
  afterAll(() => gpu?.destroy())

  it("fast variant keys tell written variants apart", () => {
    const keys = [
      fastVariantKey("k", {}), fastVariantKey("k", { dtype: "f16" }), fastVariantKey("k", { defines: ["A,B"] }),
      fastVariantKey("k", { defines: ["A", "B"] }), fastVariantKey("k", { defines: ["B", "A"] }), fastVariantKey("k", { constants: { x: 1 } }),
      fastVariantKey("k", { constants: { x: 12 } }), fastVariantKey("k", { constants: { x: 1, y: 2 } }), fastVariantKey("k|", {}),
    ]
    expect(new Set(keys).size).toBe(keys.length)
    expect(fastVariantKey("k", { defines: ["A"], constants: { x: 1 } })).toBe(fastVariantKey("k", { defines: ["A"], constants: { x: 1 } }))
  })

  it("one pipeline per canonical variant, however it is written and however often it is asked for", () => {
    const a = gpu.pipeline("gemv_nk", { defines: ["BIAS", "VEC4"], constants: { MR: 2, T: 32 } })
    const b = gpu.pipeline("gemv_nk", { defines: ["VEC4", "BIAS"], constants: { T: 32, MR: 2 } })
    expect(b).toBe(a)
    expect(gpu.pipeline("gemv_nk", { defines: ["VEC4", "BIAS"], constants: { T: 32, MR: 2 } })).toBe(a)
    expect(gpu.pipeline("gemv_nk", { defines: ["BIAS", "VEC4"], constants: { MR: 2, T: 32 } })).toBe(a)
    expect(gpu.pipeline("gemv_nk", { defines: ["VEC4"], constants: { MR: 2, T: 32 } })).not.toBe(a)
    expect(gpu.pipeline("gemv_nk", { defines: ["BIAS", "VEC4"], constants: { MR: 3, T: 32 } })).not.toBe(a)
  })

  it("bind groups follow the bindings: same pipeline and uniform slot, other buffers or ranges", async () => {
    const n = 64
    const upload = (values: number[]) => {
      const id = gpu.createBuffer(1024)
      gpu.writeBuffer(id, 0, new Uint8Array(new Float32Array(values).buffer))
      gpu.writeBuffer(id, 512, new Uint8Array(new Float32Array(values.map((v) => 10 * v)).buffer))
      return id
    }
    const a = upload(Array.from({ length: n }, (_, i) => i)), b = upload(Array.from({ length: n }, () => 1))
    const out = gpu.createBuffer(1024)
    const run = async (aOffset: number, bBuffer: number, outOffset: number) => {
      add.encode(gpu, { a: { buffer: a, offset: aOffset, size: 256 }, b: { buffer: bBuffer, offset: 0, size: 256 }, out: { buffer: out, offset: outOffset, size: 256 }, n, bLen: n })
      return new Float32Array((await gpu.read(out, outOffset, 256)).buffer)
    }
    // Each read is its own submit, so every run's dispatch takes the same uniform slot.
    expect((await run(0, b, 0))[5]).toBe(6)
    expect((await run(512, b, 0))[5]).toBe(51)
    expect((await run(512, a, 0))[5]).toBe(55)
    expect((await run(512, a, 512))[5]).toBe(55)
    expect((await run(0, b, 0))[5]).toBe(6)
    await gpu.checkErrors()
  })
})
