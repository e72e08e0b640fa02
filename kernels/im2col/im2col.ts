import { dtypeBytes, grid, u32s, type Binding, type DType, type GpuDevice, type KernelSpec } from "@djinn/gpu"
import { wgsl } from "../source.ts"

/** Bindings: x, col. */
export const spec: KernelSpec = { id: "im2col", wgsl: wgsl("im2col"), storage: ["read", "read_write"], uniforms: true }

export interface Im2colShape {
  readonly N: number
  readonly H: number
  readonly W: number
  readonly C: number
  readonly kh: number
  readonly kw: number
  readonly stride: number
  readonly pad: number
  /** Row length of col, at least kh·kw·C; the taps beyond are zeros (see `paddedK`). */
  readonly Kp: number
  /** x as [N, H, W, C] (default) or [N, C, H, W] (an NCHW input; a [Cout, Cin, kh, kw] weight to reorder). */
  readonly layout?: "nhwc" | "nchw"
}

export interface Im2colArgs extends Im2colShape {
  readonly x: Binding
  /** [N·Hout·Wout, Kp]; a different buffer range from x. */
  readonly col: Binding
  /** Storage dtype of col, and of x unless `xDtype` says otherwise. */
  readonly dtype?: DType
  /** x's storage dtype where it differs: "f32" with dtype "f16" gathers f32 values into f16 rows (a cast fused). */
  readonly xDtype?: DType
}

const WG = 256

/** Output height/width of the convolution (no dilation). */
export const outSize = (size: number, k: number, stride: number, pad: number): number => Math.floor((size + 2 * pad - k) / stride) + 1

/** K = kh·kw·C rounded up to 8, so that the GEMM's rows of f16 are whole 16-byte pieces (ResNet's stem: 147 → 152). */
export const paddedK = (K: number): number => Math.ceil(K / 8) * 8

/** Rows of col: N·Hout·Wout. */
export const rowsOf = (a: Im2colShape): number => a.N * outSize(a.H, a.kh, a.stride, a.pad) * outSize(a.W, a.kw, a.stride, a.pad)

const check = (a: Im2colShape): [hout: number, wout: number] => {
  const hout = outSize(a.H, a.kh, a.stride, a.pad), wout = outSize(a.W, a.kw, a.stride, a.pad)
  if (hout < 1 || wout < 1) throw new Error(`im2col: ${a.kh}×${a.kw} window larger than the padded ${a.H}×${a.W} input`)
  if (!Number.isInteger(a.Kp) || a.Kp < a.kh * a.kw * a.C) throw new Error(`im2col: Kp ${a.Kp} < kh·kw·C = ${a.kh * a.kw * a.C}`)
  if (a.N * hout * wout * a.Kp >= 2 ** 32 || a.N * a.H * a.W * a.C >= 2 ** 32) throw new Error("im2col: indices exceed u32")
  return [hout, wout]
}

export const encode = (gpu: GpuDevice, args: Im2colArgs): void => {
  const [hout, wout] = check(args)
  const dtype = args.dtype ?? "f32"
  const nchw = args.layout === "nchw"
  // Elements per 16-byte piece; NHWC rows of whole pieces copy a piece a thread.
  const v = 16 / dtypeBytes(dtype)
  const cast = (args.xDtype ?? dtype) !== dtype
  if (cast && (args.xDtype !== "f32" || dtype !== "f16")) throw new Error(`im2col: gathers ${args.xDtype} into ${dtype} (only f32 into f16)`)
  const vec = !nchw && !cast && args.C % v === 0 && args.Kp % v === 0
  const unit = vec ? v : 1
  const kp = args.Kp / unit
  const n = args.N * hout * wout * kp
  const defines = nchw ? ["NCHW"] : vec ? ["VEC"] : []
  if (cast) defines.push("X_F32")
  const workgroups = grid(Math.ceil(n / WG))
  gpu.dispatch({
    pipeline: gpu.pipeline(spec.id, { dtype, defines }),
    bindings: [args.x, args.col],
    uniforms: u32s(args.H, args.W, args.C / unit, args.kw, args.kh * args.kw, args.stride, args.pad, hout, wout, kp, n, workgroups[0] * WG),
    workgroups,
  })
}

/** CPU reference: col [N·Hout·Wout, Kp]. */
export const reference = (x: ArrayLike<number>, a: Im2colShape): Float32Array => {
  const [hout, wout] = check(a)
  const col = new Float32Array(a.N * hout * wout * a.Kp)
  const at = a.layout === "nchw"
    ? (n: number, h: number, w: number, c: number) => x[((n * a.C + c) * a.H + h) * a.W + w]
    : (n: number, h: number, w: number, c: number) => x[((n * a.H + h) * a.W + w) * a.C + c]
  for (let n = 0; n < a.N; n++) {
    for (let oh = 0; oh < hout; oh++) {
      for (let ow = 0; ow < wout; ow++) {
        const row = ((n * hout + oh) * wout + ow) * a.Kp
        for (let r = 0; r < a.kh; r++) {
          const ih = oh * a.stride - a.pad + r
          if (ih < 0 || ih >= a.H) continue
          for (let q = 0; q < a.kw; q++) {
            const iw = ow * a.stride - a.pad + q
            if (iw < 0 || iw >= a.W) continue
            for (let c = 0; c < a.C; c++) col[row + (r * a.kw + q) * a.C + c] = at(n, ih, iw, c)
          }
        }
      }
    }
  }
  return col
}
