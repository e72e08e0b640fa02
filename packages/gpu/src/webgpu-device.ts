import { gpuError, GpuError } from "./errors.ts"
import { fastVariantKey, preprocess, variantKey } from "./wgsl.ts"
import type {
  AdapterDescription,
  Binding,
  BufferId,
  Dispatch,
  GpuDevice,
  KernelRegistry,
  PipelineId,
  SubmitTiming,
  Variant,
} from "./types.ts"

const STORAGE = 0x0080 | 0x0004 | 0x0008 // STORAGE | COPY_SRC | COPY_DST
const UNIFORM_ALIGN = 256
const READBACK = 0x0001 | 0x0008 // MAP_READ | COPY_DST
/** Submits between two `finish()` calls that get GPU timestamps; later ones go untimed. */
const MAX_TIMED_SUBMITS = 512
/** Writes from this size go through a mapped staging buffer (`stagedWrite`). */
const STAGED_UPLOAD_MIN = 1 << 20
const QUERY_SLOT = 256

interface PipelineEntry {
  readonly pipeline: GPUComputePipeline
  readonly layout: GPUBindGroupLayout
  readonly uniforms: boolean
  /** The variant key (kernel and variant), for profiles. */
  readonly label: string
}

/** GPU time of one dispatch (its own timestamped compute pass), from `takeDispatchProfile`. */
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
}

/** Dispatches timed between two `takeDispatchProfile` calls (two queries each). */
const MAX_PROFILED = 4096

/** A cached bind group and what it binds, flat: pipeline, uniform offset and size, then buffer, offset, size per binding. */
interface BindGroupEntry {
  readonly key: readonly number[]
  readonly group: GPUBindGroup
}

/** Bind groups cached before the cache is emptied (it is per device and bindings change with every new request shape). */
const MAX_BIND_GROUPS = 8192

const mix = (h: number, v: number): number => Math.imul(h ^ v, 0x01000193)

/** Whether a cached bind group's key is this dispatch's. */
const sameBindings = (key: readonly number[], pipelineId: number, uniformOffset: number, uniformSize: number, bindings: readonly Binding[]): boolean => {
  if (key.length !== 3 + 3 * bindings.length || key[0] !== pipelineId || key[1] !== uniformOffset || key[2] !== uniformSize) return false
  for (let i = 0, k = 3; i < bindings.length; i++, k += 3) {
    const b = bindings[i]
    if (key[k] !== b.buffer || key[k + 1] !== (b.offset ?? 0) || key[k + 2] !== (b.size ?? -1)) return false
  }
  return true
}

type Command =
  | { readonly kind: "dispatch"; readonly call: Dispatch; readonly uniformOffset: number }
  | { readonly kind: "copy"; readonly src: BufferId; readonly srcOffset: number; readonly dst: BufferId; readonly dstOffset: number; readonly size: number }

/**
 * GpuDevice over a WebGPU `GPUDevice` (Dawn on Node, `navigator.gpu` on Deno). Dispatches are recorded and go out as
 * one command buffer per submit, consecutive dispatches in one compute pass; uniforms of a submit are packed into one
 * buffer written once; bind groups are cached per (pipeline, bindings, uniform slot).
 */
