import { registry } from "@djinn/kernels"
import * as add from "@djinn/kernels/add/add.ts"
import { describe, expect, it } from "vitest"
import { openGpu } from "../src/index.ts"

describe("GPU timestamps", () => {
  it("time many submits between finish() calls without validation errors", async () => {
    const gpu = await openGpu(registry, { profiling: true })
    try {
      const n = 1 << 16
      const a = gpu.createBuffer(n * 4), b = gpu.createBuffer(n * 4), out = gpu.createBuffer(n * 4)
      for (let i = 0; i < 5; i++) {
        add.encode(gpu, { a: { buffer: a }, b: { buffer: b }, out: { buffer: out }, n, bLen: n })
        gpu.submit()
      }
      const timing = await gpu.finish()
      await gpu.checkErrors()
      if (gpu.adapter.timestamps) expect(timing.gpuMs).toBeGreaterThan(0)
      expect(Number.isFinite(timing.gpuMs)).toBe(true)
      const again = await gpu.finish()
      expect(again.gpuMs).toBe(0)
    } finally {
      gpu.destroy()
    }
  })
})
