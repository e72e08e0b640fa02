import { grid, u32s, type Binding, type DType, type GpuDevice, type KernelSpec } from "@djinn/gpu"
import { wgsl } from "../source.ts"

/** Storage: x, w, b, y, and with the RESIDUAL variant a fifth, the residual. */
export const spec: KernelSpec = { id: "conv2d", wgsl: wgsl("conv2d"), storage: ["read", "read", "read", "read_write", "read"], uniforms: true }

export interface ConvShape {
  readonly N: number
  readonly Cin: number
  readonly H: number
  readonly W: number
  readonly Cout: number
  readonly kh: number
  readonly kw: number
  readonly stride: number
  readonly pad: number
}

export interface Conv2dArgs extends ConvShape {
  /** [N, Cin, H, W]. */
  readonly x: Binding
  /** [Cout, Cin, kh, kw] (BatchNorm folded in: see `foldBatchNorm`). */
  readonly w: Binding
  /** [Cout]. */
  readonly b: Binding
  /** [N, Cout, Hout, Wout] (see `outSize`); a different buffer range from every input. */
  readonly y: Binding
  /** [N, Cout, Hout, Wout], added before the ReLU (a ResNet block's shortcut). */
  readonly residual?: Binding
  readonly relu?: boolean
  readonly dtype?: DType
}

const BM = 64
const BN = 64

/** Output height/width of a convolution (no dilation). */
export const outSize = (size: number, k: number, stride: number, pad: number): number => Math.floor((size + 2 * pad - k) / stride) + 1

const outShape = (a: ConvShape): [hout: number, wout: number] => {
  const hout = outSize(a.H, a.kh, a.stride, a.pad), wout = outSize(a.W, a.kw, a.stride, a.pad)
  if (hout < 1 || wout < 1) throw new Error(`conv2d: ${a.kh}×${a.kw} kernel larger than the padded ${a.H}×${a.W} input`)
  return [hout, wout]
}

export const encode = (gpu: GpuDevice, args: Conv2dArgs): void => {
  const [hout, wout] = outShape(args)
  const m = args.N * hout * wout
  const k = args.Cin * args.kh * args.kw
  const defines: string[] = []
  if (args.residual !== undefined) defines.push("RESIDUAL")
  if (args.relu === true) defines.push("RELU")
  const pipeline = gpu.pipeline(spec.id, { dtype: args.dtype ?? "f32", defines })
  const [tilesX, tilesZ] = grid(Math.ceil(m / BM))
  const bindings = [args.x, args.w, args.b, args.y]
  if (args.residual !== undefined) bindings.push(args.residual)
  gpu.dispatch({
    pipeline,
    bindings,
    uniforms: u32s(args.N, args.Cin, args.H, args.W, args.Cout, args.kh, args.kw, args.stride, args.pad, hout, wout, m, k, tilesX, 0, 0),
    workgroups: [tilesX, Math.ceil(args.Cout / BN), tilesZ],
  })
}

/**
 * Folds an eval-mode BatchNorm that follows a convolution into its weight and bias:
 * s = gamma / sqrt(var + eps); w' = w · s[co]; b' = (b − mean) · s + beta.
 */
export const foldBatchNorm = (
  weight: ArrayLike<number>,
  bias: ArrayLike<number> | undefined,
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  mean: ArrayLike<number>,
  variance: ArrayLike<number>,
  eps: number,
): { weight: Float32Array; bias: Float32Array } => {
  const cout = gamma.length
  if (weight.length % cout !== 0) throw new Error(`foldBatchNorm: weight of ${weight.length} is not ${cout} channels`)
  const per = weight.length / cout
  const w = new Float32Array(weight.length)
  const b = new Float32Array(cout)
  for (let co = 0; co < cout; co++) {
    const s = gamma[co] / Math.sqrt(variance[co] + eps)
    for (let i = 0; i < per; i++) w[co * per + i] = weight[co * per + i] * s
    b[co] = ((bias?.[co] ?? 0) - mean[co]) * s + beta[co]
  }
  return { weight: w, bias: b }
}

/** CPU reference (float64 sums): y = act(conv(x, w) + b [+ residual]). */
export const reference = (
  x: Float32Array,
  w: Float32Array,
  b: Float32Array,
  a: ConvShape,
  options: { residual?: Float32Array; relu?: boolean } = {},
): Float32Array => {
  const [hout, wout] = outShape(a)
  const y = new Float32Array(a.N * a.Cout * hout * wout)
  for (let n = 0; n < a.N; n++) {
    for (let co = 0; co < a.Cout; co++) {
      for (let oh = 0; oh < hout; oh++) {
        for (let ow = 0; ow < wout; ow++) {
          let s = b[co]
          for (let ci = 0; ci < a.Cin; ci++) {
            for (let r = 0; r < a.kh; r++) {
              const ih = oh * a.stride - a.pad + r
              if (ih < 0 || ih >= a.H) continue
              for (let q = 0; q < a.kw; q++) {
                const iw = ow * a.stride - a.pad + q
                if (iw < 0 || iw >= a.W) continue
                s += x[((n * a.Cin + ci) * a.H + ih) * a.W + iw] * w[((co * a.Cin + ci) * a.kh + r) * a.kw + q]
              }
            }
          }
          const idx = ((n * a.Cout + co) * hout + oh) * wout + ow
          if (options.residual !== undefined) s += options.residual[idx]
          y[idx] = options.relu === true ? Math.max(s, 0) : s
        }
      }
    }
  }
  return y
}
