import { describe, expect, it } from "vitest"
import { dtypesOf, guardedOutput, randomFloats, relError, roundF16, testDevice, upload } from "../testing/harness.ts"
import { encode, reference, type PoolShape } from "./maxpool.ts"

describe("maxpool", async () => {
  const gpu = await testDevice()
  const cases: PoolShape[] = [
    { N: 1, C: 1, H: 1, W: 1, k: 1, stride: 1, pad: 0 },
    { N: 2, C: 5, H: 13, W: 13, k: 3, stride: 2, pad: 1 }, // ResNet's stem pool
    { N: 1, C: 3, H: 7, W: 11, k: 3, stride: 2, pad: 1 },
    { N: 2, C: 3, H: 8, W: 8, k: 2, stride: 2, pad: 0 },
    { N: 1, C: 17, H: 28, W: 28, k: 3, stride: 1, pad: 1 },
  ]
  // NHWC: the stem pool of the GEMM path, channels above and below a workgroup's worth.
  const nhwc: PoolShape[] = [
    { layout: "nhwc", N: 2, C: 5, H: 13, W: 13, k: 3, stride: 2, pad: 1 },
    { layout: "nhwc", N: 1, C: 64, H: 7, W: 11, k: 3, stride: 2, pad: 1 },
    { layout: "nhwc", N: 2, C: 3, H: 8, W: 8, k: 2, stride: 2, pad: 0 },
  ]
  for (const dtype of dtypesOf(gpu)) {
    for (const s of [...cases, ...nhwc]) {
      it(`${dtype} ${s.layout ?? "nchw"} ${s.N}×${s.C}×${s.H}×${s.W} k${s.k} s${s.stride} p${s.pad}`, async () => {
        // All negative, so a padded tap read as 0 would win and show.
        let x = randomFloats(s.N * s.C * s.H * s.W, s.C * s.H + s.k, -5, -0.1)
        if (dtype === "f16") x = roundF16(x)
        const want = reference(x, s)
        const y = guardedOutput(gpu, want.length, dtype)
        encode(gpu, { ...s, x: upload(gpu, x, dtype), y: y.binding, dtype })
        // A max is exact: the output is one of the (already rounded) inputs.
        expect(relError(await y.read(), want)).toBe(0)
      })
    }
  }
})
