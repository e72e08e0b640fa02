import { grid, u32s, type Binding, type DType, type GpuDevice, type KernelSpec } from "@djinn/gpu"
import { wgsl } from "../source.ts"

export const spec: KernelSpec = { id: "maxpool", wgsl: wgsl("maxpool"), storage: ["read", "read_write"], uniforms: true }

export interface PoolShape {
  /** x and y as [N, C, H, W] (default) or [N, H, W, C]. */
  readonly layout?: "nchw" | "nhwc"
  readonly N: number
  readonly C: number
  readonly H: number
  readonly W: number
  /** Square window k×k. */
  readonly k: number
  readonly stride: number
  readonly pad: number
}

export interface MaxPoolArgs extends PoolShape {
  /** [N, C, H, W] (or NHWC). */
  readonly x: Binding
  /** [N, C, Hout, Wout] (or NHWC; see `outSize`); a different buffer range from x. */
  readonly y: Binding
  readonly dtype?: DType
}

const WG = 256

/** Output height/width (PyTorch, ceil_mode false). */
export const outSize = (size: number, k: number, stride: number, pad: number): number => Math.floor((size + 2 * pad - k) / stride) + 1

const check = (a: PoolShape): void => {
  if (a.pad > a.k / 2) throw new Error(`maxpool: padding ${a.pad} exceeds half the window ${a.k}`)
  if (outSize(a.H, a.k, a.stride, a.pad) < 1 || outSize(a.W, a.k, a.stride, a.pad) < 1) throw new Error("maxpool: window larger than the padded input")
}

export const encode = (gpu: GpuDevice, args: MaxPoolArgs): void => {
  check(args)
  const hout = outSize(args.H, args.k, args.stride, args.pad), wout = outSize(args.W, args.k, args.stride, args.pad)
  const n = args.N * args.C * hout * wout
  const pipeline = gpu.pipeline(spec.id, { dtype: args.dtype ?? "f32", defines: args.layout === "nhwc" ? ["NHWC"] : [] })
  const workgroups = grid(Math.ceil(n / WG))
  gpu.dispatch({
    pipeline,
    bindings: [args.x, args.y],
    uniforms: u32s(args.N * args.C, args.H, args.W, hout, wout, args.k, args.stride, args.pad, n, workgroups[0] * WG, args.C, 0),
    workgroups,
  })
}

/** CPU reference (in the shape's layout). */
export const reference = (x: Float32Array, a: PoolShape): Float32Array => {
  check(a)
  const hout = outSize(a.H, a.k, a.stride, a.pad), wout = outSize(a.W, a.k, a.stride, a.pad)
  const y = new Float32Array(a.N * a.C * hout * wout)
  const nhwc = a.layout === "nhwc"
  const index = (n: number, ch: number, h: number, w: number, H: number, W: number) =>
    nhwc ? ((n * H + h) * W + w) * a.C + ch : ((n * a.C + ch) * H + h) * W + w
  for (let n = 0; n < a.N; n++) {
    for (let ch = 0; ch < a.C; ch++) {
      for (let oh = 0; oh < hout; oh++) {
        for (let ow = 0; ow < wout; ow++) {
          let m = -Infinity
          for (let r = 0; r < a.k; r++) {
            for (let c = 0; c < a.k; c++) {
              const ih = oh * a.stride - a.pad + r, iw = ow * a.stride - a.pad + c
              if (ih >= 0 && ih < a.H && iw >= 0 && iw < a.W) m = Math.max(m, x[index(n, ch, ih, iw, a.H, a.W)])
            }
          }
          y[index(n, ch, oh, ow, hout, wout)] = m
        }
      }
    }
  }
  return y
}
