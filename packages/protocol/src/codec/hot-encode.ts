// The hot messages of a semantic request (Generate, Forward; TokenEvent, RefData, Result) written straight into one
// buffer, byte for byte what the capnp-es builders of encode.ts produce (test/hot-encode.test.ts holds the two to
// the same bytes). Each request pays these encodes cold, after milliseconds of other work: capnp-es builds a Struct,
// Pointer and List object per field, a WeakMap entry per message and a Message per build, and cold those cost
// 100–250 µs a message where a flat writer costs a few. Word layouts are those of src/gen/djinn.ts.
import type { GenerationParams, Hints, Input, Profile, RemoteRef, Tensor } from "../domain/common.ts"
import { DTYPES, PHASES, PRIORITIES } from "../domain/common.ts"
import type { DomainMessage } from "../domain/messages.ts"
import { FRAME_PREFIX_BYTES } from "../frame.ts"
import { EXTERNAL_BYTES } from "./wire.ts"

const MAX_EXTERNALS = 64 // as wire.ts: beyond this, blobs are copied in
const pad8 = (n: number) => (n + 7) & ~7
const index = <T extends string>(all: ReadonlyArray<T>) => Object.fromEntries(all.map((v, i) => [v, i])) as Record<T, number>
const DTYPE = index(DTYPES)
const PHASE = index(PHASES)
const PRIORITY = index(PRIORITIES)
// Message.body's union members, in schema order.
const BODY = { Generate: 11, Forward: 12, TokenEvent: 13, Result: 14, RefData: 16 } as const
const BYTE = 2
const BYTE_4 = 4
const COMPOSITE = 7
const ZEROS = new Uint8Array(8)

export type HotTag = keyof typeof BODY
export const isHot = (tag: string): tag is HotTag => tag in BODY

