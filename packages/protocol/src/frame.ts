// Stream framing: every frame is a 4-byte little-endian payload length followed by that many payload bytes.
// The length is checked against the frame limit before anything is allocated for the frame.
import { Result } from "effect"
import { protocolError, type ProtocolError } from "./errors.ts"

export const FRAME_PREFIX_BYTES = 4
/** Default bound on one frame's payload. Weight uploads and blind-mode writes must be chunked below it. */
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024

export interface FrameOptions {
  /** Largest payload accepted (bytes, excluding the 4-byte prefix). */
  readonly maxFrameBytes?: number
}

/** FrameDecoder's options: a frame limit, and whether to assemble large payloads segment by segment. */
export interface FrameDecoderOptions extends FrameOptions {
  /**
   * Payloads of at least this many bytes that span chunks are assembled as a {@link SegmentedPayload} (each capnp
   * segment in an ArrayBuffer of its own), so decoding them copies nothing more. Off when unset.
   */
  readonly splitSegmentsFrom?: number
  /** Size of the scratch buffer {@link FrameDecoder.readBuffer} hands out between frames (default 64 KiB). */
  readonly readBytes?: number
  /** readBuffer points reads straight into a frame being assembled when this many bytes of it are missing (16 KiB). */
  readonly directReadsFrom?: number
  /**
   * Where segments of {@link SPLIT_SEGMENTS_FROM} bytes or more of a segmented payload are assembled (default: a new
   * buffer each). A {@link SegmentPool} hands back buffers its owner returned once it was done with their frames.
   */
  readonly segmentBuffers?: SegmentPool
}

/**
 * Receive buffers for large capnp segments, reused from frame to frame. A fresh multi-megabyte buffer is memory the
 * kernel has never mapped: the reads into it page-fault and zero every 4 KiB page (ResNet-50 b8's 4.8 MB request:
 * ~1.3 ms on the 2-core box, more than the bytes' copy out of the socket), so a connection that receives tensors of
 * the same size request after request reads them into buffers it already holds. Buffers go back with {@link give}
 * only when nothing holds a view of them any more (the request they carried has finished); only buffers this pool
 * handed out, and not yet returned, are taken back. Bounded: at most `maxBuffers` held, `maxBytes` in all.
 */
export class SegmentPool {
  private readonly free: Array<ArrayBuffer> = []
  private readonly lent = new WeakSet<ArrayBuffer>()
  private held = 0
  readonly maxBuffers: number
  readonly maxBytes: number
  constructor(options?: { readonly maxBuffers?: number; readonly maxBytes?: number }) {
    this.maxBuffers = options?.maxBuffers ?? 4
    this.maxBytes = options?.maxBytes ?? DEFAULT_MAX_FRAME_BYTES
  }

  /** A buffer of exactly `bytes` bytes (at offset 0 of an ArrayBuffer of that size), reused when one is free. */
  take(bytes: number): Uint8Array {
    const i = this.free.findIndex((b) => b.byteLength === bytes)
    let buffer: ArrayBuffer
    if (i >= 0) {
      buffer = this.free.splice(i, 1)[0]
      this.held -= bytes
    } else buffer = new ArrayBuffer(bytes)
    this.lent.add(buffer)
    return new Uint8Array(buffer)
  }

  /** Returns the large segments of `payload` (a frame whose decoded views are no longer used) for reuse. */
  give(payload: Payload): void {
    if (!(payload instanceof SegmentedPayload)) return
    for (const b of payload.segments) {
      if (!this.lent.has(b)) continue
      this.lent.delete(b)
      if (b.byteLength > this.maxBytes) continue
      this.free.push(b)
      this.held += b.byteLength
      while (this.free.length > this.maxBuffers || this.held > this.maxBytes) this.held -= this.free.shift()!.byteLength
    }
  }

  /** Bytes held for reuse. */
  get heldBytes(): number {
    return this.held
  }
}

/** Where FrameDecoder splits large payloads by segment when asked to (sockets deliver 64 KiB chunks). */
export const SPLIT_SEGMENTS_FROM = 64 * 1024
const READ_BYTES = 64 * 1024 // per connection, held while it lives: the size of one of Node's own socket reads
// Below this, a read into the scratch buffer is cheaper: it brings the frame's tail and what follows in one syscall.
const DIRECT_READS_FROM = 16 * 1024
const NO_FRAMES: ReadonlyArray<never> = []

