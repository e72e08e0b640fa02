import { describe, expect, it } from "vitest"
import { dtypesOf, guardedOutput, randomFloats, roundF16, testDevice, upload } from "../testing/harness.ts"
import { encode, paddedK, reference, type Im2colShape } from "./im2col.ts"

describe("im2col", async () => {
  const gpu = await testDevice()
  const shape = (N: number, H: number, W: number, C: number, k: number, stride: number, pad: number, layout: "nhwc" | "nchw" = "nhwc"): Im2colShape =>
    ({ N, H, W, C, kh: k, kw: k, stride, pad, Kp: paddedK(k * k * C), layout })
  const cases: Im2colShape[] = [
    shape(1, 1, 1, 1, 1, 1, 0),
    shape(2, 15, 13, 3, 7, 2, 3), // ResNet's stem (K = 147 → 152) on NHWC…
    shape(2, 15, 13, 3, 7, 2, 3, "nchw"), // …and on the NCHW input as it arrives
    shape(2, 7, 7, 16, 3, 1, 1), // 3×3 of a bottleneck: 16-byte pieces in f32 and f16
    shape(1, 9, 6, 8, 3, 2, 1), // strided 3×3, odd sizes
    shape(2, 7, 5, 24, 1, 2, 0), // a strided 1×1 shortcut
    shape(1, 5, 5, 12, 3, 1, 1), // C a multiple of 4 but not 8: pieces in f32 only
    shape(1, 4, 4, 5, 1, 1, 0), // K = 5 padded to 8
    shape(5, 3, 3, 6, 3, 1, 0, "nchw"), // [Cout, Cin, 3, 3] weights → [Cout, 3·3·Cin → 56]
  ]
  for (const dtype of dtypesOf(gpu)) {
    for (const s of cases) {
      it(`${dtype} ${s.layout} N${s.N} ${s.H}×${s.W}×${s.C} k${s.kh} s${s.stride} p${s.pad} Kp ${s.Kp}`, async () => {
        let x = randomFloats(s.N * s.H * s.W * s.C, s.H * s.C + s.kh, 0.1, 2) // no zeros, so a missed copy shows
        if (dtype === "f16") x = roundF16(x)
        const want = reference(x, s)
        const col = guardedOutput(gpu, want.length, dtype)
        encode(gpu, { ...s, x: upload(gpu, x, dtype), col: col.binding, dtype })
        // A copy is exact.
        expect(Array.from(await col.read())).toEqual(Array.from(want))
      })
    }
  }

  it("gathers an f32 NCHW input into f16 rows (the input's cast fused into the stem's gather)", async () => {
    if (!gpu.adapter.f16) return
    const s = shape(2, 15, 13, 3, 7, 2, 3, "nchw")
    const x = randomFloats(s.N * s.H * s.W * s.C, 3, -3, 3)
    const want = roundF16(reference(x, s))
    const col = guardedOutput(gpu, want.length, "f16")
    encode(gpu, { ...s, x: upload(gpu, x), col: col.binding, dtype: "f16", xDtype: "f32" })
    expect(Array.from(await col.read())).toEqual(Array.from(want))
  })

  it("rejects a row length shorter than kh·kw·C", () => {
    expect(() => reference(new Float32Array(27), { ...shape(1, 3, 3, 3, 3, 1, 1), Kp: 26 })).toThrow(/Kp 26/)
  })
})
