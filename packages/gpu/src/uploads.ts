import { BufferPool } from "./buffer-pool.ts"

/** Writes from this size go through a mapped staging buffer. */
export const STAGED_UPLOAD_MIN = 1 << 20
/** Mapped staging buffers kept for reuse. */
const MAX_READY = 4

/**
 * Large writes through mapped staging buffers: the bytes go straight into mapped memory and a copy, submitted at
 * once, moves them — the same ordering as queue.writeBuffer (after earlier submits, before later ones). A staging
 * buffer is mapped again once its copy is done and reused (up to four are kept, the largest). On the H100 host
 * queue.writeBuffer of ResNet-50's 4.8 MB batch took ~4.5 ms, and so did creating a mapped buffer of that size; a
 * reused one takes ~1 ms (docs/perf-notes.md). Sizes are rounded up to a power of two so that a buffer serves the
 * next write of about the same size: a model's weight uploads at load must not leave four buffers each a little too
 * small for every request's input, all replaced by fresh ones (what a checkpoint-loaded ResNet-50 did: 5 ms a batch).
 */
export class StagedUploads {
  private readonly device: GPUDevice
  /** Mapped buffers ready for a write. */
  private readonly ready: BufferPool

  constructor(device: GPUDevice) {
    this.device = device
    this.ready = new BufferPool(MAX_READY, (size) => device.createBuffer({ size, usage: 0x0002 | 0x0004, mappedAtCreation: true, label: "upload" })) // MAP_WRITE | COPY_SRC
  }

  /** Staging buffers created and writes that reused one. */
  get counts(): { readonly created: number; readonly reused: number } {
    return this.ready.counts
  }

  /** Whether a write of these bytes at this offset goes through here. */
  static takes(offset: number, bytes: number): boolean {
    return bytes >= STAGED_UPLOAD_MIN && bytes % 4 === 0 && offset % 4 === 0
  }

  write(target: GPUBuffer, offset: number, data: Uint8Array): void {
    const size = data.byteLength
    const staging = this.ready.take(size)
    new Uint8Array(staging.getMappedRange(0, size)).set(data)
    staging.unmap()
    const encoder = this.device.createCommandEncoder()
    encoder.copyBufferToBuffer(staging, 0, target, offset, size)
    this.device.queue.submit([encoder.finish()])
    staging.mapAsync(0x0002, 0, staging.size).then(() => this.ready.give(staging), () => staging.destroy())
  }

  destroy(): void {
    this.ready.destroy()
  }
}
