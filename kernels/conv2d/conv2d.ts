import { grid, u32s, type Binding, type DType, type GpuDevice, type KernelSpec } from "@djinn/gpu"
import { wgsl } from "../source.ts"

/** Storage: x, w, b, y, and with RESIDUAL a fifth, the residual; with SPLIT_K only x, w and the f32 workspace. */
export const spec: KernelSpec = { id: "conv2d", wgsl: wgsl("conv2d"), storage: ["read", "read", "read", "read_write", "read"], uniforms: true }
/** Split-K's second pass. Storage: workspace, b, y, and with RESIDUAL the residual. */
export const splitkSpec: KernelSpec = {
  id: "conv2d_splitk",
  wgsl: wgsl("conv2d", "conv2d_splitk.wgsl"),
  storage: ["read", "read", "read_write", "read"],
  uniforms: true,
}
export const specs: readonly KernelSpec[] = [spec, splitkSpec]

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
  /**
   * f32 scratch of at least `plan(shape).workspaceBytes` bytes. With it, convolutions whose output is too small to
   * fill the GPU but whose K is deep (ResNet's later stages at small batch) split K over workgroups and add the
   * chunks in a second pass. Without it, one pass.
   */
  readonly workspace?: Binding
  /** Upper bound on K chunks (1: never split). Default: `plan`'s choice. */
  readonly maxSplits?: number
  readonly dtype?: DType
}

const BM = 64
const BN = 64
const BK = 16
const WG = 256
/** Aim for at least this many workgroups (a couple of waves on a 132-SM H100). */
const TARGET_WORKGROUPS = 256
/** Each chunk keeps at least this many K steps, so that the partial sums' traffic stays small beside the work. */
const MIN_STEPS_PER_SPLIT = 4
const MAX_SPLITS = 32

export interface ConvPlan {
  readonly hout: number
  readonly wout: number
  /** K chunks (1: a single pass). */
  readonly splits: number
  /** Taps per chunk, a multiple of 16. */
  readonly kChunk: number
  /** Workspace the split needs (0 when it does not split). */
  readonly workspaceBytes: number
}

/** Output height/width of a convolution (no dilation). */
export const outSize = (size: number, k: number, stride: number, pad: number): number => Math.floor((size + 2 * pad - k) / stride) + 1

const outShape = (a: ConvShape): [hout: number, wout: number] => {
  const hout = outSize(a.H, a.kh, a.stride, a.pad), wout = outSize(a.W, a.kw, a.stride, a.pad)
  if (hout < 1 || wout < 1) throw new Error(`conv2d: ${a.kh}×${a.kw} kernel larger than the padded ${a.H}×${a.W} input`)
  return [hout, wout]
}

/** How a convolution runs: split K when its output tiles alone leave the GPU idle and K is deep enough. */
export const plan = (a: ConvShape, maxSplits = MAX_SPLITS): ConvPlan => {
  const [hout, wout] = outShape(a)
  const m = a.N * hout * wout
  const k = a.Cin * a.kh * a.kw
  const tiles = Math.ceil(m / BM) * Math.ceil(a.Cout / BN)
  const steps = Math.ceil(k / BK)
  const want = Math.min(Math.ceil(TARGET_WORKGROUPS / tiles), Math.floor(steps / MIN_STEPS_PER_SPLIT), maxSplits)
  if (want < 2 || Math.ceil(m / BM) > 65535) return { hout, wout, splits: 1, kChunk: k, workspaceBytes: 0 }
  const kChunk = Math.ceil(steps / want) * BK
  const splits = Math.ceil(k / kChunk)
  return { hout, wout, splits, kChunk, workspaceBytes: splits === 1 ? 0 : splits * m * a.Cout * 4 }
}

export const encode = (gpu: GpuDevice, args: Conv2dArgs): void => {
  const dtype = args.dtype ?? "f32"
  const pl = args.workspace === undefined ? plan(args, 1) : plan(args, args.maxSplits)
  const { hout, wout } = pl
  const m = args.N * hout * wout
  const k = args.Cin * args.kh * args.kw
  const defines: string[] = []
  if (args.residual !== undefined) defines.push("RESIDUAL")
  if (args.relu === true) defines.push("RELU")
  const nTiles = Math.ceil(args.Cout / BN)
  const shape = [args.N, args.Cin, args.H, args.W, args.Cout, args.kh, args.kw, args.stride, args.pad, hout, wout, m, k]
  if (pl.splits > 1 && args.workspace !== undefined) {
    const size = args.workspace.size
    if (size !== undefined && size < pl.workspaceBytes) throw new Error(`conv2d: workspace of ${size} bytes < ${pl.workspaceBytes} needed`)
    const mTiles = Math.ceil(m / BM)
    gpu.dispatch({
      pipeline: gpu.pipeline(spec.id, { dtype, defines: ["SPLIT_K"] }),
      bindings: [args.x, args.w, args.workspace],
      uniforms: u32s(...shape, mTiles, pl.kChunk, 0),
      workgroups: [mTiles, nTiles, pl.splits],
    })
    const total = m * args.Cout
    const workgroups = grid(Math.ceil(total / WG))
    const bindings = [args.workspace, args.b, args.y]
    if (args.residual !== undefined) bindings.push(args.residual)
    gpu.dispatch({
      pipeline: gpu.pipeline(splitkSpec.id, { dtype, defines }),
      bindings,
      uniforms: u32s(total, hout * wout, args.Cout, pl.splits, workgroups[0] * WG, 0, 0, 0),
      workgroups,
    })
    return
  }
  const [tilesX, tilesZ] = grid(Math.ceil(m / BM))
  const bindings = [args.x, args.w, args.b, args.y]
  if (args.residual !== undefined) bindings.push(args.residual)
  gpu.dispatch({
    pipeline: gpu.pipeline(spec.id, { dtype, defines }),
    bindings,
    uniforms: u32s(...shape, tilesX, k, 0),
    workgroups: [tilesX, nTiles, tilesZ],
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