/**
 * A capnp stream payload (segment table, then segments) assembled segment by segment: capnp-es reads a segment from
 * offset 0 of its ArrayBuffer, so a segment received in place needs no copy before decoding. `table` is the stream's
 * segment table as received; decodePayload checks it like any other.
 */
export class SegmentedPayload {
  readonly table: Uint8Array
  readonly segments: ReadonlyArray<ArrayBuffer>
  readonly byteLength: number
  constructor(table: Uint8Array, segments: ReadonlyArray<ArrayBuffer>, byteLength: number) {
    this.table = table
    this.segments = segments
    this.byteLength = byteLength
  }
}

/** A payload as FrameDecoder yields it: bytes, or (large ones, when asked for) bytes split by segment. */
export type Payload = Uint8Array | SegmentedPayload

const frameTooLarge = (length: number, max: number) =>
  protocolError("FrameTooLarge", `frame of ${length} bytes exceeds the ${max}-byte limit`)

/** Prefixes `payload` with its length. One copy; use {@link frameHeader} to write prefix and payload separately. */
export const encodeFrame = (payload: Uint8Array): Uint8Array => {
  const out = new Uint8Array(FRAME_PREFIX_BYTES + payload.byteLength)
  new DataView(out.buffer).setUint32(0, payload.byteLength, true)
  out.set(payload, FRAME_PREFIX_BYTES)
  return out
}

/** The 4-byte prefix alone, for writev-style sends. */
export const frameHeader = (payloadBytes: number): Uint8Array => {
  const out = new Uint8Array(FRAME_PREFIX_BYTES)
  new DataView(out.buffer).setUint32(0, payloadBytes, true)
  return out
}

const readPrefix = (bytes: Uint8Array, at: number): number =>
  (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) >>> 0

/**
 * Splits a buffer holding whole frames into their payloads (views into `bytes`, no copy). `rest` is the tail that
 * does not yet hold a whole frame. Fails only with FrameTooLarge.
 */
export const decodeFrames = (
  bytes: Uint8Array,
  options?: FrameOptions,
): Result.Result<{ readonly frames: ReadonlyArray<Uint8Array>; readonly rest: Uint8Array }, ProtocolError> => {
  const max = options?.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
  const frames: Array<Uint8Array> = []
  let at = 0
  while (bytes.byteLength - at >= FRAME_PREFIX_BYTES) {
    const length = readPrefix(bytes, at)
    if (length > max) return Result.fail(frameTooLarge(length, max))
    if (bytes.byteLength - at - FRAME_PREFIX_BYTES < length) break
    frames.push(bytes.subarray(at + FRAME_PREFIX_BYTES, at + FRAME_PREFIX_BYTES + length))
    at += FRAME_PREFIX_BYTES + length
  }
  return Result.succeed({ frames, rest: bytes.subarray(at) })
}

const MAX_SPLIT_SEGMENTS = 512

/**
 * A payload assembled across chunks by capnp segment: the table first, then each segment into its own buffer. A
 * table that does not describe exactly `length` bytes (the decoder will reject it) falls back to one plain buffer.
 */
class SegmentAssembly {
  readonly length: number
  fill = 0
  private head = new Uint8Array(8)
  private tableBytes = 0 // 0 until the segment count is known
  private segments: Array<Uint8Array> | undefined
  private seg = 0
  private segFill = 0
  private raw: Uint8Array | undefined

  private readonly pool: SegmentPool | undefined

  constructor(length: number, pool?: SegmentPool) {
    this.length = length
    this.pool = pool
    if (length < 8) this.raw = new Uint8Array(length) // shorter than any segment table
  }

  get done(): boolean {
    return this.fill === this.length
  }

  get payload(): Payload {
    return this.raw ?? new SegmentedPayload(this.head, this.segments!.map((s) => s.buffer as ArrayBuffer), this.length)
  }

