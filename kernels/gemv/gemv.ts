import { grid, packUniforms, type Binding, type BufferId, type GpuDevice, type KernelSpec } from "@djinn/gpu"
import { wgsl } from "../source.ts"
import { deviceWorkspace } from "../workspace.ts"
import { checkShape, dtypeOf, encodeReduce, epilogueDefines, epilogueWgsl, type LinearArgs } from "../matmul/linear.ts"

export { reference, referenceSwiglu, type LinearArgs } from "../matmul/linear.ts"

export interface GemvArgs extends LinearArgs {
  /**
   * "nk" only: RMSNorm fused. Each row of x is normalized as `rmsnorm` would (x[m,k] / sqrt(mean_k(x[m,k]²) + eps) ·
   * weight[k], f32): the kernel sums the squares of the x it reads for the product and applies rstd to the sum, so the
   * normalized x is not rounded to the storage dtype first (f16 results agree with rmsnorm + gemv to ~1e-3).
   */
  readonly rmsnorm?: { readonly weight: Binding; readonly eps: number }
}

/** The most rows of x one gemv call takes (decode, or a few speculative tokens); `linear` uses matmul beyond. */
export const MAX_M = 8

const epilogue = epilogueWgsl()
/** Bindings: x, W, y, then b (BIAS), then the residual (RESIDUAL), then the norm weight (RMSNORM). */
export const nkSpec: KernelSpec = { id: "gemv_nk", wgsl: wgsl("gemv", "gemv_nk.wgsl") + "\n" + epilogue, storage: ["read", "read", "read_write", "read", "read", "read"], uniforms: true }
/** Bindings: x, W, then y, b (BIAS) and the residual (RESIDUAL), or with SPLIT the f32 partials. */
export const knSpec: KernelSpec = { id: "gemv_kn", wgsl: wgsl("gemv", "gemv_kn.wgsl") + "\n" + epilogue, storage: ["read", "read", "read_write", "read", "read"], uniforms: true }
export const specs: readonly KernelSpec[] = [nkSpec, knSpec]

const WG = 256

export interface GemvOptions {
  /** Reduce with subgroupAdd where the adapter has subgroups (default true); false forces workgroup memory. */
  readonly subgroups?: boolean
  /** f16: read eight halves per 16-byte load where K ("nk") or N ("kn") allows (default true). */
  readonly packed?: boolean
  /** "nk": threads per output row, a power of two from 8 to 256 (default 32). */
  readonly rowThreads?: number
  /** "kn": column-threads per workgroup, a power of two ≤ 256; the rest of the 256 split K (default 32). */
  readonly columnThreads?: number
  /** "kn" split-K: aim for this many workgroups (default 512)… */
  readonly targetGroups?: number
  /** …but give each at least this many rows of W (default 128). */
  readonly minChunk?: number
}

const defaults = { subgroups: true, packed: true, rowThreads: 32, columnThreads: 32, targetGroups: 512, minChunk: 128 }

/** The f32 partial sums of split-K. */
const partials = deviceWorkspace("gemv split-K partials")
const scratchOf = (gpu: GpuDevice, bytes: number): BufferId => partials(gpu, bytes).buffer

/** How the "kn" kernel splits K for a shape: rows of W per workgroup and the number of chunks. */
export const knSplit = (N: number, K: number, columnsPerThread: number, options: GemvOptions = {}): { chunk: number; chunks: number } => {
  const o = { ...defaults, ...options }
  const columnGroups = Math.ceil(N / columnsPerThread / o.columnThreads)
  const wanted = Math.ceil(o.targetGroups / columnGroups)
  const chunks0 = Math.max(1, Math.min(wanted, Math.ceil(K / o.minChunk), 65535))
  const chunk = Math.ceil(K / chunks0)
  return { chunk, chunks: Math.ceil(K / chunk) }
}

/** The epilogue's bindings after the main ones: b, then the residual, each where present. */
const withEpilogue = (bindings: Binding[], args: LinearArgs): Binding[] => {
  if (args.b !== undefined) bindings.push(args.b)
  if (args.residual !== undefined) bindings.push(args.residual)
  return bindings
}

