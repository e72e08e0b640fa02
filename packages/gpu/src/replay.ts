import type { BufferId, Dispatch, PipelineId, Recording } from "./types.ts"
import { uniformBindingSize, uniformSlotSize } from "./uniforms.ts"


/** A device call seen while capturing; a submit ends a segment. */
type Logged =
  | { readonly kind: "dispatch"; readonly call: Dispatch }
  | { readonly kind: "copy"; readonly src: BufferId; readonly srcOffset: number; readonly dst: BufferId; readonly dstOffset: number; readonly size: number }
  | { readonly kind: "write"; readonly buffer: BufferId; readonly offset: number; readonly data: Uint8Array }
  | { readonly kind: "submit" }

/** The calls of one `WebGpuDevice.capture`, in order, as the device was given them (copied: callers reuse arrays). */
export class CaptureLog {
  readonly calls: Logged[] = []
  /** Why these calls cannot be replayed: something was done that a replay would not do again. */
  spoiled: string | undefined = undefined

  dispatch(call: Dispatch): void {
    const bindings = call.bindings.map((b) => ({ buffer: b.buffer, offset: b.offset, size: b.size }))
    const [x, y, z] = call.workgroups
    this.calls.push({ kind: "dispatch", call: { pipeline: call.pipeline, bindings, uniforms: call.uniforms?.slice(), workgroups: [x, y, z] } })
  }

  copy(src: BufferId, srcOffset: number, dst: BufferId, dstOffset: number, size: number): void {
    this.calls.push({ kind: "copy", src, srcOffset, dst, dstOffset, size })
  }

  write(buffer: BufferId, offset: number, data: Uint8Array): void {
    this.calls.push({ kind: "write", buffer, offset, data: data.slice() })
  }

  submit(): void {
    this.calls.push({ kind: "submit" })
  }

  spoil(why: string): void {
    this.spoiled ??= why
  }
}

/** What building a recording needs of its device. */
export interface RecordingHost {
  readonly device: GPUDevice
  bufferOf(id: BufferId): GPUBuffer
  pipelineOf(id: PipelineId): { readonly pipeline: GPUComputePipeline; readonly layout: GPUBindGroupLayout; readonly uniforms: boolean } | undefined
}

type Step =
  | { readonly kind: "dispatch"; readonly pipeline: GPUComputePipeline; readonly group: GPUBindGroup; readonly x: number; readonly y: number; readonly z: number }
  | { readonly kind: "copy"; readonly src: GPUBuffer; readonly srcOffset: number; readonly dst: GPUBuffer; readonly dstOffset: number; readonly size: number }

/** A replay, in order: writes (before the segment they were made in, as queue.writeBuffer orders them) and segments, one submit each. */
export type ReplayOp =
  | { readonly kind: "segment"; readonly steps: readonly Step[] }
  | { readonly kind: "write"; readonly buffer: BufferId; readonly offset: number; readonly data: Uint8Array }

export class WebGpuRecording implements Recording {
  readonly owner: object
  readonly ops: readonly ReplayOp[]
  readonly dispatches: number
  /** Every buffer it binds, copies or writes, with the GPUBuffer the id named at capture. */
  private readonly buffers: ReadonlyMap<BufferId, GPUBuffer>
  /** Its own uniforms, written once: a replay rewrites nothing. */
  private uniforms: GPUBuffer | undefined
  private released = false

  constructor(owner: object, ops: readonly ReplayOp[], dispatches: number, buffers: ReadonlyMap<BufferId, GPUBuffer>, uniforms: GPUBuffer | undefined) {
    this.owner = owner
    this.ops = ops
    this.dispatches = dispatches
    this.buffers = buffers
    this.uniforms = uniforms
  }

  /** Whether every buffer it touches is still the one it captured (ids are never reused, so a destroyed one is gone). */
  live(current: ReadonlyMap<BufferId, GPUBuffer>): boolean {
    if (this.released) return false
    for (const [id, buffer] of this.buffers) if (current.get(id) !== buffer) return false
    return true
  }

  release(): void {
    this.released = true
    this.uniforms?.destroy()
    this.uniforms = undefined
  }
}

/**
 * Resolves a capture into a recording: every dispatch's pipeline and a bind group of its own over the recording's
 * uniform buffer (all of the capture's uniforms, each at a 256-byte slot). Undefined where a dispatch is not what the
 * device's own flush would encode (a kernel with uniforms dispatched without them).
 */