  /** The unfilled rest of the buffer the next bytes go to (the raw payload or the current segment), if past the table. */
  rest(): Uint8Array | undefined {
    if (this.done) return undefined
    if (this.raw !== undefined) return this.raw.subarray(this.fill)
    if (this.segments === undefined) return undefined
    while (this.segFill === this.segments[this.seg].byteLength) {
      this.seg++
      this.segFill = 0
    }
    return this.segments[this.seg].subarray(this.segFill)
  }

  /** `n` bytes were written into {@link rest} in place. */
  advance(n: number): void {
    this.fill += n
    if (this.raw === undefined) this.segFill += n
  }

  /** Takes bytes of `chunk` from `at` (up to the payload's end); returns where it stopped. */
  take(chunk: Uint8Array, at: number): number {
    const n = chunk.byteLength
    while (at < n && this.fill < this.length) {
      if (this.raw !== undefined) {
        const k = Math.min(this.length - this.fill, n - at)
        this.raw.set(chunk.subarray(at, at + k), this.fill)
        this.fill += k
        at += k
      } else if (this.segments === undefined) {
        const want = this.tableBytes === 0 ? 4 : this.tableBytes
        const k = Math.min(want - this.fill, n - at)
        this.head.set(chunk.subarray(at, at + k), this.fill)
        this.fill += k
        at += k
        if (this.fill === want) this.readTable()
      } else {
        while (this.segFill === this.segments[this.seg].byteLength) {
          this.seg++
          this.segFill = 0
        }
        const dst = this.segments[this.seg]
        const k = Math.min(dst.byteLength - this.segFill, n - at)
        dst.set(chunk.subarray(at, at + k), this.segFill)
        this.segFill += k
        this.fill += k
        at += k
      }
    }
    return at
  }

  private readTable(): void {
    const count = readPrefix(this.head, 0) + 1
    if (this.tableBytes === 0) {
      const tableBytes = (4 + 4 * count + 7) & ~7
      if (count > MAX_SPLIT_SEGMENTS || tableBytes > this.length) return this.toRaw()
      this.tableBytes = tableBytes
      const head = new Uint8Array(tableBytes)
      head.set(this.head.subarray(0, 4))
      this.head = head
      return
    }
    const sizes: number[] = []
    let total = this.tableBytes
    for (let i = 0; i < count; i++) {
      sizes.push(readPrefix(this.head, 4 + 4 * i) * 8)
      total += sizes[i]
    }
    if (total !== this.length || sizes[0] === 0) return this.toRaw()
    this.segments = sizes.map((b) => this.pool !== undefined && b >= SPLIT_SEGMENTS_FROM ? this.pool.take(b) : new Uint8Array(b))
  }

  private toRaw(): void {
    this.raw = new Uint8Array(this.length) // bounded by maxFrameBytes, checked before the assembly began
    this.raw.set(this.head.subarray(0, this.fill))
  }
}

/**
 * Incremental decoder for a byte stream: push chunks split anywhere, get whole frame payloads out.
 * A payload that lies inside one chunk is returned as a view of that chunk; one that spans chunks is assembled into
 * a buffer of exactly its size, or, with `splitSegmentsFrom`, segment by segment when it is that large. After a
 * FrameTooLarge the stream is unrecoverable and every later push fails.
 *
 * A socket reader can instead let the decoder choose where each read lands ({@link readBuffer} / {@link commit}): the
 * bulk of a large frame is then read by the kernel straight into the buffers it is decoded from, with no copy and
 * no per-chunk allocation.
 */
export class FrameDecoder<P extends Payload = Uint8Array> {
  readonly maxFrameBytes: number
  private splitFrom = Infinity
  private readonly prefix = new Uint8Array(FRAME_PREFIX_BYTES)
  private prefixFill = 0
  private pending: Uint8Array | undefined // payload being assembled across chunks
  private pendingFill = 0
  private assembly: SegmentAssembly | undefined
  private failure: ProtocolError | undefined
  private readonly readBytes: number
  private readonly directFrom: number
  private scratch: Uint8Array | undefined
  private direct = false // the last readBuffer() was the rest of the frame being assembled
  private readonly pool: SegmentPool | undefined

  constructor(options?: FrameDecoderOptions) {
    this.maxFrameBytes = options?.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
    this.readBytes = Math.max(options?.readBytes ?? READ_BYTES, FRAME_PREFIX_BYTES)
    this.directFrom = Math.max(options?.directReadsFrom ?? DIRECT_READS_FROM, 1)
    this.pool = options?.segmentBuffers
  }

