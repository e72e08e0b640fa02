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

/**
 * Incremental decoder for a byte stream: push chunks split anywhere, get whole frame payloads out.
 * A payload that lies inside one chunk is returned as a view of that chunk; one that spans chunks is assembled into
 * a buffer of exactly its size. After a FrameTooLarge the stream is unrecoverable and every later push fails.
 */
export class FrameDecoder {
  readonly maxFrameBytes: number
  private readonly prefix = new Uint8Array(FRAME_PREFIX_BYTES)
  private prefixFill = 0
  private pending: Uint8Array | undefined // payload being assembled across chunks
  private pendingFill = 0
  private failure: ProtocolError | undefined

  constructor(options?: FrameOptions) {
    this.maxFrameBytes = options?.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
  }

  /** Bytes held for an unfinished frame. */
  get buffered(): number {
    return this.prefixFill + this.pendingFill
  }

  push(chunk: Uint8Array): Result.Result<ReadonlyArray<Uint8Array>, ProtocolError> {
    if (this.failure) return Result.fail(this.failure)
    const frames: Array<Uint8Array> = []
    let at = 0
    const n = chunk.byteLength
    while (at < n) {
      if (this.pending) {
        const take = Math.min(this.pending.byteLength - this.pendingFill, n - at)
        this.pending.set(chunk.subarray(at, at + take), this.pendingFill)
        this.pendingFill += take
        at += take
        if (this.pendingFill === this.pending.byteLength) {
          frames.push(this.pending)
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
        frames.push(chunk.subarray(at, at + length))
        at += length
      } else {
        this.pending = new Uint8Array(length) // bounded by maxFrameBytes, checked above
        this.pendingFill = 0
      }
    }
    return Result.succeed(frames)
  }
}
