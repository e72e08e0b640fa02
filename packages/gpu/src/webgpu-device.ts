import { envVar } from "./env.ts"
import { gpuError, GpuError } from "./errors.ts"
import { type CpuStats, DispatchProfiler, type DispatchSample, noCpuStats, SubmitTimer } from "./profiling.ts"
import { BindGroupCache } from "./bind-groups.ts"
import { type PipelineEntry, Pipelines } from "./pipelines.ts"
import { Readbacks } from "./readbacks.ts"
import { buildRecording, CaptureLog, encodeSteps, WebGpuRecording } from "./replay.ts"
import { uniformBindingSize, uniformSlotSize } from "./uniforms.ts"
import { StagedUploads } from "./uploads.ts"
import type {
  AdapterDescription,
  Binding,
  BufferId,
  Dispatch,
  GpuDevice,
  KernelRegistry,
  PipelineId,
  Recording,
  SubmitTiming,
  Variant,
} from "./types.ts"

const STORAGE = 0x0080 | 0x0004 | 0x0008 // STORAGE | COPY_SRC | COPY_DST

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
  private readonly pipelines: Pipelines
  private commands: Command[] = []
  private uniformBytes = new Uint8Array(64 * 1024)
  private uniformUsed = 0
  private uniformBuffer: GPUBuffer
  private readonly bindGroups = new BindGroupCache()
  /** Readbacks through pooled staging buffers, a task's copies in one submit. */
  private readonly readbacks: Readbacks
  /** Large writes through mapped staging buffers (DJINN_STAGED_UPLOAD=0 turns it off, for comparison). */
  private readonly uploads: StagedUploads | undefined
  private readonly errors: GpuError[] = []
  /** Timestamps around every submit (profiling on, and the adapter has timestamp queries). */
  private readonly submitTimer: SubmitTimer | undefined = undefined
  /** CPU time of flushes since the last `takeCpuStats` (uniform upload, encoding, finish, queue.submit). */
  private cpu: CpuStats = noCpuStats()
  /** Per-dispatch timing (off unless `setDispatchProfiling(true)`): each dispatch in its own timestamped pass. */
  private profiler: DispatchProfiler | undefined = undefined
  /** Capture and replay (DJINN_REPLAY=0 turns them off, for comparison; `setReplay` in-process). */
  private replayEnabled: boolean
  /** The calls of the capture in progress. */
  private capturing: CaptureLog | undefined = undefined

  readonly device: GPUDevice
  readonly adapter: AdapterDescription

  /** Objects that must stay alive as long as the device (Dawn's GPU instance and adapter). */
  private readonly keepAlive: readonly unknown[]

  constructor(device: GPUDevice, adapter: AdapterDescription, kernels: KernelRegistry, profiling = false, keepAlive: readonly unknown[] = []) {
    this.keepAlive = keepAlive
    this.device = device
    this.adapter = adapter
    this.pipelines = new Pipelines(device, adapter, kernels)
    this.uniformBuffer = this.newUniformBuffer(this.uniformBytes.byteLength)
    this.uploads = envVar("DJINN_STAGED_UPLOAD") !== "0" ? new StagedUploads(device) : undefined
    this.replayEnabled = envVar("DJINN_REPLAY") !== "0"
    this.readbacks = new Readbacks(device)
    device.addEventListener("uncapturederror", (event) => {
      const error = (event as GPUUncapturedErrorEvent).error
      const reason = error instanceof GPUOutOfMemoryError ? "OutOfMemory" : error instanceof GPUValidationError ? "Validation" : "Internal"
      this.errors.push(gpuError(reason, error.message))
    })
    void device.lost.then((info) => {
      if (info.reason !== "destroyed") this.errors.push(gpuError("DeviceLost", info.message))
    })
    if (profiling && adapter.timestamps) this.submitTimer = new SubmitTimer(device)
  }

  private newUniformBuffer(size: number): GPUBuffer {
    return this.device.createBuffer({ size, usage: 0x0040 | 0x0008, label: "uniforms" }) // UNIFORM | COPY_DST
  }

  private buffer(id: BufferId): GPUBuffer {
    const buffer = this.buffers.get(id)
    if (buffer === undefined) throw gpuError("Validation", `unknown buffer id ${id}`)
    return buffer
  }

  /** The GPUBuffer behind an id (for tests of the parts that take raw buffers). */
  bufferOf(id: BufferId): GPUBuffer {
    return this.buffer(id)
  }

  createBuffer(size: number, label?: string): BufferId {
    this.capturing?.spoil("createBuffer")
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
    this.readbacks.submitPending()
    this.capturing?.write(buffer, offset, data)
    if (this.uploads !== undefined && StagedUploads.takes(offset, data.byteLength)) {
      this.uploads.write(target, offset, data)
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

  destroyBuffer(buffer: BufferId): void {
    const target = this.buffers.get(buffer)
    if (target === undefined) return
    this.capturing?.spoil("destroyBuffer")
    this.flush()
    this.buffers.delete(buffer)
    this.bindGroups.clear()
    target.destroy()
  }

  pipeline(kernel: string, variant: Variant = {}): PipelineId {
    return this.pipelines.id(kernel, variant)
  }

  dispatch(call: Dispatch): void {
    this.capturing?.dispatch(call)
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
      this.uniformUsed = uniformSlotSize(need)
    }
    this.commands.push({ kind: "dispatch", call, uniformOffset })
  }

  copy(src: BufferId, srcOffset: number, dst: BufferId, dstOffset: number, size: number): void {
    this.capturing?.copy(src, srcOffset, dst, dstOffset, size)
    this.commands.push({ kind: "copy", src, srcOffset, dst, dstOffset, size })
  }

  private bindGroup(entry: PipelineEntry, pipelineId: PipelineId, bindings: readonly Binding[], uniformOffset: number, uniformSize: number): GPUBindGroup {
    const cached = this.bindGroups.find(pipelineId, bindings, uniformOffset, uniformSize)
    if (cached !== undefined) return cached
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
    this.bindGroups.add(pipelineId, bindings, uniformOffset, uniformSize, group)
    return group
  }

  /** Encodes and submits what is recorded. */
  private flush(): void {
    if (this.commands.length === 0) return
    // Recorded after the reads asked for so far: their copies go first.
    this.readbacks.submitPending()
    if (this.uniformUsed > this.uniformBuffer.size) {
      this.uniformBuffer.destroy()
      this.uniformBuffer = this.newUniformBuffer(Math.max(this.uniformUsed, this.uniformBuffer.size * 2))
      this.bindGroups.clear()
    }
    const t0 = performance.now()
    if (this.uniformUsed > 0) this.device.queue.writeBuffer(this.uniformBuffer, 0, this.uniformBytes.buffer, 0, this.uniformUsed)
    const t1 = performance.now()
    const encoder = this.device.createCommandEncoder()
    let pass: GPUComputePassEncoder | undefined
    const stamp = this.submitTimer?.begin()
    let firstPass = true
    let lastPipeline = -1
    const profiler = this.profiler
    profiler?.beginSubmit()
    for (let i = 0; i < this.commands.length; i++) {
      const command = this.commands[i]
      if (command.kind === "copy") {
        if (pass !== undefined) { pass.end(); pass = undefined }
        encoder.copyBufferToBuffer(this.buffer(command.src), command.srcOffset, this.buffer(command.dst), command.dstOffset, command.size)
        continue
      }
      if (profiler !== undefined) {
        const label = this.pipelines.entry(command.call.pipeline)?.label ?? `pipeline ${command.call.pipeline}`
        pass?.end()
        pass = profiler.pass(encoder, label, command.call.workgroups)
        lastPipeline = -1
      }
      if (pass === undefined) {
        const descriptor: GPUComputePassDescriptor = {}
        if (stamp !== undefined && firstPass) descriptor.timestampWrites = stamp
        pass = encoder.beginComputePass(descriptor)
        firstPass = false
        lastPipeline = -1
      }
      const { call, uniformOffset } = command
      const entry = this.pipelines.entry(call.pipeline)
      if (entry === undefined) throw gpuError("Validation", `unknown pipeline id ${call.pipeline}`)
      if (call.pipeline !== lastPipeline) { pass.setPipeline(entry.pipeline); lastPipeline = call.pipeline }
      const uniformSize = call.uniforms === undefined ? 0 : uniformBindingSize(call.uniforms.byteLength)
      pass.setBindGroup(0, this.bindGroup(entry, call.pipeline, call.bindings, uniformOffset, uniformSize))
      const w = call.workgroups
      if (w[0] > 0 && w[1] > 0 && w[2] > 0) pass.dispatchWorkgroups(w[0], w[1], w[2])
    }
    if (pass !== undefined) pass.end()
    if (stamp !== undefined && !firstPass) this.submitTimer!.end(encoder)
    profiler?.endSubmit(encoder)
    this.cpu.uniformsMs += t1 - t0
    this.submitEncoder(encoder, this.commands.length, t1)
    this.commands = []
    // The uniform buffer is rewritten by the next submit: queue.writeBuffer is ordered after this submit.
    this.uniformUsed = 0
  }

  /** Finishes and submits a command encoder whose encoding began at `encodeStart`, counting the CPU time of each step. */
  private submitEncoder(encoder: GPUCommandEncoder, commands: number, encodeStart: number): void {
    const t2 = performance.now()
    const commandBuffer = encoder.finish()
    const t3 = performance.now()
    this.device.queue.submit([commandBuffer])
    const t4 = performance.now()
    const c = this.cpu
    c.flushes++
    c.commands += commands
    c.encodeMs += t2 - encodeStart
    c.finishMs += t3 - t2
    c.submitMs += t4 - t3
  }

  submit(): void {
    this.capturing?.submit()
    this.flush()
  }

  get replayOn(): boolean {
    return this.replayEnabled && this.profiler === undefined
  }

  /** Turns capture and replay on or off (A/B runs in one process); off, `capture` only runs and `replay` refuses. */
  setReplay(on: boolean): void {
    this.replayEnabled = on
  }

  capture(record: () => void): Recording | undefined {
    // Nested in another capture, the outer one keeps these calls.
    if (!this.replayOn || this.capturing !== undefined) {
      record()
      return undefined
    }
    this.flush()
    const log = new CaptureLog()
    this.capturing = log
    try {
      record()
    } finally {
      this.capturing = undefined
    }
    this.flush()
    if (log.spoiled !== undefined) return undefined
    const recording = buildRecording({ device: this.device, bufferOf: (id) => this.buffer(id), pipelineOf: (id) => this.pipelines.entry(id) }, log)
    if (recording !== undefined) this.cpu.captures++
    return recording
  }

  replay(recording: Recording): boolean {
    if (!this.replayOn || this.capturing !== undefined) return false
    if (!(recording instanceof WebGpuRecording) || recording.owner !== this.device || !recording.live(this.buffers)) return false
    this.flush()
    for (const op of recording.ops) {
      if (op.kind === "write") {
        this.writeBuffer(op.buffer, op.offset, op.data)
        continue
      }
      const t1 = performance.now()
      const encoder = this.device.createCommandEncoder()
      const stamp = this.submitTimer?.begin()
      if (encodeSteps(encoder, op.steps, stamp) && stamp !== undefined) this.submitTimer!.end(encoder)
      this.submitEncoder(encoder, op.steps.length, t1)
    }
    this.cpu.replays++
    return true
  }

  /** The CPU time of flushes since the last call, and a reset. */
  takeCpuStats(): CpuStats {
    const out = this.cpu
    this.cpu = noCpuStats()
    return out
  }

  /** Turns per-dispatch timing on or off (needs timestamp queries). Each dispatch then runs in its own compute pass. */
  setDispatchProfiling(on: boolean): boolean {
    this.capturing?.spoil("setDispatchProfiling")
    this.flush()
    if (!on || !this.adapter.timestamps) {
      this.profiler?.destroy()
      this.profiler = undefined
      return false
    }
    this.profiler ??= new DispatchProfiler(this.device)
    return true
  }

  /** The GPU time of every dispatch submitted since the last call (with dispatch profiling on), in order. */
  async takeDispatchProfile(): Promise<DispatchSample[]> {
    this.flush()
    return this.profiler === undefined ? [] : await this.profiler.take()
  }

  async read(buffer: BufferId, offset: number, size: number): Promise<Uint8Array> {
    this.capturing?.spoil("read")
    const source = this.buffer(buffer)
    this.flush()
    try {
      return await this.readbacks.read(source, offset, size)
    } catch (cause) {
      await this.checkErrors()
      throw gpuError("Internal", `readback failed: ${String(cause)}`)
    }
  }

  async finish(): Promise<SubmitTiming> {
    this.capturing?.spoil("finish")
    this.flush()
    await this.device.queue.onSubmittedWorkDone()
    return { gpuMs: ((await this.submitTimer?.collect()) ?? 0) / 1e6 }
  }

  async checkErrors(): Promise<void> {
    this.readbacks.submitPending()
    await this.device.queue.onSubmittedWorkDone()
    const first = this.errors.shift()
    this.errors.length = 0
    if (first !== undefined) throw first
  }

  destroy(): void {
    for (const buffer of this.buffers.values()) buffer.destroy()
    this.buffers.clear()
    this.readbacks.destroy()
    this.uploads?.destroy()
    this.profiler?.destroy()
    this.submitTimer?.destroy()
    this.device.destroy()
  }
}