export class WebGpuDevice implements GpuDevice {
  private readonly buffers = new Map<BufferId, GPUBuffer>()
  private nextBuffer = 1
  private readonly pipelines: PipelineEntry[] = []
  private readonly pipelineIds = new Map<string, PipelineId>()
  /** The same pipelines by `fastVariantKey`: the per-call path, which skips sorting the variant. */
  private readonly fastPipelineIds = new Map<string, PipelineId>()
  private commands: Command[] = []
  private uniformBytes = new Uint8Array(64 * 1024)
  private uniformUsed = 0
  private uniformBuffer: GPUBuffer
  /** Bind groups by a hash of their key; a bucket holds the (rare) keys that share a hash. */
  private bindGroups = new Map<number, BindGroupEntry[]>()
  private bindGroupCount = 0
  private readonly staging: GPUBuffer[] = []
  /** Mapped upload buffers ready for `stagedWrite`. */
  private readonly uploads: GPUBuffer[] = []
  /** Large writes through mapped staging buffers (DJINN_STAGED_UPLOAD=0 turns it off, for comparison). */
  private readonly stagedUploads = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.DJINN_STAGED_UPLOAD !== "0"
  private readonly errors: GpuError[] = []
  private readonly querySet: GPUQuerySet | undefined = undefined
  private readonly queryBuffer: GPUBuffer | undefined = undefined
  private readonly queryRead: GPUBuffer | undefined = undefined
  private timedSubmits = 0
  /** CPU time of flushes since the last `takeCpuStats` (uniform upload, encoding, finish, queue.submit). */
  private cpu: CpuStats = { flushes: 0, bindGroupsCreated: 0, commands: 0, uniformsMs: 0, encodeMs: 0, finishMs: 0, submitMs: 0 }
  /** Per-dispatch profiling (off unless `setDispatchProfiling(true)`): each dispatch in its own timestamped pass. */
  private profileSet: GPUQuerySet | undefined = undefined
  private profileBuffer: GPUBuffer | undefined = undefined
  private profileRead: GPUBuffer | undefined = undefined
  private profiled: { label: string; workgroups: readonly [number, number, number]; query: number }[] = []
  private profileNext = 0

  readonly device: GPUDevice
  readonly adapter: AdapterDescription
  private readonly kernels: KernelRegistry

  /** Objects that must stay alive as long as the device (Dawn's GPU instance and adapter). */
  private readonly keepAlive: readonly unknown[]

  constructor(device: GPUDevice, adapter: AdapterDescription, kernels: KernelRegistry, profiling = false, keepAlive: readonly unknown[] = []) {
    this.keepAlive = keepAlive
    this.device = device
    this.adapter = adapter
    this.kernels = kernels
    this.uniformBuffer = this.newUniformBuffer(this.uniformBytes.byteLength)
    device.addEventListener("uncapturederror", (event) => {
      const error = (event as GPUUncapturedErrorEvent).error
      const reason = error instanceof GPUOutOfMemoryError ? "OutOfMemory" : error instanceof GPUValidationError ? "Validation" : "Internal"
      this.errors.push(gpuError(reason, error.message))
    })
    void device.lost.then((info) => {
      if (info.reason !== "destroyed") this.errors.push(gpuError("DeviceLost", info.message))
    })
    if (profiling && adapter.timestamps) {
      this.querySet = device.createQuerySet({ type: "timestamp", count: 2 * MAX_TIMED_SUBMITS })
      // resolveQuerySet's destination offset must be a multiple of 256: one 256-byte slot per timed submit.
      this.queryBuffer = device.createBuffer({ size: QUERY_SLOT * MAX_TIMED_SUBMITS, usage: 0x0200 | 0x0004 }) // QUERY_RESOLVE | COPY_SRC
      this.queryRead = device.createBuffer({ size: QUERY_SLOT * MAX_TIMED_SUBMITS, usage: READBACK })
    }
  }

  private newUniformBuffer(size: number): GPUBuffer {
    return this.device.createBuffer({ size, usage: 0x0040 | 0x0008, label: "uniforms" }) // UNIFORM | COPY_DST
  }

  private buffer(id: BufferId): GPUBuffer {
    const buffer = this.buffers.get(id)
    if (buffer === undefined) throw gpuError("Validation", `unknown buffer id ${id}`)
    return buffer
  }

  createBuffer(size: number, label?: string): BufferId {
    const padded = Math.max(16, Math.ceil(size / 16) * 16)
    if (padded > this.adapter.limits.maxBufferSize) {
      throw gpuError("OutOfMemory", `buffer of ${size} bytes exceeds maxBufferSize ${this.adapter.limits.maxBufferSize}`)
    }
    const id = this.nextBuffer++
    this.buffers.set(id, this.device.createBuffer({ size: padded, usage: STORAGE, label: label ?? `buf${id}` }))
    return id
  }

