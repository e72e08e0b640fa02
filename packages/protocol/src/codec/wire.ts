// Raw capnp messages: building into a pre-sized segment, serializing with the stream header, and opening received
// bytes behind guards (segment table checks, a read budget, an allocation cap, capnp-es's traversal limit).
//
// Small messages (≤ SCRATCH_BYTES) reuse one module-level message for building and one for reading: allocating an
// ArrayBuffer, a DataView and a capnp-es Message per message costs more than the whole encode or decode otherwise.
// encode/decode are synchronous and never call out while a scratch message is in use, so reuse is safe; byte fields
// read from a scratch message are copied out (small), those of larger messages are views (zero-copy).
import * as $ from "capnp-es"
import { protocolError, type ProtocolError } from "../errors.ts"
import { FRAME_PREFIX_BYTES, SegmentedPayload, type Payload } from "../frame.ts"
import { DecodeFailure, fail } from "./failure.ts"
import { checkStructure } from "./walk.ts"

export { fail } from "./failure.ts"

/**
 * Counts bytes a decode produces (strings, arrays, views) so shared or looping pointers cannot amplify a frame, and
 * says whether byte fields must be copied out (the message lives in a reused scratch buffer).
 */
export class ReadBudget {
  left: number
  readonly copyBytes: boolean
  constructor(left: number, copyBytes: boolean) {
    this.left = left
    this.copyBytes = copyBytes
  }
  charge(bytes: number): void {
    this.left -= bytes
    if (this.left < 0) fail("Malformed", "read budget exceeded (pointers amplify the message)")
  }
}

export const MAX_SEGMENTS = 512
/** The read budget of a payload of `n` bytes (see {@link ReadBudget}). */
export const readBudgetBytes = (n: number): number => 2 * n + 4096
/** Decoding allocates inside the message only when a struct or list on the wire is smaller than this schema's. */
const DECODE_ALLOC_LIMIT = 256 * 1024
/** Single-segment payloads up to this many segment bytes are read from a reused scratch (byte fields copied out). */
export const SCRATCH_BYTES = 16 * 1024
const BUILD_TRAVERSAL_LIMIT = 64 << 20
const pad8 = (n: number) => (n + 7) & ~7

// capnp-es does not export its arenas but dispatches on `kind` (0 single segment, 1 multi segment) and reads plain
// fields, so plain objects of that shape work as arenas. The constructor then treats their buffers as filled.
type ArenaArg = ConstructorParameters<typeof $.Message>[0]
interface SingleArena {
  kind: 0
  buffer: ArrayBuffer
}
interface MultiArena {
  kind: 1
  buffers: Array<ArrayBuffer>
}
const asArena = (a: SingleArena | MultiArena) => a as unknown as ArenaArg

