import { grid, u32s, type Binding, type DType, type GpuDevice, type KernelSpec } from "@djinn/gpu"
import { wgsl } from "../source.ts"

export const spec: KernelSpec = { id: "add", wgsl: wgsl("add"), storage: ["read", "read", "read_write"], uniforms: true }

export type BinaryOp = "add" | "mul"

export interface AddArgs {
  readonly a: Binding
  readonly b: Binding
  readonly out: Binding
  /** Elements of a and out. */
  readonly n: number
  /** Elements of b; must divide n (broadcast over rows). */
  readonly bLen: number
  readonly op?: BinaryOp
  readonly dtype?: DType
}

const WG = 256

export const encode = (gpu: GpuDevice, args: AddArgs): void => {
  if (args.n % args.bLen !== 0) throw new Error(`add: b length ${args.bLen} does not divide n ${args.n}`)
  const defines = args.op === "mul" ? ["MUL"] : []
  const pipeline = gpu.pipeline(spec.id, { dtype: args.dtype ?? "f32", defines })
  const workgroups = grid(Math.ceil(args.n / WG))
  gpu.dispatch({
    pipeline,
    bindings: [args.a, args.b, args.out],
    uniforms: u32s(args.n, args.bLen, workgroups[0] * WG, 0),
    workgroups,
  })
}

/** CPU reference. */
export const reference = (a: Float32Array, b: Float32Array, op: BinaryOp = "add"): Float32Array =>
  a.map((x, i) => (op === "mul" ? x * b[i % b.length] : x + b[i % b.length]))