/** One segment being written: words allocated in order, as capnp-es's single-segment arena does. */
class Writer {
  readonly bytes: Uint8Array
  readonly view: DataView
  readonly base: number
  end: number
  readonly externals: Array<Uint8Array> = []
  constructor(bytes: Uint8Array, base: number) {
    this.bytes = bytes
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    this.base = base
    this.end = base
  }
  alloc(bytes: number): number {
    const at = this.end
    this.end += pad8(bytes)
    return at
  }
  u16(at: number, v: number) { this.view.setUint16(at, v, true) }
  u32(at: number, v: number) { this.view.setUint32(at, v, true) }
  u64(at: number, v: number) {
    this.view.setUint32(at, v >>> 0, true)
    this.view.setUint32(at + 4, Math.floor(v / 0x1_0000_0000) >>> 0, true)
  }
  f64(at: number, v: number) { this.view.setFloat64(at, v, true) }
  bit(at: number, v: boolean) { if (v) this.bytes[at] |= 1 }
  bitN(at: number, n: number, v: boolean) { if (v) this.bytes[at] |= 1 << n }
  /** A struct of `data` bytes and `ptrs` pointers, pointed at from the pointer word at `ptr`. */
  struct(ptr: number, data: number, ptrs: number): number {
    const at = this.alloc(data + 8 * ptrs)
    this.u32(ptr, ((at - ptr - 8) / 8) << 2)
    this.u16(ptr + 4, data / 8)
    this.u16(ptr + 6, ptrs)
    return at
  }
  list(ptr: number, size: number, count: number, bytes: number): number {
    const at = this.alloc(bytes)
    this.u32(ptr, ((((at - ptr - 8) / 8) << 2) | 1) >>> 0)
    this.u32(ptr + 4, ((count << 3) | size) >>> 0)
    return at
  }
  /** A list of `n` structs; returns the first element. */
  structs(ptr: number, n: number, data: number, ptrs: number): number {
    const size = data + 8 * ptrs
    const tag = this.list(ptr, COMPOSITE, (n * size) / 8, 8 + n * size)
    this.u32(tag, (n << 2) >>> 0)
    this.u16(tag + 4, data / 8)
    this.u16(tag + 6, ptrs)
    return tag + 8
  }
  u32s(ptr: number, values: ReadonlyArray<number>) {
    if (values.length === 0) return
    const at = this.list(ptr, BYTE_4, values.length, 4 * values.length)
    for (let i = 0; i < values.length; i++) this.u32(at + 4 * i, values[i])
  }
  text(ptr: number, text: string) {
    if (text.length === 0) return
    let ascii = true
    for (let i = 0; ascii && i < text.length; i++) ascii = text.charCodeAt(i) < 0x80
    const utf8 = ascii ? undefined : new TextEncoder().encode(text)
    const n = utf8 === undefined ? text.length : utf8.byteLength
    const at = this.list(ptr, BYTE, n + 1, n + 1)
    if (utf8 !== undefined) this.bytes.set(utf8, at)
    else for (let i = 0; i < n; i++) this.bytes[at + i] = text.charCodeAt(i)
  }
  data(ptr: number, bytes: Uint8Array) {
    if (bytes.byteLength === 0) return
    if (bytes.byteLength >= EXTERNAL_BYTES && this.externals.length < MAX_EXTERNALS) {
      // A double-far pointer to a landing pad whose far pointer names the blob's own segment (see fields.ts).
      this.externals.push(bytes)
      const pad = this.alloc(16)
      this.u32(pad, 2)
      this.u32(pad + 4, this.externals.length)
      this.u32(pad + 8, 1)
      this.u32(pad + 12, ((bytes.byteLength << 3) | BYTE) >>> 0)
      this.u32(ptr, ((((pad - this.base) / 8) << 3) | 4 | 2) >>> 0)
      this.u32(ptr + 4, 0)
      return
    }
    this.bytes.set(bytes, this.list(ptr, BYTE, bytes.byteLength, bytes.byteLength))
  }
  tensor(ptr: number, t: Tensor) {
    const s = this.struct(ptr, 8, 2)
    this.u16(s, DTYPE[t.dtype])
    this.u32s(s + 8, t.shape)
    this.data(s + 16, t.data)
  }
  ref(s: number, r: RemoteRef) {
    this.u64(s, r.id)
    this.u16(s + 8, DTYPE[r.dtype])
    this.u32s(s + 24, r.shape)
    this.u64(s + 16, r.byteSize)
  }
  inputs(ptr: number, inputs: ReadonlyArray<Input>) {
    const first = this.structs(ptr, inputs.length, 16, 2)
    for (let i = 0; i < inputs.length; i++) {
      const s = first + 32 * i
      const v = inputs[i]
      this.text(s + 16, v.name)
      if ("tensor" in v) this.tensor(s + 24, v.tensor)
      else {
        this.u16(s, 1)
        this.u64(s + 8, v.ref)
      }
    }
  }
  hints(ptr: number, h: Hints) {
    const s = this.struct(ptr, 24, 0)
    this.u16(s, PHASE[h.phase])
    this.u16(s + 2, PRIORITY[h.priority])
    this.u32(s + 4, h.expectedTokens)
    this.u64(s + 8, h.kvBudgetBytes)
    this.bit(s + 16, h.finalize)
  }
  params(ptr: number, p: GenerationParams) {
    const s = this.struct(ptr, 32, 1)
    this.u32(s, p.maxNewTokens)
    this.view.setFloat32(s + 4, p.temperature, true)
    this.u32(s + 8, p.topK)
    this.view.setFloat32(s + 12, p.topP, true)
    this.u64(s + 16, p.seed)
    this.u32s(s + 32, p.stopTokens)
    this.bit(s + 24, p.stream)
  }
  want(ptr: number, w: { readonly tokens: boolean; readonly lastLogits: boolean; readonly refs: boolean }) {
    const s = this.struct(ptr, 8, 0)
    this.bitN(s, 0, w.tokens)
    this.bitN(s, 1, w.lastLogits)
    this.bitN(s, 2, w.refs)
  }
  profile(ptr: number, p: Profile) {
    const s = this.struct(ptr, 56, 0)
    this.f64(s, p.queueMs)
    this.f64(s + 8, p.planMs)
    this.f64(s + 16, p.placementMs)
    this.f64(s + 24, p.executionMs)
    this.f64(s + 32, p.skeletonizationMs)
    this.f64(s + 40, p.cleanupMs)
    this.f64(s + 48, p.durationMs)
  }
}