/** Matrix-vector product for M ≤ MAX_M rows of x: y[M,N] = act(x[M,K] · W + b) (+ residual), W in either layout. */
export const encode = (gpu: GpuDevice, args: GemvArgs, options: GemvOptions = {}): void => {
  checkShape("gemv", args, { residual: true, swiglu: ["halves", "blocks"], swigluResidual: true })
  const o = { ...defaults, ...options }
  const { M, N, K } = args
  if (M > MAX_M) throw new Error(`gemv: M = ${M} exceeds MAX_M = ${MAX_M} (use matmul / linear)`)
  const swiglu = args.swiglu !== undefined
  if (swiglu && o.rowThreads > 128) throw new Error("gemv: swiglu needs rowThreads ≤ 128 (two rows a workgroup)")
  const dtype = dtypeOf(args)
  const xOff = args.xOffset ?? 0
  const yOff = args.yOffset ?? 0
  const rOff = args.residualOffset ?? 0
  const norm = args.rmsnorm
  if (norm !== undefined && args.wLayout !== "nk") throw new Error("gemv: rmsnorm needs W as [N, K] (\"nk\")")
  if (args.wLayout === "nk") {
    // 16-byte loads: eight halves (PACKED) or four floats (VEC4) where K and x's offset divide; else scalars.
    const packed = o.packed && dtype === "f16" && K % 8 === 0 && xOff % 8 === 0
    const vec4 = !packed && K % 4 === 0 && xOff % 4 === 0
    const defines = epilogueDefines(args)
    if (packed) defines.push("PACKED")
    if (vec4) defines.push("VEC4")
    if (gpu.adapter.subgroups && o.subgroups) defines.push("SUBGROUPS")
    if (norm !== undefined) defines.push("RMSNORM")
    // Output rows per workgroup: with swiglu half its row slots read gate rows and half up rows.
    const rows = WG / o.rowThreads / (swiglu ? 2 : 1)
    const workgroups = grid(Math.ceil(N / rows))
    const constants = { MR: M, T: o.rowThreads }
    const v = packed ? 8 : vec4 ? 4 : 1
    const bindings = withEpilogue([args.x, args.w, args.y], args)
    if (norm !== undefined) bindings.push(norm.weight)
    gpu.dispatch({
      pipeline: gpu.pipeline(nkSpec.id, { dtype, defines, constants }),
      bindings,
      uniforms: packUniforms([["u32", M], ["u32", N], ["u32", K / v], ["u32", xOff / v], ["u32", yOff], ["u32", workgroups[0]], ["u32", rOff], ["f32", norm?.eps ?? 0]]),
      workgroups,
    })
    return
  }
  const packed = o.packed && dtype === "f16" && N % 8 === 0 && yOff % 8 === 0 && rOff % 8 === 0
  const vec4 = !packed && N % 4 === 0 && yOff % 4 === 0 && rOff % 4 === 0
  const v = packed ? 8 : vec4 ? 4 : 1
  const { chunk, chunks } = knSplit(N, K, v, o)
  const columnGroups = Math.ceil(N / v / o.columnThreads)
  const constants = { MR: M, CT: o.columnThreads }
  if (columnGroups > 65535) throw new Error(`gemv: N = ${N} needs more than 65535 workgroups`)
  const uniforms = packUniforms([["u32", M], ["u32", N / v], ["u32", K], ["u32", xOff], ["u32", yOff / v], ["u32", chunk], ["u32", rOff / v], ["u32", 0]])
  const defines = packed ? ["PACKED"] : vec4 ? ["VEC4"] : []
  if (chunks === 1) {
    gpu.dispatch({
      pipeline: gpu.pipeline(knSpec.id, { dtype, defines: [...defines, ...epilogueDefines(args)], constants }),
      bindings: withEpilogue([args.x, args.w, args.y], args),
      uniforms,
      workgroups: [columnGroups, 1, 1],
    })
    return
  }
  const partBytes = chunks * M * N * 4
  const part: Binding = { buffer: scratchOf(gpu, partBytes), offset: 0, size: partBytes }
  gpu.dispatch({
    pipeline: gpu.pipeline(knSpec.id, { dtype, defines: [...defines, "SPLIT"], constants }),
    bindings: [args.x, args.w, part],
    uniforms,
    workgroups: [columnGroups, chunks, 1],
  })
  encodeReduce(gpu, { ...args, part, splits: chunks, yOffset: yOff, residualOffset: rOff, dtype })
}
