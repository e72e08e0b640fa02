import type { Binding, BufferId, DType, GpuDevice } from "@djinn/gpu"
import { dtypeBytes, f16ToF32, f32ToF16 } from "@djinn/gpu"

/**
 * The three segments of the VMU, as the engine sees them: weights (text), per-session KV cache (data) and per-request
 * activations (stack). The engine only asks for memory by segment; the server decides how segments are backed
 * (shared weights, one arena per session, a stack reset after every request).
 */
export type Segment = "text" | "data" | "stack"

export interface Allocation {
  readonly buffer: BufferId
  /** Byte offset, a multiple of 256 (the storage-binding alignment). */
  readonly offset: number
  readonly size: number
}

export interface Memory {
  alloc(bytes: number, segment: Segment, label?: string): Allocation
  /** Gives an allocation back (a no-op for bump-allocated segments, which are reset whole). */
  release(allocation: Allocation): void
}

export const ALIGN = 256
export const alignUp = (n: number, a = ALIGN): number => Math.ceil(n / a) * a

/** One GPU buffer per allocation: the engine's default outside the server. */
export const directMemory = (gpu: GpuDevice): Memory => ({
  alloc: (bytes, segment, label) => {
    const size = alignUp(Math.max(bytes, 4))
    return { buffer: gpu.createBuffer(size, label ?? segment), offset: 0, size }
  },
  release: (a) => gpu.destroyBuffer(a.buffer),
})

/** A tensor on the GPU: a buffer range, its shape and element type. */
export interface Tensor {
  readonly buffer: BufferId
  readonly offset: number
  readonly shape: readonly number[]
  readonly dtype: DType | "i32"
}

export const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1)
export const elementBytes = (dtype: DType | "i32"): number => (dtype === "i32" ? 4 : dtypeBytes(dtype))

export const binding = (t: Tensor): Binding => ({
  buffer: t.buffer,
  offset: t.offset,
  size: alignUp(numel(t.shape) * elementBytes(t.dtype), 4),
})

export const allocTensor = (mem: Memory, shape: readonly number[], dtype: DType | "i32", segment: Segment, label?: string): Tensor => {
  const a = mem.alloc(numel(shape) * elementBytes(dtype), segment, label)
  return { buffer: a.buffer, offset: a.offset, shape, dtype }
}

/** Bytes of f32 values in a dtype's storage format. */
export const encodeValues = (values: Float32Array, dtype: DType): Uint8Array =>
  dtype === "f16" ? new Uint8Array(f32ToF16(values).buffer) : new Uint8Array(values.buffer, values.byteOffset, values.byteLength)

export const uploadTensor = (gpu: GpuDevice, mem: Memory, values: Float32Array, shape: readonly number[], dtype: DType, segment: Segment, label?: string): Tensor => {
  const t = allocTensor(mem, shape, dtype, segment, label)
  gpu.writeBuffer(t.buffer, t.offset, encodeValues(values, dtype))
  return t
}

export const readTensor = async (gpu: GpuDevice, t: Tensor): Promise<Float32Array> => {
  const n = numel(t.shape)
  const raw = await gpu.read(t.buffer, t.offset, alignUp(n * elementBytes(t.dtype), 4))
  if (t.dtype === "f16") {
    return f16ToF32(new Uint16Array(raw.buffer, raw.byteOffset, n))
  }
  if (t.dtype === "i32") return Float32Array.from(new Int32Array(raw.buffer, raw.byteOffset, n))
  return new Float32Array(raw.buffer, raw.byteOffset, n)
}

/**
 * A caching allocator (as PyTorch's): released buffers go to a free list by size and are handed out again, so a
 * request after the first creates no GPU buffers. The native baseline and the harness's engine hosts use it.
 */
export const pooledMemory = (gpu: GpuDevice): Memory & { readonly buffers: () => number; trim(): void } => {
  const free = new Map<number, BufferId[]>()
  const sizes = new Map<BufferId, number>()
  return {
    alloc: (bytes, segment, label) => {
      const size = alignUp(Math.max(bytes, 4))
      const reused = free.get(size)?.pop()
      if (reused !== undefined) return { buffer: reused, offset: 0, size }
      const buffer = gpu.createBuffer(size, label ?? segment)
      sizes.set(buffer, size)
      return { buffer, offset: 0, size }
    },
    release: (a) => {
      const size = sizes.get(a.buffer)
      if (size === undefined) return
      const list = free.get(size) ?? []
      if (!list.includes(a.buffer)) list.push(a.buffer)
      // Lowest id last (alloc pops it), whatever the release order: a request repeated gets the same buffers, so the
      // device's bind groups (keyed by buffer) are found again instead of created every other request.
      list.sort((x, y) => y - x)
      free.set(size, list)
    },
    buffers: () => sizes.size,
    trim: () => {
      for (const list of free.values()) for (const b of list) { gpu.destroyBuffer(b); sizes.delete(b) }
      free.clear()
    },
  }
}