  writeBuffer(buffer: BufferId, offset: number, data: Uint8Array): void {
    const target = this.buffer(buffer)
    if (this.stagedUploads && data.byteLength >= STAGED_UPLOAD_MIN && data.byteLength % 4 === 0 && offset % 4 === 0) {
      this.stagedWrite(target, offset, data)
      return
    }
    // queue.writeBuffer needs a multiple of 4 bytes.
    if (data.byteLength % 4 === 0) {
      this.device.queue.writeBuffer(target, offset, data.buffer, data.byteOffset, data.byteLength)
    } else {
      const padded = new Uint8Array(Math.ceil(data.byteLength / 4) * 4)
      padded.set(data)
      this.device.queue.writeBuffer(target, offset, padded.buffer, 0, padded.byteLength)
    }
  }

  /**
   * A large write through a mapped staging buffer: the bytes go straight into mapped memory and a copy, submitted at
   * once, moves them — the same ordering as queue.writeBuffer (after earlier submits, before later ones). Staging
   * buffers are mapped again once their copy is done and reused.
   */
  private stagedWrite(target: GPUBuffer, offset: number, data: Uint8Array): void {
    const size = data.byteLength
    const at = this.uploads.findIndex((b) => b.size >= size)
    const staging = at >= 0 ? this.uploads.splice(at, 1)[0] : this.device.createBuffer({ size, usage: 0x0002 | 0x0004, mappedAtCreation: true, label: "upload" }) // MAP_WRITE | COPY_SRC
    new Uint8Array(staging.getMappedRange(0, size)).set(data)
    staging.unmap()
    const encoder = this.device.createCommandEncoder()
    encoder.copyBufferToBuffer(staging, 0, target, offset, size)
    this.device.queue.submit([encoder.finish()])
    staging.mapAsync(0x0002, 0, staging.size).then(
      () => { if (this.uploads.length < 4) this.uploads.push(staging); else staging.destroy() },
      () => staging.destroy(),
    )
  }

  destroyBuffer(buffer: BufferId): void {
    const target = this.buffers.get(buffer)
    if (target === undefined) return
    this.flush()
    this.buffers.delete(buffer)
    this.clearBindGroups()
    target.destroy()
  }

  pipeline(kernel: string, variant: Variant = {}): PipelineId {
    const fast = fastVariantKey(kernel, variant)
    const hit = this.fastPipelineIds.get(fast)
    if (hit !== undefined) return hit
    const id = this.canonicalPipeline(kernel, variant)
    this.fastPipelineIds.set(fast, id)
    return id
  }

  private canonicalPipeline(kernel: string, variant: Variant): PipelineId {
    const key = variantKey(kernel, variant)
    const cached = this.pipelineIds.get(key)
    if (cached !== undefined) return cached
    const spec = this.kernels.get(kernel)
    if (spec === undefined) throw gpuError("UnknownKernel", `no kernel '${kernel}' in the registry`)
    if (variant.dtype === "f16" && !this.adapter.f16) throw gpuError("Unsupported", `kernel '${kernel}': shader-f16 is not available on this adapter`)
    const code = preprocess(spec.wgsl, variant)
    const module = this.device.createShaderModule({ code, label: key })
    const pipeline = this.device.createComputePipeline({
      layout: "auto",
      label: key,
      compute: { module, entryPoint: spec.entryPoint ?? "main", constants: { ...(variant.constants ?? {}) } },
    })
    const id = this.pipelines.length
    this.pipelines.push({ pipeline, layout: pipeline.getBindGroupLayout(0), uniforms: spec.uniforms, label: key })
    this.pipelineIds.set(key, id)
    return id
  }

  dispatch(call: Dispatch): void {
    let uniformOffset = -1
    if (call.uniforms !== undefined) {
      uniformOffset = this.uniformUsed
      const need = uniformOffset + call.uniforms.byteLength
      if (need > this.uniformBytes.byteLength) {
        const grown = new Uint8Array(Math.max(need, this.uniformBytes.byteLength * 2))
        grown.set(this.uniformBytes.subarray(0, this.uniformUsed))
        this.uniformBytes = grown
      }
      this.uniformBytes.set(call.uniforms, uniformOffset)
      this.uniformUsed = Math.ceil(need / UNIFORM_ALIGN) * UNIFORM_ALIGN
    }
    this.commands.push({ kind: "dispatch", call, uniformOffset })
  }