  /** A decoder that assembles payloads of `options.splitSegmentsFrom` bytes or more (default 64 KiB) by segment. */
  static segmented(options?: FrameDecoderOptions): FrameDecoder<Payload> {
    const d = new FrameDecoder<Payload>(options)
    d.splitFrom = options?.splitSegmentsFrom ?? SPLIT_SEGMENTS_FROM
    return d
  }

  /**
   * Where the next read should put its bytes: the rest of the frame (or capnp segment) being assembled when at least
   * `directReadsFrom` bytes of it are missing, else a scratch buffer reused from read to read. Never empty. Each
   * readBuffer() is followed by one {@link commit} before the next.
   */
  readBuffer(): Uint8Array {
    const rest = this.assembly !== undefined ? this.assembly.rest() : this.pending?.subarray(this.pendingFill)
    this.direct = rest !== undefined && rest.byteLength >= this.directFrom
    if (this.direct) return rest!
    return (this.scratch ??= new Uint8Array(this.readBytes))
  }

  /**
   * Takes the `n` bytes a read put at the start of the last {@link readBuffer}. As with push, the payloads returned
   * may be views of that buffer, here a scratch buffer the next read overwrites: decode them before reading on.
   */
  commit(n: number): Result.Result<ReadonlyArray<P>, ProtocolError> {
    if (!this.direct) return this.push(this.scratch!.subarray(0, n))
    this.direct = false
    if (this.assembly !== undefined) {
      this.assembly.advance(n)
      if (!this.assembly.done) return Result.succeed(NO_FRAMES)
      const payload = this.assembly.payload as P
      this.assembly = undefined
      return Result.succeed([payload])
    }
    this.pendingFill += n
    if (this.pendingFill < this.pending!.byteLength) return Result.succeed(NO_FRAMES)
    const payload = this.pending as P
    this.pending = undefined
    this.pendingFill = 0
    return Result.succeed([payload])
  }

  /** Bytes held for an unfinished frame. */
  get buffered(): number {
    return this.prefixFill + this.pendingFill + (this.assembly?.fill ?? 0)
  }

  push(chunk: Uint8Array): Result.Result<ReadonlyArray<P>, ProtocolError> {
    if (this.failure) return Result.fail(this.failure)
    const frames: Array<P> = []
    let at = 0
    const n = chunk.byteLength
    while (at < n) {
      if (this.assembly) {
        at = this.assembly.take(chunk, at)
        if (this.assembly.done) {
          frames.push(this.assembly.payload as P)
          this.assembly = undefined
        }
        continue
      }
      if (this.pending) {
        const take = Math.min(this.pending.byteLength - this.pendingFill, n - at)
        this.pending.set(chunk.subarray(at, at + take), this.pendingFill)
        this.pendingFill += take
        at += take
        if (this.pendingFill === this.pending.byteLength) {
          frames.push(this.pending as P)
          this.pending = undefined
          this.pendingFill = 0
        }
        continue
      }
      let length: number
      if (this.prefixFill === 0 && n - at >= FRAME_PREFIX_BYTES) {
        length = readPrefix(chunk, at)
        at += FRAME_PREFIX_BYTES
      } else {
        while (this.prefixFill < FRAME_PREFIX_BYTES && at < n) this.prefix[this.prefixFill++] = chunk[at++]
        if (this.prefixFill < FRAME_PREFIX_BYTES) break
        this.prefixFill = 0
        length = readPrefix(this.prefix, 0)
      }
      if (length > this.maxFrameBytes) {
        this.failure = frameTooLarge(length, this.maxFrameBytes)
        return Result.fail(this.failure)
      }
      if (n - at >= length) {
        frames.push(chunk.subarray(at, at + length) as P)
        at += length
      } else if (length >= this.splitFrom) {
        this.assembly = new SegmentAssembly(length, this.pool) // bounded by maxFrameBytes, checked above
      } else {
        this.pending = new Uint8Array(length) // bounded by maxFrameBytes, checked above
        this.pendingFill = 0
      }
    }
    return Result.succeed(frames)
  }
}
