import type { BufferId, GpuDevice } from "@djinn/gpu"
import { ALIGN, alignUp, type Allocation } from "@djinn/engine"

/** How a full arena reports itself: a typed error, thrown through the engine's synchronous `Memory.alloc`. */
export type Exhausted = (need: number, free: number, capacity: number) => Error

/**
 * A bump allocator inside one GPU buffer: allocations are 256-aligned ranges, freed all at once by `reset`
 * (a session's KV arena; the per-request stack). Freeing one allocation is a no-op, as in any bump arena.
 */
export class BumpArena {
  readonly buffer: BufferId
  readonly capacity: number
  private top = 0
  private peak = 0
  private readonly gpu: GpuDevice
  private readonly exhausted: Exhausted

  constructor(gpu: GpuDevice, capacity: number, label: string, exhausted: Exhausted) {
    this.gpu = gpu
    this.capacity = alignUp(capacity)
    this.exhausted = exhausted
    this.buffer = gpu.createBuffer(this.capacity, label)
  }

  get used(): number { return this.top }
  get highWater(): number { return this.peak }
  get free(): number { return this.capacity - this.top }

  /** Would `bytes` more (as `count` allocations) fit? */
  fits(bytes: number, count = 1): boolean {
    return alignUp(this.top) + bytes + count * ALIGN <= this.capacity
  }

  alloc(bytes: number): Allocation {
    const offset = alignUp(this.top)
    const size = alignUp(Math.max(bytes, 4))
    if (offset + size > this.capacity) throw this.exhausted(size, this.capacity - offset, this.capacity)
    this.top = offset + size
    this.peak = Math.max(this.peak, this.top)
    return { buffer: this.buffer, offset, size }
  }

  mark(): number { return this.top }
  rewind(mark: number): void { this.top = Math.min(this.top, mark) }
  reset(): void { this.top = 0 }
  destroy(): void { this.gpu.destroyBuffer(this.buffer) }
}

/** Sizes a stack buffer is rounded up to: 4 steps per power of two (≤ 25% slack), so requests of nearby shapes share. */
const bucket = (bytes: number): number => {
  const size = alignUp(Math.max(bytes, 4))
  if (size <= 4096) return size
  const step = 2 ** (Math.floor(Math.log2(size)) - 2)
  return Math.ceil(size / step) * step
}

/**
 * The stack segment of one GPU: activations of the running request, all returned at once by `reset` after it.
 *
 * WebGPU checks buffer usage per whole buffer within a dispatch: one buffer bound both read-only and read-write is a
 * validation error even when the ranges do not overlap, and every kernel reads one activation and writes another. So
 * the stack cannot be one bump-allocated buffer: it is a pool of buffers, one per allocation, handed back whole at
 * the reset and reused by the next request (requests of the same shape reuse exactly the same buffers, so bind groups
 * stay cached). Free buffers beyond the stack budget are destroyed at the reset.
 */
const descending = (a: number, b: number): number => b - a

export class StackArena {
  readonly capacity: number
  private readonly free = new Map<number, BufferId[]>()
  private readonly taken: Array<{ buffer: BufferId; size: number }> = []
  private freeBytes = 0
  private takenBytes = 0
  private peak = 0
  private readonly gpu: GpuDevice

  constructor(gpu: GpuDevice, capacity: number) {
    this.gpu = gpu
    this.capacity = capacity
  }

  /** Bytes handed out to the running request. */
  get used(): number { return this.takenBytes }
  /** Bytes held on the GPU (in use and pooled). */
  get held(): number { return this.takenBytes + this.freeBytes }
  get highWater(): number { return this.peak }

  alloc(bytes: number, label?: string): Allocation {
    const size = bucket(bytes)
    const pooled = this.free.get(size)?.pop()
    let buffer: BufferId
    if (pooled !== undefined) {
      buffer = pooled
      this.freeBytes -= size
    } else {
      buffer = this.gpu.createBuffer(size, `stack:${label ?? ""}`)
    }
    this.taken.push({ buffer, size })
    this.takenBytes += size
    this.peak = Math.max(this.peak, this.takenBytes)
    return { buffer, offset: 0, size }
  }

  reset(): void {
    // Each free list is kept in descending id order, lowest id last (alloc pops it): the same sequence of allocations
    // gets the same buffers request after request, whatever ran in between, so the device's bind groups (keyed by
    // buffer) and replays are found again. Handed back in taken order and popped, the buffers of a size swapped
    // places every other request. A request takes each size's lowest ids in ascending order (then new, higher ones),
    // so handing them back last-taken first keeps a list sorted; it is sorted only when that did not hold (sorting
    // every list on every reset cost 15–50 µs a request, cold).
    let unsorted: BufferId[][] | undefined
    for (let i = this.taken.length - 1; i >= 0; i--) {
      const { buffer, size } = this.taken[i]
      let list = this.free.get(size)
      if (list === undefined) this.free.set(size, (list = []))
      if (list.length > 0 && list[list.length - 1] < buffer) (unsorted ??= []).push(list)
      list.push(buffer)
      this.freeBytes += size
    }
    if (unsorted !== undefined) for (const list of unsorted) list.sort(descending)
    this.taken.length = 0
    this.takenBytes = 0
    // Over budget: drop the largest pooled buffers first (the rarest shapes).
    if (this.freeBytes > this.capacity) {
      const sizes = [...this.free.keys()].sort((a, b) => b - a)
      for (const size of sizes) {
        const list = this.free.get(size)!
        while (list.length > 0 && this.freeBytes > this.capacity) {
          this.gpu.destroyBuffer(list.pop()!)
          this.freeBytes -= size
        }
        if (list.length === 0) this.free.delete(size)
        if (this.freeBytes <= this.capacity) break
      }
    }
  }

  destroy(): void {
    this.reset()
    for (const list of this.free.values()) for (const b of list) this.gpu.destroyBuffer(b)
    this.free.clear()
    this.freeBytes = 0
  }
}