  copy(src: BufferId, srcOffset: number, dst: BufferId, dstOffset: number, size: number): void {
    this.commands.push({ kind: "copy", src, srcOffset, dst, dstOffset, size })
  }

  private bindGroup(entry: PipelineEntry, pipelineId: PipelineId, bindings: readonly Binding[], uniformOffset: number, uniformSize: number): GPUBindGroup {
    // Numbers only on the hit path (no key string per dispatch): a hash to find the bucket, the flat key to confirm.
    let hash = mix(mix(mix(0x811c9dc5, pipelineId), uniformOffset), uniformSize)
    for (let i = 0; i < bindings.length; i++) {
      const b = bindings[i]
      hash = mix(mix(mix(hash, b.buffer), b.offset ?? 0), b.size ?? -1)
    }
    const bucket = this.bindGroups.get(hash)
    if (bucket !== undefined) {
      for (let i = 0; i < bucket.length; i++) {
        if (sameBindings(bucket[i].key, pipelineId, uniformOffset, uniformSize, bindings)) return bucket[i].group
      }
    }
    const entries: GPUBindGroupEntry[] = []
    let slot = 0
    if (entry.uniforms) entries.push({ binding: slot++, resource: { buffer: this.uniformBuffer, offset: uniformOffset, size: uniformSize } })
    for (const b of bindings) {
      const resource: GPUBufferBinding = { buffer: this.buffer(b.buffer), offset: b.offset ?? 0 }
      if (b.size !== undefined) resource.size = b.size
      entries.push({ binding: slot++, resource })
    }
    const group = this.device.createBindGroup({ layout: entry.layout, entries })
    this.cpu.bindGroupsCreated++
    if (this.bindGroupCount > MAX_BIND_GROUPS) this.clearBindGroups()
    const key = [pipelineId, uniformOffset, uniformSize]
    for (const b of bindings) key.push(b.buffer, b.offset ?? 0, b.size ?? -1)
    const list = this.bindGroups.get(hash)
    if (list === undefined) this.bindGroups.set(hash, [{ key, group }])
    else list.push({ key, group })
    this.bindGroupCount++
    return group
  }

  private clearBindGroups(): void {
    this.bindGroups.clear()
    this.bindGroupCount = 0
  }

