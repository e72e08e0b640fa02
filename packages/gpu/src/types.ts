/**
 * The GPU interface the engine drives. It is deliberately driver-like and serialisable — numeric ids, byte arrays,
 * kernel ids + variant keys — so that the same engine runs on a local Dawn device or on a `RemoteGpu` that forwards
 * every call over the network (semantic-blind remoting).
 */
export type BufferId = number
export type PipelineId = number
export type DType = "f32" | "f16"

/** Compile-time choices of a kernel: one cached pipeline per distinct variant. */
export interface Variant {
  readonly dtype?: DType
  /** Names switched on for `// #if NAME` blocks of the kernel's WGSL. */
  readonly defines?: readonly string[]
  /** WGSL `override` constants (workgroup size, tile sizes). */
  readonly constants?: Readonly<Record<string, number>>
}

/** A storage binding: a buffer range. Offsets must be multiples of 256 (minStorageBufferOffsetAlignment). */
export interface Binding {
  readonly buffer: BufferId
  readonly offset?: number
  readonly size?: number
}

export interface Dispatch {
  readonly pipeline: PipelineId
  /** Storage bindings in the kernel's declared order (WGSL @binding(1), (2), …). */
  readonly bindings: readonly Binding[]
  /** Uniform bytes for @binding(0), when the kernel has a uniform block. */
  readonly uniforms?: Uint8Array
  readonly workgroups: readonly [number, number, number]
}

export interface AdapterDescription {
  readonly vendor: string
  readonly architecture: string
  readonly device: string
  readonly description: string
  readonly backend: string
  readonly features: readonly string[]
  readonly limits: Readonly<Record<string, number>>
  readonly f16: boolean
  readonly subgroups: boolean
  readonly timestamps: boolean
  readonly subgroupMatrix: boolean
  /** Dawn's bounds checks on shader memory accesses (absent: on, the WebGPU default). See `GpuConfig.robustness`. */
  readonly robustness?: boolean
}

export interface SubmitTiming {
  /** GPU time of the submit's compute pass(es), from timestamp queries, in ms. */
  readonly gpuMs: number
}

/**
 * A stretch of device calls (dispatches, copies, writes, submits) kept by `GpuDevice.capture` to be issued again by
 * `GpuDevice.replay`: pipelines, bind groups and uniforms resolved once, so a replay costs the encoder calls only.
 */
export interface Recording {
  /** Dispatches a replay issues. */
  readonly dispatches: number
  /** Frees what it holds on the GPU (its uniforms); a replay of it afterwards returns false. */
  release(): void
}

export interface GpuDevice {
  readonly adapter: AdapterDescription
  createBuffer(size: number, label?: string): BufferId
  writeBuffer(buffer: BufferId, offset: number, data: Uint8Array): void
  destroyBuffer(buffer: BufferId): void
  /** A cached compute pipeline for a kernel of the registry and a variant. */
  pipeline(kernel: string, variant?: Variant): PipelineId
  /** Recorded; runs at the next submit. */
  dispatch(call: Dispatch): void
  /** Recorded; runs at the next submit. */
  copy(src: BufferId, srcOffset: number, dst: BufferId, dstOffset: number, size: number): void
  /** Sends everything recorded since the last submit as one command buffer. */
  submit(): void
  /** Submits what is recorded, then reads a buffer range back. */
  read(buffer: BufferId, offset: number, size: number): Promise<Uint8Array>
  /** Resolves when all submitted work has finished; with profiling on, the GPU time since the last call. */
  finish(): Promise<SubmitTiming>
  /**
   * Whether `capture` and `replay` work now (absent: this device has no replay; DJINN_REPLAY=0 turns it off on a
   * WebGpuDevice).
   */
  readonly replayOn?: boolean
  /**
   * Runs `record` as usual and keeps the calls it made as a Recording; undefined where replay is off or `record` did
   * what a replay could not repeat (created or destroyed a buffer, read, waited). Work recorded before is submitted
   * first, and what `record` leaves unsubmitted is submitted at the end.
   */
  capture?(record: () => void): Recording | undefined
  /**
   * Issues a recording's calls again (writes with the bytes captured) and submits them. False, with nothing issued,
   * where it cannot: replay is off, a buffer it binds was destroyed, it was released or is another device's.
   */
  replay?(recording: Recording): boolean
  /** Raises the first asynchronous GPU error (validation, out-of-memory) seen since the last check. */
  checkErrors(): Promise<void>
  destroy(): void
}

/** A kernel as the registry knows it: preprocessed WGSL plus its binding layout. */
export interface KernelSpec {
  readonly id: string
  /** Raw WGSL (with `// #if` blocks and `// @dtype` lines). */
  readonly wgsl: string
  /** Storage bindings after the uniform block, in order; the uniform block (if any) is @binding(0). */
  readonly storage: readonly ("read" | "read_write")[]
  readonly uniforms: boolean
  readonly entryPoint?: string
}

export type KernelRegistry = ReadonlyMap<string, KernelSpec>

export const dtypeBytes = (dtype: DType): number => (dtype === "f16" ? 2 : 4)
