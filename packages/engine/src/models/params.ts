import type { Binding, DType, GpuDevice } from "@djinn/gpu"
import { fill } from "@djinn/kernels"
import { engineError } from "../errors.ts"
import { allocTensor, binding, numel, uploadTensor, type Memory, type Tensor } from "../memory.ts"
import type { WeightSource } from "../weights.ts"

/** A checkpoint tensor: its HF / torchvision name and shape. */
export interface TensorSpec {
  readonly name: string
  readonly shape: readonly number[]
}

export const paramCount = (specs: readonly TensorSpec[]): number => specs.reduce((n, t) => n + numel(t.shape), 0)

/**
 * Puts a model's parameters in the text segment. Checkpoint tensors are read (as f32), fused where a model asks
 * (q|k|v, gate|up) and uploaded in the model's dtype; seeded synthetic tensors are generated on the GPU by the `fill`
 * kernel — the same values `get` would give — so a 7B model loads without 13 GB crossing the bus.
 */
export class ParamLoader {
  bytes = 0
  private readonly table: ReadonlyMap<string, readonly number[]>
  private readonly gpu: GpuDevice
  private readonly mem: Memory
  private readonly weights: WeightSource
  readonly dtype: DType
  /** Prepended to every name looked up in the weights (e.g. `bert.` for a BertFor… checkpoint). */
  private readonly prefix: string

  constructor(gpu: GpuDevice, mem: Memory, weights: WeightSource, dtype: DType, specs: readonly TensorSpec[], prefix = "") {
    this.gpu = gpu
    this.mem = mem
    this.weights = weights
    this.dtype = dtype
    this.prefix = prefix
    this.table = new Map(specs.map((t) => [t.name, t.shape]))
  }

  get synthetic(): boolean {
    return this.weights.init !== undefined
  }

  shape(name: string): readonly number[] {
    const shape = this.table.get(name)
    if (shape === undefined) throw engineError("MissingTensor", `no tensor '${name}' in the model's parameter table`)
    return shape
  }

  /** f32 values of one checkpoint tensor (for CPU-side preparation such as BatchNorm folding). */
  values(name: string): Float32Array {
    return this.weights.get(this.prefix + name, this.shape(name))
  }

  /** One tensor, or several concatenated along their first dimension into one (fused projections). */
  load(...names: string[]): Tensor {
    const shapes = names.map((n) => this.shape(n))
    const rows = shapes.reduce((r, s) => r + s[0], 0)
    const shape = names.length === 1 ? shapes[0] : [rows, ...shapes[0].slice(1)]
    const label = names.join("+")
    const init = this.weights.init
    if (init !== undefined) {
      const t = allocTensor(this.mem, shape, this.dtype, "text", label)
      let offset = 0
      for (let i = 0; i < names.length; i++) {
        const n = numel(shapes[i])
        fill.encode(this.gpu, { y: binding(t), n, offset, ...init(this.prefix + names[i], shapes[i]), dtype: this.dtype })
        offset += n
      }
      return this.count(t)
    }
    const parts = names.map((n, i) => this.weights.get(this.prefix + n, shapes[i]))
    return this.upload(parts.length === 1 ? parts[0] : concat(parts), shape, label)
  }

  /** Values prepared on the CPU (folded, fused), uploaded in the model's dtype. */
  upload(values: Float32Array, shape: readonly number[], label: string): Tensor {
    return this.count(uploadTensor(this.gpu, this.mem, values, shape, this.dtype, "text", label))
  }

  /** A tensor filled on the GPU from a parameter's seeded generator (synthetic sources only). */
  fillAs(name: string, shape: readonly number[], label = name): Tensor {
    const init = this.weights.init
    if (init === undefined) throw engineError("Unsupported", `fillAs('${name}') needs a seeded weight source`)
    const t = allocTensor(this.mem, shape, this.dtype, "text", label)
    fill.encode(this.gpu, { y: binding(t), n: numel(shape), ...init(this.prefix + name, shape), dtype: this.dtype })
    return this.count(t)
  }

  /** A text tensor that the model fills itself (a parameter laid out anew on the GPU), counted as model memory. */
  allocate(shape: readonly number[], label: string): Tensor {
    return this.count(allocTensor(this.mem, shape, this.dtype, "text", label))
  }

  /**
   * A parameter's seeded values written into a binding of the caller's (a staging buffer the model rearranges from),
   * not counted: the values `fillAs` would give, in the loader's dtype. Synthetic sources only.
   */
  fillInto(name: string, shape: readonly number[], y: Binding): void {
    const init = this.weights.init
    if (init === undefined) throw engineError("Unsupported", `fillInto('${name}') needs a seeded weight source`)
    fill.encode(this.gpu, { y, n: numel(shape), ...init(this.prefix + name, shape), dtype: this.dtype })
  }

  private count(t: Tensor): Tensor {
    this.bytes += numel(t.shape) * (this.dtype === "f16" ? 2 : 4)
    return t
  }
}

const concat = (parts: readonly Float32Array[]): Float32Array => {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.length }
  return out
}

/** Releases every tensor-valued field of a scratch record. */
export const releaseAll = (mem: Memory, tensors: Record<string, unknown>): void => {
  for (const t of Object.values(tensors)) {
    if (typeof t === "object" && t !== null && "buffer" in t) mem.release({ buffer: (t as Tensor).buffer, offset: (t as Tensor).offset, size: 0 })
  }
}
