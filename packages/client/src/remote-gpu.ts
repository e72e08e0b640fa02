import {
  gpuError,
  variantKey,
  type AdapterDescription,
  type BufferId,
  type Dispatch,
  type GpuDevice,
  type GpuError,
  type PipelineId,
  type SubmitTiming,
  type Variant,
} from "@djinn/gpu"
import type { BufferId as WireBufferId, ErrorCode, GpuCall, PipelineId as WirePipelineId } from "@djinn/protocol"
import type { Connection } from "./connection.ts"
import { clientError, type ClientError } from "./errors.ts"
import { type CallTimings } from "./timings.ts"

/** Bytes of WriteBuffer data after which queued calls go out as a batch of their own (frames stay well under the limit). */
const FLUSH_BYTES = 16 * 1024 * 1024

const GPU_REASON: Partial<Record<ErrorCode, GpuError["reason"]>> = { outOfMemory: "OutOfMemory", unsupported: "Unsupported", badRequest: "Validation" }
const asGpuError = (e: unknown): GpuError => {
  const c = e as ClientError
  if (c?._tag === "ClientError") return gpuError(c.code !== undefined ? GPU_REASON[c.code] ?? "Internal" : "DeviceLost", `remote GPU: ${c.message}`)
  return gpuError("Internal", `remote GPU: ${String(e)}`)
}

/** What blind remoting moved and waited for. */
export interface BlindStats {
  /** GpuSubmit messages sent. */
  submits: number
  /** Calls the client waited on (reads and finishes): each a network round trip. */
  roundTrips: number
  calls: number
  bytesOut: number
  bytesIn: number
  serializeMs: number
  deserializeMs: number
}

/**
 * The blind mode: the engine's GpuDevice, forwarded call by call to a server's GPU. Buffer and pipeline ids are
 * chosen here; createBuffer/writeBuffer/pipeline/dispatch are queued and go out as one GpuSubmit per submit()
 * (without waiting, as a driver submits); read() and finish() send what is queued and wait for the answer — a round
 * trip each. The server runs the calls on a device of this connection's own, freed when the connection closes.
 */
export class RemoteGpu implements GpuDevice {
  readonly adapter: AdapterDescription
  readonly stats: BlindStats = { submits: 0, roundTrips: 0, calls: 0, bytesOut: 0, bytesIn: 0, serializeMs: 0, deserializeMs: 0 }
  private readonly conn: Connection
  private calls: GpuCall[] = []
  private queuedBytes = 0
  private nextBuffer = 1
  private readonly live = new Set<number>()
  private readonly pipelines = new Map<string, PipelineId>()
  private nextPipeline = 0
  private readonly errors: GpuError[] = []
  private inFlight: Promise<unknown> = Promise.resolve()
  private destroyed = false

  private constructor(conn: Connection, adapter: AdapterDescription) {
    this.conn = conn
    this.adapter = adapter
  }

  /** A remote GPU on a connection (one per connection); its adapter description is the server's. */
  static async open(conn: Connection): Promise<RemoteGpu> {
    if (conn.blindOpen) throw clientError("Input", "this connection already has a RemoteGpu (its buffer ids are one namespace)")
    const r = await conn.call({ _tag: "StatsRequest" }, ["StatsReply"])
    const stats = JSON.parse(r.body.json) as { gpus?: Array<{ adapter: AdapterDescription }> }
    const adapter = stats.gpus?.[0]?.adapter
    if (adapter === undefined) throw clientError("Protocol", "the server's stats name no GPU adapter")
    conn.blindOpen = true
    return new RemoteGpu(conn, adapter)
  }

  private push(call: GpuCall, bytes = 0): void {
    if (this.destroyed) throw gpuError("DeviceLost", "remote GPU: destroyed")
    this.calls.push(call)
    this.stats.calls++
    this.queuedBytes += bytes
    if (this.queuedBytes >= FLUSH_BYTES) this.send()
  }

  private account(t: CallTimings): void {
    this.stats.bytesOut += t.bytesOut
    this.stats.bytesIn += t.bytesIn
    this.stats.serializeMs += t.serializeMs
    this.stats.deserializeMs += t.deserializeMs
  }

  /** Sends the queued calls as one GpuSubmit; the reply is awaited only by whoever needs it. */
  private send(awaited = false): Promise<{ reads: ReadonlyArray<Uint8Array>; executionMs: number }> {
    const calls = this.calls
    this.calls = []
    this.queuedBytes = 0
    this.stats.submits++
    const reply = this.conn.call({ _tag: "GpuSubmit", calls }, ["GpuSubmitResult"]).then((r) => {
      this.account(r.timings)
      return { reads: r.body.reads, executionMs: r.body.profile.executionMs }
    })
    // Replies come in order; an error of a submit nobody waits for is raised at the next read/finish/checkErrors.
    this.inFlight = reply.catch((e) => { if (!awaited) this.errors.push(asGpuError(e)) })
    return reply
  }

