import { grid, u32s, type Binding, type DType, type GpuDevice, type KernelSpec } from "@djinn/gpu"
import { wgsl } from "../source.ts"

export const spec: KernelSpec = { id: "gelu", wgsl: wgsl("gelu"), storage: ["read", "read_write"], uniforms: true }

/** "tanh": GPT-2's approximation (gelu_new / gelu_pytorch_tanh); "erf": the exact GELU (BERT). */
export type GeluForm = "tanh" | "erf"

export interface GeluArgs {
  readonly x: Binding
  readonly y: Binding
  readonly n: number
  readonly form: GeluForm
  readonly dtype?: DType
}

const WG = 256

export const encode = (gpu: GpuDevice, args: GeluArgs): void => {
  const pipeline = gpu.pipeline(spec.id, { dtype: args.dtype ?? "f32", defines: args.form === "erf" ? ["ERF"] : [] })
  const workgroups = grid(Math.ceil(args.n / WG))
  gpu.dispatch({ pipeline, bindings: [args.x, args.y], uniforms: u32s(args.n, workgroups[0] * WG, 0, 0), workgroups })
}

/** erfc in float64 to ~1e-12 relative: Maclaurin series of erf below 3, Lentz's continued fraction above. */
export const erfc = (x: number): number => {
  if (x < 0) return 2 - erfc(-x)
  if (x < 3) {
    let term = x, sum = x
    for (let k = 1; k < 200; k++) {
      term *= (-x * x) / k
      const add = term / (2 * k + 1)
      sum += add
      if (Math.abs(add) < 1e-17) break
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * sum
  }
  // erfc(x) = exp(-x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))), evaluated by modified Lentz.
  let f = x, c = x, d = 0
  for (let k = 1; k < 500; k++) {
    d = 1 / (x + (k / 2) * d)
    c = x + k / 2 / c
    f *= c * d
    if (Math.abs(c * d - 1) < 1e-16) break
  }
  return Math.exp(-x * x) / (f * Math.sqrt(Math.PI))
}

/** CPU reference in float64 (both forms written so the left tail does not cancel). */
export const reference = (x: Float32Array, form: GeluForm): Float32Array =>
  x.map((v) =>
    form === "erf"
      ? 0.5 * v * erfc(-v / Math.SQRT2)
      : v / (1 + Math.exp(-2 * Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v))), // = 0.5·v·(1 + tanh(u)), without the cancellation
  )
