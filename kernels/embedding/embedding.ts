import { grid, u32s, type Binding, type DType, type GpuDevice, type KernelSpec } from "@djinn/gpu"
import { wgsl } from "../source.ts"

/** Bindings: table, ids (i32), out, then pos only in the POS variant. */
export const spec: KernelSpec = { id: "embedding", wgsl: wgsl("embedding"), storage: ["read", "read", "read_write", "read"], uniforms: true }

export interface EmbeddingArgs {
  /** [vocab, D]; its rows are counted from the binding's size, so bind exactly the table (or let ids stay in range). */
  readonly table: Binding
  /** i32 token ids. */
  readonly ids: Binding
  /** [T, D]. */
  readonly out: Binding
  readonly T: number
  readonly D: number
  /** Elements of ids before the first one used. */
  readonly idsOffset?: number
  /** A position table [positions, D] added row by row (GPT-2's wpe); rows past its end add nothing. */
  readonly pos?: Binding
  /** Row of pos for t = 0 (the absolute position of the first token). */
  readonly posOffset?: number
  readonly dtype?: DType
}

const WG = 256

export const encode = (gpu: GpuDevice, args: EmbeddingArgs): void => {
  const { T, D } = args
  if (T * D >= 2 ** 32) throw new Error(`embedding: ${T}×${D} elements exceed u32 indexing`)
  const hasPos = args.pos !== undefined
  const pipeline = gpu.pipeline(spec.id, { dtype: args.dtype ?? "f32", defines: hasPos ? ["POS"] : [] })
  const workgroups = grid(Math.ceil((T * D) / WG))
  gpu.dispatch({
    pipeline,
    bindings: hasPos ? [args.table, args.ids, args.out, args.pos!] : [args.table, args.ids, args.out],
    uniforms: u32s(T, D, args.idsOffset ?? 0, args.posOffset ?? 0, workgroups[0] * WG, 0, 0, 0),
    workgroups,
  })
}

/** CPU reference: ids outside [0, rows of table) give zero rows; `pos` rows past its end add nothing. */
export const reference = (
  table: Float32Array,
  ids: Int32Array,
  a: { T: number; D: number; idsOffset?: number; pos?: Float32Array; posOffset?: number },
): Float32Array => {
  const { T, D } = a
  const vocab = Math.floor(table.length / D)
  const out = new Float32Array(T * D)
  for (let t = 0; t < T; t++) {
    const id = ids[(a.idsOffset ?? 0) + t]
    if (id < 0 || id >= vocab) continue
    const row = (a.posOffset ?? 0) + t
    const posRow = a.pos !== undefined && row < Math.floor(a.pos.length / D) ? row : -1
    for (let d = 0; d < D; d++) out[t * D + d] = table[id * D + d] + (posRow >= 0 ? a.pos![posRow * D + d] : 0)
  }
  return out
}
