/**
 * What a WebGpuDevice can say about its own cost: the GPU time of each dispatch (its own timestamped compute pass,
 * while per-dispatch profiling is on) and the CPU time of its flushes.
 */

/** GPU time of one dispatch, from `WebGpuDevice.takeDispatchProfile`. */
export interface DispatchSample {
  readonly label: string
  readonly workgroups: readonly [number, number, number]
  readonly ns: number
}

/** Where the CPU time of submits goes (`WebGpuDevice.takeCpuStats`). */
export interface CpuStats {
  flushes: number
  /** Bind groups created (cache misses). */
  bindGroupsCreated: number
  /** Dispatches and copies encoded. */
  commands: number
  uniformsMs: number
  /** setPipeline / setBindGroup / dispatchWorkgroups (and bind-group creation on a cache miss). */
  encodeMs: number
  finishMs: number
  submitMs: number
  /** Recordings made (`capture`) and issued again (`replay`). */
  captures: number
  replays: number
}

export const noCpuStats = (): CpuStats => ({ flushes: 0, bindGroupsCreated: 0, commands: 0, uniformsMs: 0, encodeMs: 0, finishMs: 0, submitMs: 0, captures: 0, replays: 0 })

/** Dispatches timed between two `take` calls (two queries each). */
const MAX_PROFILED = 4096
const READBACK = 0x0001 | 0x0008 // MAP_READ | COPY_DST

/** Timestamp queries around every dispatch: each gets its own compute pass, resolved per submit. */
export class DispatchProfiler {
  private readonly device: GPUDevice
  private readonly querySet: GPUQuerySet
  private readonly resolved: GPUBuffer
  private readonly readback: GPUBuffer
  private samples: { label: string; workgroups: readonly [number, number, number]; query: number }[] = []
  private next = 0
  private first = 0

  constructor(device: GPUDevice) {
    this.device = device
    this.querySet = device.createQuerySet({ type: "timestamp", count: MAX_PROFILED })
    this.resolved = device.createBuffer({ size: 8 * MAX_PROFILED, usage: 0x0200 | 0x0004 }) // QUERY_RESOLVE | COPY_SRC
    this.readback = device.createBuffer({ size: 8 * MAX_PROFILED, usage: READBACK })
  }

  /** Starts a submit's queries (resolveQuerySet's destination offset must be a multiple of 256 bytes: 32 queries). */
  beginSubmit(): void {
    this.next = Math.ceil(this.next / 32) * 32
    this.first = this.next
  }

  /** A timestamped pass for one dispatch, or undefined once the query set is full (later dispatches go untimed). */
  pass(encoder: GPUCommandEncoder, label: string, workgroups: readonly [number, number, number]): GPUComputePassEncoder | undefined {
    if (this.next + 2 > MAX_PROFILED) return undefined
    const q = this.next
    this.next += 2
    this.samples.push({ label, workgroups, query: q })
    return encoder.beginComputePass({ timestampWrites: { querySet: this.querySet, beginningOfPassWriteIndex: q, endOfPassWriteIndex: q + 1 } })
  }

  /** Resolves this submit's queries into the resolve buffer. */
  endSubmit(encoder: GPUCommandEncoder): void {
    if (this.next > this.first) encoder.resolveQuerySet(this.querySet, this.first, this.next - this.first, this.resolved, this.first * 8)
  }

  /** The samples since the last call (everything recorded must have been submitted), and a reset. */
  async take(): Promise<DispatchSample[]> {
    if (this.samples.length === 0) return []
    const bytes = 8 * Math.ceil(this.next / 32) * 32
    const encoder = this.device.createCommandEncoder()
    encoder.copyBufferToBuffer(this.resolved, 0, this.readback, 0, bytes)
    this.device.queue.submit([encoder.finish()])
    await this.readback.mapAsync(0x0001, 0, bytes)
    const stamps = new BigUint64Array(this.readback.getMappedRange(0, bytes).slice(0))
    this.readback.unmap()
    const out = this.samples.map(({ label, workgroups, query }) => {
      const [begin, end] = [stamps[query], stamps[query + 1]]
      return { label, workgroups, ns: end > begin ? Number(end - begin) : 0 }
    })
    this.samples = []
    this.next = 0
    return out
  }

  destroy(): void {
    this.querySet.destroy()
    this.resolved.destroy()
    this.readback.destroy()
  }
}

/** Submits between two `collect` calls that get GPU timestamps; later ones go untimed. */
const MAX_TIMED_SUBMITS = 512
/** resolveQuerySet's destination offset must be a multiple of 256: one 256-byte slot per timed submit. */
const QUERY_SLOT = 256

/** Timestamps around every submit: the start of its first pass and the end of a tiny trailing pass. */
export class SubmitTimer {
  private readonly device: GPUDevice
  private readonly querySet: GPUQuerySet
  private readonly resolved: GPUBuffer
  private readonly readback: GPUBuffer
  private timed = 0

  constructor(device: GPUDevice) {
    this.device = device
    this.querySet = device.createQuerySet({ type: "timestamp", count: 2 * MAX_TIMED_SUBMITS })
    this.resolved = device.createBuffer({ size: QUERY_SLOT * MAX_TIMED_SUBMITS, usage: 0x0200 | 0x0004 }) // QUERY_RESOLVE | COPY_SRC
    this.readback = device.createBuffer({ size: QUERY_SLOT * MAX_TIMED_SUBMITS, usage: READBACK })
  }

  /** The start stamp for this submit's first pass, or undefined once every slot is taken. */
  begin(): GPUComputePassTimestampWrites | undefined {
    return this.timed < MAX_TIMED_SUBMITS ? { querySet: this.querySet, beginningOfPassWriteIndex: 2 * this.timed } : undefined
  }

  /** The end stamp (after `begin` gave a start), in a trailing pass so that it covers the whole submit. */
  end(encoder: GPUCommandEncoder): void {
    const slot = this.timed
    encoder.beginComputePass({ timestampWrites: { querySet: this.querySet, endOfPassWriteIndex: 2 * slot + 1 } }).end()
    encoder.resolveQuerySet(this.querySet, 2 * slot, 2, this.resolved, QUERY_SLOT * slot)
    this.timed++
  }

  /** The summed ns of the submits timed since the last call. */
  async collect(): Promise<number> {
    const n = this.timed
    if (n === 0) return 0
    this.timed = 0
    const encoder = this.device.createCommandEncoder()
    const bytes = QUERY_SLOT * n
    encoder.copyBufferToBuffer(this.resolved, 0, this.readback, 0, bytes)
    this.device.queue.submit([encoder.finish()])
    await this.readback.mapAsync(0x0001, 0, bytes)
    const stamps = new BigUint64Array(this.readback.getMappedRange(0, bytes).slice(0))
    this.readback.unmap()
    const stride = QUERY_SLOT / 8
    let ns = 0
    for (let i = 0; i < n; i++) {
      const [begin, end] = [stamps[i * stride], stamps[i * stride + 1]]
      if (end > begin) ns += Number(end - begin)
    }
    return ns
  }

  destroy(): void {
    this.querySet.destroy()
    this.resolved.destroy()
    this.readback.destroy()
  }
}
