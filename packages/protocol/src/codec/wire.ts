// Raw capnp messages: building into a pre-sized segment, serializing with the stream header, and opening received
// bytes behind guards (segment table checks, a read budget, an allocation cap, capnp-es's traversal limit).
import * as $ from "capnp-es"
import { protocolError, type ProtocolError, type ProtocolErrorReason } from "../errors.ts"
import { FRAME_PREFIX_BYTES } from "../frame.ts"

/** Thrown inside the reader and turned into a ProtocolError by the guard in `openMessage`'s caller; never escapes. */
export class DecodeFailure {
  readonly reason: ProtocolErrorReason
  readonly message: string
  constructor(reason: ProtocolErrorReason, message: string) {
    this.reason = reason
    this.message = message
  }
}
export const fail = (reason: ProtocolErrorReason, message: string): never => {
  throw new DecodeFailure(reason, message)
}

/** Counts bytes a decode produces (strings, arrays, views) so shared or looping pointers cannot amplify a frame. */
export class ReadBudget {
  left: number
  constructor(left: number) {
    this.left = left
  }
  charge(bytes: number): void {
    this.left -= bytes
    if (this.left < 0) fail("Malformed", "read budget exceeded (pointers amplify the message)")
  }
}

const MAX_SEGMENTS = 512
/** Decoding may allocate inside the message only when a struct or list on the wire is smaller than this schema's. */
const DECODE_ALLOC_LIMIT = 256 * 1024
const pad8 = (n: number) => (n + 7) & ~7

// capnp-es does not export its arenas but dispatches on `kind` (0 single segment, 1 multi segment) and reads plain
// fields, so plain objects of that shape work as arenas. The constructor then treats their buffers as filled.
type ArenaArg = ConstructorParameters<typeof $.Message>[0]
const singleSegmentArena = (buffer: ArrayBuffer) => ({ kind: 0, buffer }) as unknown as ArenaArg
const multiSegmentArena = (buffers: Array<ArrayBuffer>) => ({ kind: 1, buffers }) as unknown as ArenaArg

/** A message whose single segment has `capacity` bytes ready, so building it does not regrow and copy. */
export const newMessage = (capacity: number): $.Message => {
  const msg = new $.Message(singleSegmentArena(new ArrayBuffer(pad8(Math.max(capacity, 64)))), false)
  msg.getSegment(0).byteLength = 8 // the root pointer; the rest of the buffer is free
  return msg
}

/** Serializes with the standard capnp stream header, optionally behind the 4-byte frame prefix. */
export const serialize = (msg: $.Message, framed: boolean): Uint8Array => {
  const segments = msg._capnp.segments
  const head = framed ? FRAME_PREFIX_BYTES : 0
  const table = pad8(4 + 4 * segments.length)
  let total = table
  for (const s of segments) total += pad8(s.byteLength)
  const out = new Uint8Array(head + total)
  const dv = new DataView(out.buffer)
  if (framed) dv.setUint32(0, total, true)
  dv.setUint32(head, segments.length - 1, true)
  let at = head + table
  segments.forEach((s, i) => {
    const len = pad8(s.byteLength)
    dv.setUint32(head + 4 + 4 * i, len / 8, true)
    out.set(new Uint8Array(s.buffer, 0, len), at)
    at += len
  })
  return out
}

/** Frame prefix + stream header, and the segments as views: write them in order to avoid copying the payload. */
export const serializeParts = (msg: $.Message): Array<Uint8Array> => {
  const segments = msg._capnp.segments
  const table = pad8(4 + 4 * segments.length)
  const head = new Uint8Array(FRAME_PREFIX_BYTES + table)
  const dv = new DataView(head.buffer)
  let total = table
  for (const s of segments) total += pad8(s.byteLength)
  dv.setUint32(0, total, true)
  dv.setUint32(FRAME_PREFIX_BYTES, segments.length - 1, true)
  segments.forEach((s, i) => dv.setUint32(FRAME_PREFIX_BYTES + 4 + 4 * i, pad8(s.byteLength) / 8, true))
  return [head, ...segments.map((s) => new Uint8Array(s.buffer, 0, pad8(s.byteLength)))]
}

export interface OpenedMessage<T extends $.Struct> {
  readonly root: T
  readonly budget: ReadBudget
}

/**
 * Checks the stream header of `payload`, copies each segment into its own ArrayBuffer (capnp-es needs a segment to
 * start at offset 0 of its buffer; views of the payload would not), and returns the root behind the guards.
 * Tensor bytes read later are views into those buffers.
 */
export const openMessage = <T extends $.Struct>(
  payload: Uint8Array,
  Root: $.StructCtor<T>,
): OpenedMessage<T> | ProtocolError => {
  const n = payload.byteLength
  if (n < 8) return protocolError("Truncated", `payload of ${n} bytes is shorter than a segment table`)
  const dv = new DataView(payload.buffer, payload.byteOffset, n)
  const count = dv.getUint32(0, true) + 1
  if (count > MAX_SEGMENTS) return protocolError("Malformed", `segment table claims ${count} segments (max ${MAX_SEGMENTS})`)
  const table = pad8(4 + 4 * count)
  if (table > n) return protocolError("Truncated", `segment table of ${count} segments does not fit ${n} bytes`)
  let total = table
  for (let i = 0; i < count; i++) total += dv.getUint32(4 + 4 * i, true) * 8
  if (total > n) return protocolError("Truncated", `segments need ${total} bytes, payload has ${n}`)
  if (total < n) return protocolError("Malformed", `${n - total} trailing bytes after the last segment`)
  if (dv.getUint32(4, true) === 0) return protocolError("Malformed", "first segment is empty (no root pointer)")
  const buffers: Array<ArrayBuffer> = []
  let at = payload.byteOffset + table
  for (let i = 0; i < count; i++) {
    const len = dv.getUint32(4 + 4 * i, true) * 8
    buffers.push(payload.buffer.slice(at, at + len) as ArrayBuffer)
    at += len
  }
  const msg = new $.Message(multiSegmentArena(buffers), false)
  // capnp-es charges 8 per pointer object it creates; a decode creates a few per field, so scale with the payload.
  msg._capnp.traversalLimit = 64 * n + 1024 * 1024
  let allocated = 0
  const allocateSegment = msg.allocateSegment.bind(msg)
  msg.allocateSegment = (byteLength: number) => {
    allocated += Math.max(byteLength, 4096)
    if (allocated > DECODE_ALLOC_LIMIT) fail("Malformed", "undersized structs or lists would need too much upgrading")
    return allocateSegment(byteLength)
  }
  return { root: msg.getRoot(Root), budget: new ReadBudget(2 * n + 4096) }
}

/** Runs a decode step, turning anything it throws (ours or capnp-es's) into a ProtocolError. */
export const guard = <A>(f: () => A | ProtocolError): A | ProtocolError => {
  try {
    return f()
  } catch (e) {
    if (e instanceof DecodeFailure) return protocolError(e.reason, e.message)
    const text = e instanceof Error ? e.message : String(e)
    return protocolError("Malformed", text.length > 300 ? text.slice(0, 300) + "…" : text)
  }
}
