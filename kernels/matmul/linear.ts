/**
 * What the linear kernels (matmul, gemv) share: their arguments, variant defines and the CPU reference.
 * y[M,N] = act(x[M,K] · W + b[N]) (+ residual[M,N]) with W as [K,N] ("kn", GPT-2 Conv1D) or [N,K] ("nk", nn.Linear); or,
 * with `residualBeforeActivation`, y = act(x·W + b + residual) (a ResNet block's shortcut before its last ReLU).
 */
import { grid, packUniforms, type Binding, type DType, type GpuDevice, type KernelSpec } from "@djinn/gpu"
import { wgsl } from "../source.ts"

export type WLayout = "kn" | "nk"
export type Activation = "none" | "gelu_tanh" | "gelu_erf" | "relu"
/**
 * How a fused gate_up weight ("nk") orders its gate and up rows (`LinearArgs.swiglu`): "halves" is N gate rows then N
 * up rows (HF's two projections stacked); "blocks" is, for each 16 outputs, their 16 gate rows then their 16 up rows,
 * N rounded up to a multiple of 16 with zero rows (`gluRows`). In "blocks" a GEMM's adjacent 16-column blocks are the
 * gate and up of the same 16 outputs, so its epilogue can combine them.
 */
export type GluLayout = "halves" | "blocks"
/** Outputs per block of the "blocks" layout. */
export const GLU_BLOCK = 16

export interface LinearArgs {
  readonly x: Binding
  readonly w: Binding
  /** Bias of N elements; none when absent. */
  readonly b?: Binding
  readonly y: Binding
  readonly M: number
  readonly N: number
  readonly K: number
  readonly wLayout: WLayout
  readonly activation?: Activation
  /** Storage dtype of x, W, b and y (arithmetic is f32 either way). */
  readonly dtype?: "f32" | "f16"
  /** Element offset of x's first row within its binding, for starts that are not 256-byte aligned. */
  readonly xOffset?: number
  /** Element offset of y's first row within its binding. */
  readonly yOffset?: number
  /**
   * Added after bias and activation: y = act(x·W + b) + residual, [M,N] (a transformer's residual connection fused
   * into its projection). A different buffer from y. Only kernels that declare it take it (gemv, matmul, sgmat).
   */
  readonly residual?: Binding
  /** Element offset of the residual's first row within its binding. */
  readonly residualOffset?: number
  /**
   * With `residual`: add it before the activation instead, y = act(x·W + b + residual) (ResNet: the shortcut is added
   * before the block's last ReLU). matmul and sgmat take it; gemv does not (`linear` sends such calls to matmul).
   */
  readonly residualBeforeActivation?: boolean
  /**
   * "nk" only: Llama's gated MLP in the epilogue. W holds a gate and an up row for each of the N outputs (`gluRows(N)`
   * rows, ordered as the layout says; b likewise), and y[m,n] = silu(x_m·gate_n + b_gate) · (x_m·up_n + b_up)
   * (+ residual). Excludes `activation`. gemv takes both layouts; the GEMMs take "blocks" without a residual.
   */
  readonly swiglu?: GluLayout
}

/** Rows of a fused gate_up weight for N outputs. */
export const gluRows = (N: number, layout: GluLayout): number =>
  layout === "halves" ? 2 * N : 2 * Math.ceil(N / GLU_BLOCK) * GLU_BLOCK

/** The W row (and bias element) of output n's gate, or with `up` its up, in a fused gate_up weight. */
export const gluRow = (n: number, up: boolean, N: number, layout: GluLayout): number =>
  layout === "halves" ? n + (up ? N : 0) : 2 * GLU_BLOCK * Math.floor(n / GLU_BLOCK) + (n % GLU_BLOCK) + (up ? GLU_BLOCK : 0)

/**
 * gate and up ([N, K] each, row-major) as one fused weight in `layout` (the rows that pad "blocks" are 0). The
 * engine's loader and the tests build "blocks" weights with it.
 */
export const fuseGlu = (gate: Float32Array, up: Float32Array, N: number, K: number, layout: GluLayout): Float32Array => {
  const out = new Float32Array(gluRows(N, layout) * K)
  if (layout === "halves") {
    out.set(gate.subarray(0, N * K))
    out.set(up.subarray(0, N * K), N * K)
    return out
  }
  // Block b: gate rows 16b .. (a partial last block: to N) at row 32b, the same up rows at row 32b + 16.
  for (let n0 = 0; n0 < N; n0 += GLU_BLOCK) {
    const end = Math.min(n0 + GLU_BLOCK, N) * K
    out.set(gate.subarray(n0 * K, end), 2 * n0 * K)
    out.set(up.subarray(n0 * K, end), (2 * n0 + GLU_BLOCK) * K)
  }
  return out
}

/** The activation functions, appended to each linear kernel's WGSL. */
export const epilogueWgsl = (): string => wgsl("matmul", "epilogue.wgsl")

