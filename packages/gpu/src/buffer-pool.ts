/**
 * Free GPU buffers kept for reuse by size (mapped staging buffers for uploads, readback buffers): a request takes the
 * smallest that fits, else a new one of the next power of two, so that one buffer serves the next request of about
 * the same size; given back, the largest `max` are kept and the smallest beyond them destroyed.
 */
export class BufferPool {
  /** Smallest first. */
  private readonly free: GPUBuffer[] = []
  /** Buffers created and requests that reused one. */
  readonly counts = { created: 0, reused: 0 }
  private readonly max: number
  private readonly create: (size: number) => GPUBuffer

  constructor(max: number, create: (size: number) => GPUBuffer) {
    this.max = max
    this.create = create
  }

  take(size: number): GPUBuffer {
    const at = this.free.findIndex((b) => b.size >= size)
    this.counts[at >= 0 ? "reused" : "created"]++
    return at >= 0 ? this.free.splice(at, 1)[0] : this.create(2 ** Math.ceil(Math.log2(Math.max(size, 1))))
  }

  give(buffer: GPUBuffer): void {
    this.free.push(buffer)
    this.free.sort((a, b) => a.size - b.size)
    if (this.free.length > this.max) this.free.shift()!.destroy()
  }

  destroy(): void {
    for (const b of this.free) b.destroy()
    this.free.length = 0
  }
}