  /** Encodes and submits what is recorded. */
  private flush(): void {
    if (this.commands.length === 0) return
    if (this.uniformUsed > this.uniformBuffer.size) {
      this.uniformBuffer.destroy()
      this.uniformBuffer = this.newUniformBuffer(Math.max(this.uniformUsed, this.uniformBuffer.size * 2))
      this.clearBindGroups()
    }
    const t0 = performance.now()
    if (this.uniformUsed > 0) this.device.queue.writeBuffer(this.uniformBuffer, 0, this.uniformBytes.buffer, 0, this.uniformUsed)
    const t1 = performance.now()
    const encoder = this.device.createCommandEncoder()
    let pass: GPUComputePassEncoder | undefined
    const slot = this.timedSubmits
    const timed = this.querySet !== undefined && slot < MAX_TIMED_SUBMITS
    let firstPass = true
    let lastPipeline = -1
    const profiling = this.profileSet !== undefined
    // resolveQuerySet's destination offset must be a multiple of 256 bytes: start each submit's queries at a multiple of 32.
    if (profiling) this.profileNext = Math.ceil(this.profileNext / 32) * 32
    const profileFirst = this.profileNext
    for (let i = 0; i < this.commands.length; i++) {
      const command = this.commands[i]
      if (command.kind === "copy") {
        if (pass !== undefined) { pass.end(); pass = undefined }
        encoder.copyBufferToBuffer(this.buffer(command.src), command.srcOffset, this.buffer(command.dst), command.dstOffset, command.size)
        continue
      }
      if (profiling && this.profileNext + 2 <= MAX_PROFILED) {
        if (pass !== undefined) pass.end()
        const q = this.profileNext
        this.profileNext += 2
        pass = encoder.beginComputePass({ timestampWrites: { querySet: this.profileSet!, beginningOfPassWriteIndex: q, endOfPassWriteIndex: q + 1 } })
        lastPipeline = -1
        const entry = this.pipelines[command.call.pipeline]
        this.profiled.push({ label: entry?.label ?? `pipeline ${command.call.pipeline}`, workgroups: command.call.workgroups, query: q })
      }
      if (pass === undefined) {
        const descriptor: GPUComputePassDescriptor = {}
        if (timed && firstPass) descriptor.timestampWrites = { querySet: this.querySet!, beginningOfPassWriteIndex: 2 * slot }
        pass = encoder.beginComputePass(descriptor)
        firstPass = false
        lastPipeline = -1
      }
      const { call, uniformOffset } = command
      const entry = this.pipelines[call.pipeline]
      if (entry === undefined) throw gpuError("Validation", `unknown pipeline id ${call.pipeline}`)
      if (call.pipeline !== lastPipeline) { pass.setPipeline(entry.pipeline); lastPipeline = call.pipeline }
      const uniformSize = call.uniforms === undefined ? 0 : Math.max(16, Math.ceil(call.uniforms.byteLength / 16) * 16)
      pass.setBindGroup(0, this.bindGroup(entry, call.pipeline, call.bindings, uniformOffset, uniformSize))
      const w = call.workgroups
      if (w[0] > 0 && w[1] > 0 && w[2] > 0) pass.dispatchWorkgroups(w[0], w[1], w[2])
    }
    if (pass !== undefined) pass.end()
    if (timed && !firstPass) {
      // The end stamp goes in a tiny trailing pass so it covers the whole submit.
      const end = encoder.beginComputePass({ timestampWrites: { querySet: this.querySet!, endOfPassWriteIndex: 2 * slot + 1 } })
      end.end()
      encoder.resolveQuerySet(this.querySet!, 2 * slot, 2, this.queryBuffer!, QUERY_SLOT * slot)
      this.timedSubmits++
    }
    if (profiling && this.profileNext > profileFirst) {
      encoder.resolveQuerySet(this.profileSet!, profileFirst, this.profileNext - profileFirst, this.profileBuffer!, profileFirst * 8)
    }
    const t2 = performance.now()
    const commandBuffer = encoder.finish()
    const t3 = performance.now()
    this.device.queue.submit([commandBuffer])
    const t4 = performance.now()
    const c = this.cpu
    c.flushes++
    c.commands += this.commands.length
    c.uniformsMs += t1 - t0
    c.encodeMs += t2 - t1
    c.finishMs += t3 - t2
    c.submitMs += t4 - t3
    this.commands = []
    // The uniform buffer is rewritten by the next submit: queue.writeBuffer is ordered after this submit.
    this.uniformUsed = 0
  }

  /** Sums the timestamp pairs of the submits timed since the last call. */
  private async collectTimestamps(): Promise<number> {
    const n = this.timedSubmits
    if (n === 0 || this.queryRead === undefined) return 0
    this.timedSubmits = 0
    const encoder = this.device.createCommandEncoder()
    const bytes = QUERY_SLOT * n
    encoder.copyBufferToBuffer(this.queryBuffer!, 0, this.queryRead, 0, bytes)
    this.device.queue.submit([encoder.finish()])
    await this.queryRead.mapAsync(0x0001, 0, bytes)
    const stamps = new BigUint64Array(this.queryRead.getMappedRange(0, bytes).slice(0))
    this.queryRead.unmap()
    const stride = QUERY_SLOT / 8
    let ns = 0
    for (let i = 0; i < n; i++) {
      const [begin, end] = [stamps[i * stride], stamps[i * stride + 1]]
      if (end > begin) ns += Number(end - begin)
    }
    return ns
  }