/**
 * Defines for the bias, activation, residual and swiglu (the part of a variant that the kernels share). RESIDUAL binds
 * the residual (added after the activation); RESIDUAL_PRE, always beside it, moves the add before the activation.
 * SWIGLU combines gate and up rows; GLU_BLOCKS, beside it, reads them in the "blocks" layout.
 */
export const epilogueDefines = (args: Pick<LinearArgs, "b" | "activation" | "residual" | "residualBeforeActivation" | "swiglu">): string[] => {
  const defines: string[] = []
  if (args.swiglu !== undefined) defines.push("SWIGLU")
  if (args.swiglu === "blocks") defines.push("GLU_BLOCKS")
  if (args.b !== undefined) defines.push("BIAS")
  if (args.residual !== undefined) defines.push("RESIDUAL")
  if (args.residual !== undefined && args.residualBeforeActivation === true) defines.push("RESIDUAL_PRE")
  if (args.activation === "gelu_tanh") defines.push("GELU_TANH")
  else if (args.activation === "gelu_erf") defines.push("GELU_ERF")
  else if (args.activation === "relu") defines.push("RELU")
  return defines
}

/** Epilogues beyond bias and activation that a kernel implements (checkShape rejects the others). */
export interface Epilogues {
  readonly residual?: boolean
  readonly residualBeforeActivation?: boolean
  /** The gate_up layouts the kernel's swiglu epilogue reads, and whether it adds a residual after it. */
  readonly swiglu?: readonly GluLayout[]
  readonly swigluResidual?: boolean
}

