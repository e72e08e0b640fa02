import { describe, expect, it } from "vitest"
import { dtypesOf, guardedOutput, randomFloats, relError, roundF16, testDevice, tolerance, upload } from "../testing/harness.ts"
import { encode, reference } from "./avgpool.ts"

describe("avgpool (global)", async () => {
  const gpu = await testDevice()
  // [N, C, H, W]: a single value, ResNet-50's head (7×7, narrow and full width), planes larger than the workgroup.
  const cases: [number, number, number, number][] = [[1, 1, 1, 1], [2, 512, 7, 7], [1, 2048, 7, 7], [2, 3, 13, 13], [1, 5, 1, 3]]
  for (const dtype of dtypesOf(gpu)) {
    for (const layout of ["nchw", "nhwc"] as const) {
      for (const [N, C, H, W] of cases) {
        it(`${dtype} ${layout} ${N}×${C}×${H}×${W}`, async () => {
          let x = randomFloats(N * C * H * W, C + H, 0, 3) // post-ReLU activations are non-negative
          if (dtype === "f16") x = roundF16(x)
          const y = guardedOutput(gpu, N * C, dtype)
          encode(gpu, { x: upload(gpu, x, dtype), y: y.binding, N, C, H, W, dtype, layout })
          expect(relError(await y.read(), reference(x, N, C, H, W, layout))).toBeLessThan(tolerance(dtype))
        })
      }
    }
  }

  it("the NHWC reference is the NCHW one on transposed input", () => {
    const [N, C, H, W] = [2, 3, 4, 5]
    const x = randomFloats(N * C * H * W, 1)
    const t = new Float32Array(x.length)
    for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let i = 0; i < H * W; i++) t[(n * H * W + i) * C + c] = x[(n * C + c) * H * W + i]
    expect(Array.from(reference(t, N, C, H, W, "nhwc"))).toEqual(Array.from(reference(x, N, C, H, W)))
  })
})
