import { describe, expect, it } from "vitest"
import { dtypesOf, guardedOutput, randomFloats, relError, roundF16, testDevice, tolerance, upload } from "../testing/harness.ts"
import { encode, foldBatchNorm, outSize, plan, reference, type ConvShape } from "./conv2d.ts"

interface Case extends ConvShape {
  readonly withResidual?: boolean
  readonly relu?: boolean
  /** Run split-K (with a workspace); the plan must split. */
  readonly split?: boolean
}

const name = (c: Case): string =>
  `${c.N}×${c.Cin}×${c.H}×${c.W} → ${c.Cout} ${c.kh}×${c.kw} s${c.stride} p${c.pad}${c.withResidual === true ? " +res" : ""}${c.relu === true ? " relu" : ""}${c.split === true ? ` split-K ×${plan(c).splits}` : ""}`

describe("conv2d", async () => {
  const gpu = await testDevice()
  const cases: Case[] = [
    { N: 1, Cin: 1, H: 1, W: 1, Cout: 1, kh: 1, kw: 1, stride: 1, pad: 0 },
    { N: 2, Cin: 3, H: 7, W: 7, Cout: 5, kh: 1, kw: 1, stride: 1, pad: 0 },
    { N: 1, Cin: 3, H: 13, W: 13, Cout: 17, kh: 3, kw: 3, stride: 1, pad: 1, relu: true },
    { N: 2, Cin: 5, H: 13, W: 13, Cout: 17, kh: 3, kw: 3, stride: 2, pad: 1 },
    { N: 2, Cin: 3, H: 13, W: 13, Cout: 5, kh: 7, kw: 7, stride: 2, pad: 3, relu: true }, // ResNet's stem
    { N: 2, Cin: 17, H: 7, W: 7, Cout: 5, kh: 1, kw: 1, stride: 2, pad: 0 }, // a downsample shortcut
    { N: 2, Cin: 16, H: 7, W: 7, Cout: 70, kh: 3, kw: 3, stride: 1, pad: 1, withResidual: true, relu: true },
    { N: 2, Cin: 24, H: 13, W: 13, Cout: 17, kh: 1, kw: 1, stride: 1, pad: 0, withResidual: true, relu: true },
    { N: 1, Cin: 4, H: 6, W: 9, Cout: 3, kh: 3, kw: 3, stride: 2, pad: 0 }, // non-square, no padding
    { N: 2, Cin: 16, H: 7, W: 7, Cout: 70, kh: 3, kw: 3, stride: 1, pad: 1, withResidual: true, relu: true, split: true },
    { N: 1, Cin: 64, H: 7, W: 7, Cout: 17, kh: 3, kw: 3, stride: 1, pad: 1, relu: true, split: true },
    { N: 2, Cin: 130, H: 5, W: 5, Cout: 5, kh: 1, kw: 1, stride: 1, pad: 0, split: true }, // a partial last chunk
    { N: 1, Cin: 40, H: 9, W: 9, Cout: 20, kh: 3, kw: 3, stride: 2, pad: 1, withResidual: true, relu: true, split: true },
  ]
  for (const dtype of dtypesOf(gpu)) {
    for (const c of cases) {
      it(`${dtype} ${name(c)}`, async () => {
        const hout = outSize(c.H, c.kh, c.stride, c.pad), wout = outSize(c.W, c.kw, c.stride, c.pad)
        const outLen = c.N * c.Cout * hout * wout
        const fan = c.Cin * c.kh * c.kw
        let x = randomFloats(c.N * c.Cin * c.H * c.W, fan + c.Cout, -1, 1)
        let w = randomFloats(c.Cout * fan, fan, -1 / Math.sqrt(fan), 1 / Math.sqrt(fan))
        let b = randomFloats(c.Cout, c.Cout, -0.5, 0.5)
        let r = c.withResidual === true ? randomFloats(outLen, outLen, -1, 1) : undefined
        if (dtype === "f16") { x = roundF16(x); w = roundF16(w); b = roundF16(b); r = r === undefined ? undefined : roundF16(r) }
        const y = guardedOutput(gpu, outLen, dtype)
        const { withResidual: _, split, ...shape } = c
        const pl = plan(c)
        if (split === true) expect(pl.splits > 1).toBe(true)
        const workspace = split === true ? { buffer: gpu.createBuffer(pl.workspaceBytes) } : undefined
        encode(gpu, {
          ...shape, x: upload(gpu, x, dtype), w: upload(gpu, w, dtype), b: upload(gpu, b, dtype), y: y.binding, dtype,
          ...(r === undefined ? {} : { residual: upload(gpu, r, dtype) }),
          ...(workspace === undefined ? {} : { workspace }),
        })
        const options = { relu: c.relu === true, ...(r === undefined ? {} : { residual: r }) }
        expect(relError(await y.read(), reference(x, w, b, c, options))).toBeLessThan(tolerance(dtype))
      })
    }
  }

  it("plans no split where the output tiles fill the GPU, and checks the workspace's size", () => {
    expect(plan({ N: 8, Cin: 64, H: 56, W: 56, Cout: 64, kh: 3, kw: 3, stride: 1, pad: 1 }).splits).toBe(1)
    const deep: ConvShape = { N: 1, Cin: 512, H: 7, W: 7, Cout: 512, kh: 3, kw: 3, stride: 1, pad: 1 }
    const pl = plan(deep)
    expect(pl.splits > 8).toBe(true)
    expect(pl.workspaceBytes).toBe(pl.splits * 49 * 512 * 4)
    const small = { buffer: 0, size: 1024 }
    expect(() => encode(gpu, { ...deep, x: small, w: small, b: small, y: small, workspace: small })).toThrow(/workspace/)
  })

  it("a folded BatchNorm equals conv then BatchNorm", async () => {
    const c: ConvShape = { N: 1, Cin: 3, H: 5, W: 5, Cout: 4, kh: 3, kw: 3, stride: 1, pad: 1 }
    const x = randomFloats(3 * 25, 1), w = randomFloats(4 * 27, 2, -0.3, 0.3)
    const gamma = randomFloats(4, 3, 0.5, 1.5), beta = randomFloats(4, 4), mean = randomFloats(4, 5), variance = randomFloats(4, 6, 0.2, 2)
    const eps = 1e-5
    const plain = reference(x, w, new Float32Array(4), c)
    const bn = plain.map((v, i) => {
      const co = Math.floor(i / 25)
      return ((v - mean[co]) / Math.sqrt(variance[co] + eps)) * gamma[co] + beta[co]
    })
    const folded = foldBatchNorm(w, undefined, gamma, beta, mean, variance, eps)
    const y = guardedOutput(gpu, 4 * 25)
    encode(gpu, { ...c, x: upload(gpu, x), w: upload(gpu, folded.weight), b: upload(gpu, folded.bias), y: y.binding })
    expect(relError(await y.read(), bn)).toBeLessThan(tolerance("f32"))
  })
})