const u32At = (b: Uint8Array, at: number): number => (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0
const putU32 = (b: Uint8Array, at: number, v: number) => {
  b[at] = v & 0xff
  b[at + 1] = (v >>> 8) & 0xff
  b[at + 2] = (v >>> 16) & 0xff
  b[at + 3] = (v >>> 24) & 0xff
}

// ---------------------------------------------------------------------------------------------------------------
// Building

/**
 * Data fields of at least this many bytes are not copied into a message built by `encode*`: each goes out as a
 * segment of its own, a view of the caller's bytes reached through a double-far pointer, so a tensor is written to
 * the socket from where it lies. (Cap'n Proto's own writers do the same for large blobs: "orphans" adopted from
 * another segment.)
 */
export const EXTERNAL_BYTES = 64 * 1024
/** Beyond this many external segments in one message, further blobs are copied in (the reader accepts 512 segments). */
const MAX_EXTERNALS = 64
const externals = new WeakMap<$.Message, Array<Uint8Array>>()

/** Lets `msg` take blobs as external segments (see {@link EXTERNAL_BYTES}); forgets any of an earlier build. */
export const allowExternals = (msg: $.Message): void => {
  externals.set(msg, [])
}

/**
 * The segment id under which `bytes` will be sent after `msg`'s own segment, or undefined when `msg` does not take
 * externals (or has its share). The caller points at it with a double-far pointer.
 */
export const addExternal = (msg: $.Message, bytes: Uint8Array): number | undefined => {
  const list = externals.get(msg)
  if (list === undefined || list.length >= MAX_EXTERNALS || segmentsOf(msg).length !== 1) return undefined
  list.push(bytes)
  return list.length // segment 0 is the message's own (a single-segment arena: it grows in place)
}

const ZEROS = new Uint8Array(8)

const freshBuilder = (capacity: number): $.Message => {
  const msg = new $.Message(asArena({ kind: 0, buffer: new ArrayBuffer(pad8(Math.max(capacity, 64))) }), false)
  msg.getSegment(0).byteLength = 8 // the root pointer; the rest of the buffer is free (and zero)
  return msg
}

let scratchBuilder: { msg: $.Message; buffer: ArrayBuffer } | undefined

/** A message to build into with at least `capacity` free bytes; small ones reuse the zeroed scratch message. */
export const newMessage = (capacity: number): $.Message => {
  if (capacity > SCRATCH_BYTES) return freshBuilder(capacity)
  if (scratchBuilder === undefined) {
    const msg = freshBuilder(SCRATCH_BYTES)
    scratchBuilder = { msg, buffer: msg.getSegment(0).buffer }
  }
  const { msg, buffer } = scratchBuilder
  const seg = msg.getSegment(0)
  if (seg.buffer !== buffer || msg._capnp.segments.length !== 1) {
    scratchBuilder = undefined // the estimate was short and the arena regrew: start over with a clean one
    return newMessage(capacity)
  }
  new Uint8Array(buffer, 0, seg.byteLength).fill(0) // capnp-es expects fresh space to be zero
  seg.byteLength = 8
  msg._capnp.traversalLimit = BUILD_TRAVERSAL_LIMIT // capnp-es charges building too; the scratch must not run dry
  return msg
}

const segmentsOf = (msg: $.Message) => msg._capnp.segments

const writeTable = (out: Uint8Array, at: number, segments: ReadonlyArray<{ readonly byteLength: number }>) => {
  putU32(out, at, segments.length - 1)
  for (let i = 0; i < segments.length; i++) putU32(out, at + 4 + 4 * i, pad8(segments[i].byteLength) / 8)
}

/** The message's own segments, then its external blobs (each padded to a word on the wire). */
type OwnSegment = ReturnType<$.Message["getSegment"]>
const allSegments = (msg: $.Message): Array<OwnSegment | Uint8Array> => {
  const ext = externals.get(msg)
  externals.delete(msg)
  return ext === undefined || ext.length === 0 ? segmentsOf(msg) : [...segmentsOf(msg), ...ext]
}

/** Serializes with the standard capnp stream header, optionally behind the 4-byte frame prefix. Copies once. */
export const serialize = (msg: $.Message, framed: boolean): Uint8Array => {
  const segments = allSegments(msg)
  const head = framed ? FRAME_PREFIX_BYTES : 0
  const table = pad8(4 + 4 * segments.length)
  let total = table
  for (const s of segments) total += pad8(s.byteLength)
  const out = new Uint8Array(head + total)
  if (framed) putU32(out, 0, total)
  writeTable(out, head, segments)
  let at = head + table
  for (const s of segments) {
    out.set(s instanceof Uint8Array ? s : new Uint8Array(s.buffer, 0, pad8(s.byteLength)), at)
    at += pad8(s.byteLength)
  }
  return out
}

/**
 * [frame prefix + stream header, …segments as views]: write them in order and the payload is not copied again.
 * External blobs are the caller's own bytes: they must not change until the socket has taken them.
 */
export const serializeParts = (msg: $.Message): Array<Uint8Array> => {
  const segments = allSegments(msg)
  const table = pad8(4 + 4 * segments.length)
  const head = new Uint8Array(FRAME_PREFIX_BYTES + table)
  let total = table
  for (const s of segments) total += pad8(s.byteLength)
  putU32(head, 0, total)
  writeTable(head, FRAME_PREFIX_BYTES, segments)
  // A scratch message is reused by the next encode, so its bytes must not be handed out as views.
  const own = scratchBuilder === undefined || segments[0] !== scratchBuilder.msg.getSegment(0)
  const parts: Array<Uint8Array> = [head]
  for (const s of segments) {
    if (s instanceof Uint8Array) {
      parts.push(s)
      if ((s.byteLength & 7) !== 0) parts.push(ZEROS.subarray(0, 8 - (s.byteLength & 7)))
    } else {
      parts.push(own ? new Uint8Array(s.buffer, 0, pad8(s.byteLength)) : new Uint8Array(s.buffer.slice(0, pad8(s.byteLength))))
    }
  }
  return parts
}

// ---------------------------------------------------------------------------------------------------------------
// Reading

export interface OpenedMessage<T extends $.Struct> {
  readonly root: T
  readonly budget: ReadBudget
}

/** A message being read: capnp-es may allocate in it only to upgrade undersized structs or lists, up to a cap. */
class ReadMessage extends $.Message {
  allocated = 0
  override allocateSegment(byteLength: number) {
    this.allocated += Math.max(byteLength, 4096)
    if (this.allocated > DECODE_ALLOC_LIMIT) fail("Malformed", "undersized structs or lists would need too much upgrading")
    return super.allocateSegment(byteLength)
  }
}

/** Resets the caps: capnp-es charges 8 per pointer object it creates, a decode creates a few per field. */
const arm = (msg: ReadMessage, payloadBytes: number) => {
  msg._capnp.traversalLimit = 64 * payloadBytes + 1024 * 1024
  msg.allocated = 0
}

let scratchReader:
  | { msg: ReadMessage; arena: MultiArena; bytes: Uint8Array; seg: { dv: DataView; words: number }; dirty: number }
  | undefined

const openScratch = (payload: Uint8Array, at: number, len: number): ReadMessage => {
  if (scratchReader === undefined) {
    const buffer = new ArrayBuffer(SCRATCH_BYTES)
    const arena: MultiArena = { kind: 1, buffers: [buffer] }
    const seg = { dv: new DataView(buffer), words: 0 }
    scratchReader = { msg: new ReadMessage(asArena(arena), false), arena, bytes: new Uint8Array(buffer), seg, dirty: SCRATCH_BYTES }
  }
  const r = scratchReader
  const segments = r.msg._capnp.segments
  // Zero whatever the previous message left beyond this one (its bytes, and defaults written while reading it into
  // the spare capacity), so no pointer of this message can read a stale byte.
  const stale = Math.max(r.dirty, segments[0].byteLength)
  r.bytes.set(payload.subarray(at, at + len))
  if (stale > len) r.bytes.fill(0, len, stale)
  r.dirty = len
  r.arena.buffers.length = 1
  segments.length = 1
  segments[0].byteLength = len
  r.seg.words = len / 8
  checkStructure([r.seg])
  return r.msg
}

/**
 * Checks the stream header of `payload`, gives each segment a buffer of its own (capnp-es needs a segment to start
 * at offset 0 of its ArrayBuffer; a SegmentedPayload's segments have theirs already, so they are not copied), and
 * returns the root behind the guards. Must run inside `guard`.
 */
export const openMessage = <T extends $.Struct>(payload: Payload, Root: $.StructCtor<T>): OpenedMessage<T> | ProtocolError => {
  const n = payload.byteLength
  const head = payload instanceof SegmentedPayload ? payload.table : payload
  if (n < 8 || head.byteLength < 8) return protocolError("Truncated", `payload of ${n} bytes is shorter than a segment table`)
  const count = u32At(head, 0) + 1
  if (count > MAX_SEGMENTS) return protocolError("Malformed", `segment table claims ${count} segments (max ${MAX_SEGMENTS})`)
  const table = pad8(4 + 4 * count)
  if (table > n || table > head.byteLength) return protocolError("Truncated", `segment table of ${count} segments does not fit ${n} bytes`)
  let total = table
  for (let i = 0; i < count; i++) total += u32At(head, 4 + 4 * i) * 8
  if (total > n) return protocolError("Truncated", `segments need ${total} bytes, payload has ${n}`)
  if (total < n) return protocolError("Malformed", `${n - total} trailing bytes after the last segment`)
  if (u32At(head, 4) === 0) return protocolError("Malformed", "first segment is empty (no root pointer)")
  let msg: ReadMessage
  const scratch = !(payload instanceof SegmentedPayload) && count === 1 && n - table <= SCRATCH_BYTES
  if (payload instanceof SegmentedPayload) {
    const buffers = [...payload.segments]
    for (let i = 0; i < count; i++) {
      if (buffers[i]?.byteLength !== u32At(head, 4 + 4 * i) * 8) return protocolError("Malformed", "segment buffers do not match the segment table")
    }
    msg = new ReadMessage(asArena({ kind: 1, buffers }), false)
    checkStructure(buffers.map((b) => ({ dv: new DataView(b), words: b.byteLength / 8 })))
  } else if (scratch) msg = openScratch(payload, table, n - table)
  else {
    const buffers: Array<ArrayBuffer> = []
    let at = payload.byteOffset + table
    for (let i = 0; i < count; i++) {
      const len = u32At(payload, 4 + 4 * i) * 8
      buffers.push(payload.buffer.slice(at, at + len) as ArrayBuffer)
      at += len
    }
    msg = new ReadMessage(asArena({ kind: 1, buffers }), false)
    checkStructure(buffers.map((b) => ({ dv: new DataView(b), words: b.byteLength / 8 })))
  }
  arm(msg, n)
  return { root: msg.getRoot(Root), budget: new ReadBudget(readBudgetBytes(n), scratch) }
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
