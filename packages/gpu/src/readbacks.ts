import { BufferPool } from "./buffer-pool.ts"

const READBACK = 0x0001 | 0x0008 // MAP_READ | COPY_DST

interface Copy {
  readonly source: GPUBuffer
  readonly offset: number
  readonly staging: GPUBuffer
  readonly size: number
  readonly submitted: () => void
}

/**
 * Reads back through mapped staging buffers. The copies asked for in one task go out in one submit (one for all of
 * a forward's outputs: queue.submit cost ~0.1 ms on the H100 hosts): at the end of the task, or earlier through
 * `submitPending`, which the device calls before anything else reaches the queue (a write, a flush, an error check),
 * so each copy still sees its buffer as it was when its read was asked for. Staging buffers (eight kept) come from a
 * pool: a read takes the smallest that fits (BERT reads a 196 KB and a 1.5 KB output at once: taking whichever came
 * back last replaced a buffer on every other read).
 */
export class Readbacks {
  private readonly device: GPUDevice
  private readonly pool: BufferPool
  private pending: Copy[] = []

  constructor(device: GPUDevice) {
    this.device = device
    this.pool = new BufferPool(8, (size) => device.createBuffer({ size: Math.max(size, 256), usage: READBACK, label: "readback" }))
  }

  /** Submits the copies asked for so far, in one command buffer. */
  submitPending(): void {
    const copies = this.pending
    if (copies.length === 0) return
    this.pending = []
    const encoder = this.device.createCommandEncoder()
    for (const c of copies) encoder.copyBufferToBuffer(c.source, c.offset, c.staging, 0, c.size)
    this.device.queue.submit([encoder.finish()])
    for (const c of copies) c.submitted()
  }

  /** `size` bytes of `source` from `offset`, as the queue has them now. Rejects with the map's failure. */
  async read(source: GPUBuffer, offset: number, size: number): Promise<Uint8Array> {
    const padded = Math.ceil(size / 4) * 4
    const staging = this.pool.take(padded)
    await new Promise<void>((submitted) => {
      this.pending.push({ source, offset, staging, size: padded, submitted })
      if (this.pending.length === 1) queueMicrotask(() => this.submitPending())
    })
    try {
      await staging.mapAsync(0x0001, 0, padded)
    } catch (cause) {
      staging.destroy()
      throw cause
    }
    const out = new Uint8Array(staging.getMappedRange(0, padded).slice(0, size))
    staging.unmap()
    this.pool.give(staging)
    return out
  }

  destroy(): void {
    this.pool.destroy()
  }
}