  submit(): void {
    this.flush()
  }

  /** The CPU time of flushes since the last call, and a reset. */
  takeCpuStats(): CpuStats {
    const out = this.cpu
    this.cpu = { flushes: 0, bindGroupsCreated: 0, commands: 0, uniformsMs: 0, encodeMs: 0, finishMs: 0, submitMs: 0 }
    return out
  }

  /** Turns per-dispatch timing on or off (needs timestamp queries). Each dispatch then runs in its own compute pass. */
  setDispatchProfiling(on: boolean): boolean {
    this.flush()
    if (!on || !this.adapter.timestamps) {
      this.profileSet?.destroy()
      this.profileBuffer?.destroy()
      this.profileRead?.destroy()
      this.profileSet = this.profileBuffer = this.profileRead = undefined
      this.profiled = []
      this.profileNext = 0
      return false
    }
    if (this.profileSet === undefined) {
      this.profileSet = this.device.createQuerySet({ type: "timestamp", count: MAX_PROFILED })
      this.profileBuffer = this.device.createBuffer({ size: 8 * MAX_PROFILED, usage: 0x0200 | 0x0004 })
      this.profileRead = this.device.createBuffer({ size: 8 * MAX_PROFILED, usage: READBACK })
    }
    return true
  }

  /** The GPU time of every dispatch submitted since the last call (with dispatch profiling on), in order. */
  async takeDispatchProfile(): Promise<DispatchSample[]> {
    this.flush()
    if (this.profileSet === undefined || this.profiled.length === 0) return []
    const bytes = 8 * Math.ceil(this.profileNext / 32) * 32
    const encoder = this.device.createCommandEncoder()
    encoder.copyBufferToBuffer(this.profileBuffer!, 0, this.profileRead!, 0, bytes)
    this.device.queue.submit([encoder.finish()])
    await this.profileRead!.mapAsync(0x0001, 0, bytes)
    const stamps = new BigUint64Array(this.profileRead!.getMappedRange(0, bytes).slice(0))
    this.profileRead!.unmap()
    const out = this.profiled.map(({ label, workgroups, query }) => {
      const [begin, end] = [stamps[query], stamps[query + 1]]
      return { label, workgroups, ns: end > begin ? Number(end - begin) : 0 }
    })
    this.profiled = []
    this.profileNext = 0
    return out
  }

  async read(buffer: BufferId, offset: number, size: number): Promise<Uint8Array> {
    const source = this.buffer(buffer)
    const padded = Math.ceil(size / 4) * 4
    let staging = this.staging.pop()
    if (staging === undefined || staging.size < padded) {
      staging?.destroy()
      staging = this.device.createBuffer({ size: Math.max(padded, 256), usage: READBACK, label: "readback" })
    }
    this.flush()
    const encoder = this.device.createCommandEncoder()
    encoder.copyBufferToBuffer(source, offset, staging, 0, padded)
    this.device.queue.submit([encoder.finish()])
    try {
      await staging.mapAsync(0x0001, 0, padded)
    } catch (cause) {
      staging.destroy()
      await this.checkErrors()
      throw gpuError("Internal", `readback failed: ${String(cause)}`)
    }
    const out = new Uint8Array(staging.getMappedRange(0, padded).slice(0, size))
    staging.unmap()
    this.staging.push(staging)
    return out
  }

  async finish(): Promise<SubmitTiming> {
    this.flush()
    await this.device.queue.onSubmittedWorkDone()
    return { gpuMs: (await this.collectTimestamps()) / 1e6 }
  }

  async checkErrors(): Promise<void> {
    await this.device.queue.onSubmittedWorkDone()
    const first = this.errors.shift()
    this.errors.length = 0
    if (first !== undefined) throw first
  }

  destroy(): void {
    for (const buffer of this.buffers.values()) buffer.destroy()
    this.buffers.clear()
    for (const s of this.staging) s.destroy()
    for (const u of this.uploads) u.destroy()
    this.device.destroy()
  }
}
