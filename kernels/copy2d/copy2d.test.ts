import { describe, expect, it } from "vitest"
import { bytesOf, dtypesOf, guardedOutput, randomFloats, roundF16, testDevice, upload } from "../testing/harness.ts"
import { encode, reference } from "./copy2d.ts"

describe("copy2d", async () => {
  const gpu = await testDevice()
  // [rows, cols, srcStride, dstStride, srcOffset, dstOffset, dstRows]
  const cases: [number, number, number, number, number, number, number][] = [
    [1, 1, 1, 1, 0, 0, 1],
    [7, 13, 39, 13, 13, 5 * 13, 17], // keys out of a fused qkv row into cache rows 5..11
    [33, 64, 192, 96, 64, 3, 40],
    [3, 257, 300, 257, 1, 257, 5],
  ]
  for (const dtype of dtypesOf(gpu)) {
    for (const [rows, cols, srcStride, dstStride, srcOffset, dstOffset, dstRows] of cases) {
      it(`${dtype} ${rows}×${cols} strides ${srcStride}/${dstStride} offsets ${srcOffset}/${dstOffset}`, async () => {
        let src = randomFloats(srcOffset + rows * srcStride, rows + cols)
        let dst = randomFloats(dstRows * dstStride + dstOffset, cols)
        if (dtype === "f16") { src = roundF16(src); dst = roundF16(dst) }
        const out = guardedOutput(gpu, dst.length, dtype)
        gpu.writeBuffer(out.binding.buffer, out.binding.offset!, bytesOf(dst, dtype))
        encode(gpu, { src: upload(gpu, src, dtype), dst: out.binding, rows, cols, srcStride, dstStride, srcOffset, dstOffset, dtype })
        const got = await out.read()
        expect(Array.from(got)).toEqual(Array.from(reference(src, dst, { rows, cols, srcStride, dstStride, srcOffset, dstOffset })))
      })
    }
  }
})