export const buildRecording = (host: RecordingHost, log: CaptureLog): WebGpuRecording | undefined => {
  let uniformBytes = 0
  for (const c of log.calls) if (c.kind === "dispatch" && c.call.uniforms !== undefined) uniformBytes += uniformSlotSize(uniformBindingSize(c.call.uniforms.byteLength))
  for (const c of log.calls) {
    if (c.kind !== "dispatch") continue
    const entry = host.pipelineOf(c.call.pipeline)
    if (entry === undefined || entry.uniforms !== (c.call.uniforms !== undefined)) return undefined
  }
  const buffers = new Map<BufferId, GPUBuffer>()
  const use = (id: BufferId): GPUBuffer => {
    const b = host.bufferOf(id)
    buffers.set(id, b)
    return b
  }
  const staged = new Uint8Array(uniformBytes)
  const uniforms = uniformBytes > 0 ? host.device.createBuffer({ size: uniformBytes, usage: 0x0040 | 0x0008, label: "replay uniforms" }) : undefined // UNIFORM | COPY_DST
  const ops: ReplayOp[] = []
  let steps: Step[] = []
  let slot = 0
  let dispatches = 0
  const endSegment = () => {
    if (steps.length > 0) ops.push({ kind: "segment", steps })
    steps = []
  }
  // Writes of a segment go before it: queue.writeBuffer runs before the submit that follows it.
  let writes: ReplayOp[] = []
  for (const c of log.calls) {
    if (c.kind === "write") {
      use(c.buffer)
      writes.push({ kind: "write", buffer: c.buffer, offset: c.offset, data: c.data })
    } else if (c.kind === "submit") {
      ops.push(...writes)
      writes = []
      endSegment()
    } else if (c.kind === "copy") {
      steps.push({ kind: "copy", src: use(c.src), srcOffset: c.srcOffset, dst: use(c.dst), dstOffset: c.dstOffset, size: c.size })
    } else {
      const { call } = c
      const [x, y, z] = call.workgroups
      const entry = host.pipelineOf(call.pipeline)!
      const entries: GPUBindGroupEntry[] = []
      let binding = 0
      if (call.uniforms !== undefined) {
        const size = uniformBindingSize(call.uniforms.byteLength)
        staged.set(call.uniforms, slot)
        entries.push({ binding: binding++, resource: { buffer: uniforms!, offset: slot, size } })
        slot += uniformSlotSize(size)
      }
      for (const b of call.bindings) {
        const resource: GPUBufferBinding = { buffer: use(b.buffer), offset: b.offset ?? 0 }
        if (b.size !== undefined) resource.size = b.size
        entries.push({ binding: binding++, resource })
      }
      // An empty dispatch does nothing; the device's flush skips it too.
      if (x > 0 && y > 0 && z > 0) {
        steps.push({ kind: "dispatch", pipeline: entry.pipeline, group: host.device.createBindGroup({ layout: entry.layout, entries }), x, y, z })
        dispatches++
      }
    }
  }
  ops.push(...writes)
  endSegment()
  if (uniforms !== undefined) host.device.queue.writeBuffer(uniforms, 0, staged.buffer, 0, staged.byteLength)
  return new WebGpuRecording(host.device, ops, dispatches, buffers, uniforms)
}

/**
 * Encodes a segment's steps, consecutive dispatches in one compute pass (as the device's flush does), the first pass
 * with `timestampWrites` where given. Returns whether any pass was begun.
 */
export const encodeSteps = (encoder: GPUCommandEncoder, steps: readonly Step[], timestampWrites?: GPUComputePassTimestampWrites): boolean => {
  let pass: GPUComputePassEncoder | undefined
  let began = false
  let last: GPUComputePipeline | undefined
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i]
    if (s.kind === "copy") {
      if (pass !== undefined) { pass.end(); pass = undefined }
      encoder.copyBufferToBuffer(s.src, s.srcOffset, s.dst, s.dstOffset, s.size)
      continue
    }
    if (pass === undefined) {
      pass = encoder.beginComputePass(!began && timestampWrites !== undefined ? { timestampWrites } : {})
      began = true
      last = undefined
    }
    if (s.pipeline !== last) { pass.setPipeline(s.pipeline); last = s.pipeline }
    pass.setBindGroup(0, s.group)
    pass.dispatchWorkgroups(s.x, s.y, s.z)
  }
  pass?.end()
  return began
}