/** Sizes a hot message up front: its external blobs (as the writer will take them) and a bound on segment 0. */
class Sizing {
  externals = 0
  /** Bytes a blob takes in segment 0: a landing pad when it goes out as a segment of its own, else itself. */
  blob(d: Uint8Array): number {
    if (d.byteLength >= EXTERNAL_BYTES && this.externals < MAX_EXTERNALS) {
      this.externals++
      return 16
    }
    return d.byteLength + 8
  }
  tensor(t: Tensor): number {
    return 24 + 4 * t.shape.length + 8 + this.blob(t.data)
  }
  inputs(inputs: ReadonlyArray<Input>): number {
    let n = 8
    for (const v of inputs) n += 32 + 3 * v.name.length + 9 + ("tensor" in v ? this.tensor(v.tensor) : 0)
    return n
  }
  body(m: HotMessage): number {
    const b = m.body
    switch (b._tag) {
      case "Generate": return 64 + 48 + this.inputs(b.inputs) + 24 + 48 + 4 * b.params.stopTokens.length + 8
      case "Forward": return 64 + 40 + this.inputs(b.inputs) + 24 + 8
      case "TokenEvent": return 64 + 8
      case "RefData": return 64 + 16 + 32 + 4 * b.ref.shape.length + 8 + this.blob(b.data)
      case "Result": {
        let n = 64 + 40 + 4 * b.tokens.length + 8 + (b.lastLogits !== undefined ? this.tensor(b.lastLogits) : 0) + 8 + 56
        for (const r of b.refs) n += 32 + 4 * r.shape.length + 8
        return n
      }
    }
  }
}

type HotMessage = DomainMessage & { readonly body: { readonly _tag: HotTag } }

const writeBody = (w: Writer, ptr: number, m: HotMessage) => {
  const b = m.body
  switch (b._tag) {
    case "Generate": {
      const s = w.struct(ptr, 16, 4)
      w.u64(s, b.sessionId)
      w.u64(s + 8, b.modelHandle)
      w.inputs(s + 16, b.inputs)
      w.hints(s + 24, b.hints)
      w.params(s + 32, b.params)
      w.want(s + 40, b.want)
      return
    }
    case "Forward": {
      const s = w.struct(ptr, 16, 3)
      w.u64(s, b.sessionId)
      w.u64(s + 8, b.modelHandle)
      w.inputs(s + 16, b.inputs)
      w.hints(s + 24, b.hints)
      w.want(s + 32, b.want)
      return
    }
    case "TokenEvent": {
      const s = w.struct(ptr, 8, 0)
      w.u32(s, b.index)
      w.u32(s + 4, b.token)
      return
    }
    case "RefData": {
      const s = w.struct(ptr, 0, 2)
      w.ref(w.struct(s, 24, 1), b.ref)
      w.data(s + 8, b.data)
      return
    }
    case "Result": {
      const s = w.struct(ptr, 8, 4)
      w.u32s(s + 8, b.tokens)
      if (b.lastLogits !== undefined) {
        w.u16(s, 1)
        w.tensor(s + 16, b.lastLogits)
      }
      const first = w.structs(s + 24, b.refs.length, 24, 1)
      for (let i = 0; i < b.refs.length; i++) w.ref(first + 32 * i, b.refs[i])
      w.profile(s + 32, b.profile)
      return
    }
  }
}

/**
 * encodeParts for a hot message: [frame prefix + segment table + segment 0, …external blobs (each padded to a
 * word)]. Blobs of EXTERNAL_BYTES or more are the caller's bytes, sent as they lie.
 */
export const encodeHotParts = (m: HotMessage): Array<Uint8Array> => {
  const b = m.body
  // Segments = 1 + external blobs: the table's size depends on their count, so size the message first.
  const sizing = new Sizing()
  const bound = sizing.body(m)
  const table = pad8(4 + 4 * (1 + sizing.externals))
  const head = FRAME_PREFIX_BYTES + table
  const w = new Writer(new Uint8Array(head + bound), head)
  const root = w.alloc(8)
  const msg = w.struct(root, 8, 1)
  w.u32(msg, m.requestId)
  w.u16(msg + 4, BODY[b._tag])
  writeBody(w, msg + 8, m)
  // Header: the payload's length, then the segment table.
  const seg0 = w.end - head
  let total = table + seg0
  for (const e of w.externals) total += pad8(e.byteLength)
  w.u32(0, total)
  w.u32(FRAME_PREFIX_BYTES, w.externals.length)
  w.u32(FRAME_PREFIX_BYTES + 4, seg0 / 8)
  w.externals.forEach((e, i) => w.u32(FRAME_PREFIX_BYTES + 8 + 4 * i, pad8(e.byteLength) / 8))
  const parts = [w.bytes.subarray(0, w.end)]
  for (const e of w.externals) {
    parts.push(e)
    if ((e.byteLength & 7) !== 0) parts.push(ZEROS.subarray(0, 8 - (e.byteLength & 7)))
  }
  return parts
}