export const checkShape = (op: string, args: Omit<LinearArgs, "y">, epilogues: Epilogues = {}): void => {
  for (const [name, v] of [["M", args.M], ["N", args.N], ["K", args.K]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${op}: ${name} must be a positive integer, got ${v}`)
  }
  if (args.swiglu !== undefined) {
    const layouts = epilogues.swiglu ?? []
    if (!layouts.includes(args.swiglu)) throw new Error(`${op}: no swiglu epilogue for the '${args.swiglu}' layout`)
    if (args.wLayout !== "nk") throw new Error(`${op}: swiglu needs W as gate and up rows ("nk")`)
    if ((args.activation ?? "none") !== "none") throw new Error(`${op}: swiglu excludes an activation`)
    if (args.residual !== undefined && epilogues.swigluResidual !== true) throw new Error(`${op}: no residual with swiglu`)
    if (gluRows(args.N, args.swiglu) * args.K >= 2 ** 32) throw new Error(`${op}: indices exceed u32`)
  }
  if (args.residual !== undefined && epilogues.residual !== true) throw new Error(`${op}: no residual epilogue (add the residual apart)`)
  if (args.residual !== undefined && args.residualBeforeActivation === true && epilogues.residualBeforeActivation !== true) {
    throw new Error(`${op}: no residual before the activation`)
  }
  for (const [name, v] of [["xOffset", args.xOffset ?? 0], ["yOffset", args.yOffset ?? 0], ["residualOffset", args.residualOffset ?? 0]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new Error(`${op}: ${name} must be a non-negative integer, got ${v}`)
  }
  if (args.N * args.K >= 2 ** 32 || args.M * Math.max(args.N, args.K) >= 2 ** 32) throw new Error(`${op}: indices exceed u32`)
}

export const dtypeOf = (args: Pick<LinearArgs, "dtype">): DType => args.dtype ?? "f32"

/** A product x·W without epilogue whose split-K partials the caller reduces (`matmul.linearPartials`). */
export type ProductArgs = Pick<LinearArgs, "x" | "w" | "M" | "N" | "K" | "wLayout" | "dtype" | "xOffset">

/**
 * A GEMM's first pass alone: f32 partial sums [splits, M, N] of x·W in a per-device workspace (valid until the next
 * split-K GEMM of the same kernel is recorded), for a consumer that fuses the reduce (layernorm's PARTIALS).
 */
export interface Partials {
  readonly part: Binding
  readonly splits: number
}

/** k per split (a whole number of K-steps of `step`) and the splits that leaves, for at most `splits` splits of K. */
export const splitK = (K: number, splits: number, step: number): { kc: number; splits: number } => {
  if (!Number.isInteger(splits) || splits < 1) throw new Error(`split-K: splits must be a positive integer, got ${splits}`)
  const kc = Math.ceil(Math.ceil(K / splits) / step) * step
  return { kc, splits: Math.ceil(K / kc) }
}

/** Split-K's second pass of the linear kernels (matmul_reduce.wgsl): the splits' sum, the bias, the activation, the residual. */
export const reduceSpec: KernelSpec = { id: "matmul_reduce", wgsl: wgsl("matmul", "matmul_reduce.wgsl") + "\n" + epilogueWgsl(), storage: ["read", "read_write", "read", "read"], uniforms: true }

export interface ReduceArgs {
  /** f32 [splits, M, N]. */
  readonly part: Binding
  /** [M, N] from element yOffset. */
  readonly y: Binding
  readonly b?: Binding
  readonly M: number
  readonly N: number
  readonly splits: number
  readonly yOffset?: number
  readonly activation?: Activation
  /** [M, N] from element residualOffset, added after the activation (before it with residualBeforeActivation). */
  readonly residual?: Binding
  readonly residualOffset?: number
  readonly residualBeforeActivation?: boolean
  /** Storage dtype of y, b and the residual (default f16, the tensor-core GEMM's). */
  readonly dtype?: DType
}

/** Split-K's second pass (the tensor-core GEMM's and gemv's): y = act(Σ_z part[z] + b) (+ residual, or act(Σ_z part[z] + b + residual)). */
export const encodeReduce = (gpu: GpuDevice, a: ReduceArgs): void => {
  const MN = a.M * a.N
  const groups = grid(Math.ceil(MN / 256))
  const bindings = [a.part, a.y]
  if (a.b !== undefined) bindings.push(a.b)
  if (a.residual !== undefined) bindings.push(a.residual)
  gpu.dispatch({
    pipeline: gpu.pipeline(reduceSpec.id, { dtype: a.dtype ?? "f16", defines: epilogueDefines(a) }),
    bindings,
    uniforms: packUniforms([["u32", MN], ["u32", a.N], ["u32", a.splits], ["u32", a.yOffset ?? 0], ["u32", groups[0] * 256], ["u32", a.residualOffset ?? 0]]),
    workgroups: groups,
  })
}

// ---- CPU reference (float64) ----

/** erf to double precision: Taylor series near 0, Lentz's continued fraction for erfc beyond. */
export const erf = (z: number): number => {
  const a = Math.abs(z)
  if (a < 2.5) {
    let term = z
    let sum = z
    for (let n = 1; n < 80; n++) {
      term *= (-z * z) / n
      const add = term / (2 * n + 1)
      sum += add
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break
    }
    return (2 / Math.sqrt(Math.PI)) * sum
  }
  if (a > 6) return Math.sign(z)
  // erfc(a) = exp(-a²)/√π · 1/(a + (1/2)/(a + 1/(a + (3/2)/(a + 2/(a + …))))), evaluated from the tail.
  let f = a
  for (let n = 60; n >= 1; n--) f = a + n / 2 / f
  const erfc = Math.exp(-a * a) / Math.sqrt(Math.PI) / f
  return Math.sign(z) * (1 - erfc)
}

export const activate = (v: number, activation: Activation = "none"): number => {
  if (activation === "gelu_tanh") return 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)))
  if (activation === "gelu_erf") return 0.5 * v * (1 + erf(v / Math.SQRT2))
  if (activation === "relu") return Math.max(v, 0)
  return v
}

export interface ReferenceArgs {
  readonly x: ArrayLike<number>
  readonly w: ArrayLike<number>
  readonly b?: ArrayLike<number>
  readonly M: number
  readonly N: number
  readonly K: number
  readonly wLayout: WLayout
  readonly activation?: Activation
  readonly xOffset?: number
  readonly residual?: ArrayLike<number>
  readonly residualOffset?: number
  readonly residualBeforeActivation?: boolean
}

/** One output y[m,n] in float64. */
export const referenceAt = (r: ReferenceArgs, m: number, n: number): number => {
  const xo = (r.xOffset ?? 0) + m * r.K
  let s = 0
  if (r.wLayout === "nk") for (let k = 0; k < r.K; k++) s += r.x[xo + k] * r.w[n * r.K + k]
  else for (let k = 0; k < r.K; k++) s += r.x[xo + k] * r.w[k * r.N + n]
  if (r.b !== undefined) s += r.b[n]
  if (r.residual === undefined) return activate(s, r.activation)
  const res = r.residual[(r.residualOffset ?? 0) + m * r.N + n]
  return r.residualBeforeActivation === true ? activate(s + res, r.activation) : activate(s, r.activation) + res
}

/**
 * CPU reference of a swiglu linear (`LinearArgs.swiglu`): y[m,n] = silu(x_m·gate_n + b) · (x_m·up_n + b) (+ residual),
 * W and b as fused in `layout` (`fuseGlu`), float64.
 */
export const referenceSwiglu = (r: ReferenceArgs, layout: GluLayout = "halves"): Float64Array => {
  const { M, N } = r
  const rows = gluRows(N, layout)
  const a = reference({ ...r, N: rows, activation: "none", residual: undefined })
  const y = new Float64Array(M * N)
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      const g = a[m * rows + gluRow(n, false, N, layout)]
      const u = a[m * rows + gluRow(n, true, N, layout)]
      y[m * N + n] = (g / (1 + Math.exp(-g))) * u + (r.residual === undefined ? 0 : r.residual[(r.residualOffset ?? 0) + m * N + n])
    }
  }
  return y
}

/** CPU reference: y[M,N] in float64. */
export const reference = (r: ReferenceArgs): Float64Array => {
  const y = new Float64Array(r.M * r.N)
  for (let m = 0; m < r.M; m++) for (let n = 0; n < r.N; n++) y[m * r.N + n] = referenceAt(r, m, n)
  return y
}