  private raise(): void {
    const first = this.errors.shift()
    this.errors.length = 0
    if (first !== undefined) throw first
  }

  createBuffer(size: number, _label?: string): BufferId {
    const padded = Math.max(16, Math.ceil(size / 16) * 16)
    if (padded > this.adapter.limits.maxBufferSize) throw gpuError("OutOfMemory", `buffer of ${size} bytes exceeds maxBufferSize ${this.adapter.limits.maxBufferSize}`)
    const id = this.nextBuffer++
    this.live.add(id)
    this.push({ _tag: "CreateBuffer", bufferId: id as WireBufferId, size, usage: 0 })
    return id
  }

  writeBuffer(buffer: BufferId, offset: number, data: Uint8Array): void {
    // Copied now, as WebGPU's writeBuffer does: the caller may reuse its array.
    for (let at = 0; at < data.byteLength || at === 0; at += FLUSH_BYTES) {
      const part = data.slice(at, Math.min(at + FLUSH_BYTES, data.byteLength))
      this.push({ _tag: "WriteBuffer", bufferId: buffer as WireBufferId, offset: offset + at, data: part }, part.byteLength)
      if (data.byteLength === 0) break
    }
  }

  destroyBuffer(buffer: BufferId): void {
    if (!this.live.delete(buffer)) return
    this.push({ _tag: "DestroyBuffer", bufferId: buffer as WireBufferId })
  }

  pipeline(kernel: string, variant: Variant = {}): PipelineId {
    const key = variantKey(kernel, variant)
    const cached = this.pipelines.get(key)
    if (cached !== undefined) return cached
    if (variant.dtype === "f16" && !this.adapter.f16) throw gpuError("Unsupported", `kernel '${kernel}': shader-f16 is not available on this adapter`)
    const id = this.nextPipeline++
    this.pipelines.set(key, id)
    this.push({ _tag: "CreatePipeline", pipelineId: id as WirePipelineId, kernelId: kernel, variantKey: key })
    return id
  }

  dispatch(call: Dispatch): void {
    this.push({
      _tag: "Dispatch",
      pipelineId: call.pipeline as WirePipelineId,
      bindings: call.bindings.map((b, slot) => ({ slot, bufferId: b.buffer as WireBufferId, offset: b.offset ?? 0, size: b.size ?? 0 })),
      uniforms: call.uniforms === undefined ? new Uint8Array(0) : call.uniforms.slice(),
      workgroups: [call.workgroups[0], call.workgroups[1], call.workgroups[2]],
    }, call.uniforms?.byteLength ?? 0)
  }

  copy(_src: BufferId, _srcOffset: number, _dst: BufferId, _dstOffset: number, _size: number): void {
    // The wire's GpuCall has no buffer-to-buffer copy; the engine's models do not use one.
    throw gpuError("Unsupported", "remote GPU: buffer-to-buffer copy is not a GpuCall of the protocol")
  }

  submit(): void {
    if (this.calls.length > 0) void this.send().catch(() => undefined)
  }

  async read(buffer: BufferId, offset: number, size: number): Promise<Uint8Array> {
    this.push({ _tag: "ReadBuffer", bufferId: buffer as WireBufferId, offset, size })
    this.stats.roundTrips++
    const reply = this.send(true)
    try {
      const { reads } = await reply
      this.raise()
      return reads[reads.length - 1]
    } catch (e) {
      throw e instanceof Error && (e as GpuError)._tag === "GpuError" ? e : asGpuError(e)
    }
  }

  async finish(): Promise<SubmitTiming> {
    if (this.calls.length > 0) this.submit()
    // An empty GpuSubmit is the server's finish: it answers once its GPU is idle, with the GPU time since the last.
    this.stats.roundTrips++
    const { executionMs } = await this.send(true).catch((e) => { throw asGpuError(e) })
    await this.inFlight
    this.raise()
    return { gpuMs: executionMs }
  }

  async checkErrors(): Promise<void> {
    await this.finish()
  }

  destroy(): void {
    if (this.destroyed) return
    for (const id of this.live) this.calls.push({ _tag: "DestroyBuffer", bufferId: id as WireBufferId })
    this.live.clear()
    if (this.calls.length > 0 && !this.conn.closed) void this.send().catch(() => undefined)
    this.destroyed = true
    this.conn.blindOpen = false
  }
}
