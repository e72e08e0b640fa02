// Text, Data and List fields through capnp-es's low-level pointer API (`$.utils`), by the pointer indices of
// src/gen/pointers.ts. The generated accessors wrap these fields in Proxy-based List objects whose every property
// access goes through a trap; reading a 64-token prompt that way cost tens of microseconds. Structs and scalar
// fields still go through the generated classes.
import * as $ from "capnp-es"
import { fail } from "./failure.ts"
import { addExternal, EXTERNAL_BYTES, type ReadBudget } from "./wire.ts"

const LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1
if (!LE) throw new Error("@djinn/protocol assumes a little-endian host (typed-array views of capnp lists)")
const { BYTE, BYTE_4, BYTE_8, COMPOSITE, POINTER } = $.ListElementSize
const decoder = new TextDecoder()
const encoder = new TextEncoder()

// ---------------------------------------------------------------------------------------------------------------
// Reading

/** The list behind pointer `p` (null → undefined), checked to hold `size` elements. */
const listAt = (p: $.Pointer, size: $.ListElementSize, what: string): { c: $.Pointer; n: number } | undefined => {
  if ($.utils.isNull(p)) return undefined
  if ($.utils.getTargetPointerType(p) !== $.PointerType.LIST || $.utils.getTargetListElementSize(p) !== size)
    fail("Malformed", `${what} field does not point at a list of the right element size`)
  return { c: $.utils.getContent(p), n: $.utils.getTargetListLength(p) }
}

const shortAscii = (b: Uint8Array): string | undefined => {
  if (b.byteLength > 32) return undefined
  for (let i = 0; i < b.byteLength; i++) if (b[i] > 0x7f) return undefined
  return String.fromCharCode.apply(null, b as unknown as Array<number>)
}
/** A Text field's bytes (without the NUL) as a string. hot-decode.ts decodes with this too, so both agree. */
export const textOf = (bytes: Uint8Array): string => shortAscii(bytes) ?? decoder.decode(bytes)

export const readText = (b: ReadBudget, s: $.Struct, index: number): string => {
  const l = listAt($.utils.getPointer(index, s), BYTE, "a Text")
  if (l === undefined) return ""
  if (l.n === 0 || l.c.segment.getUint8(l.c.byteOffset + l.n - 1) !== 0) fail("Malformed", "text is not NUL-terminated")
  b.charge(l.n)
  const bytes = new Uint8Array(l.c.segment.buffer, l.c.byteOffset, l.n - 1)
  return textOf(bytes)
}

/** Bytes of a Data pointer: a view into the message (zero-copy), or a copy when the message is a reused scratch. */
export const bytesOf = (b: ReadBudget, p: $.Pointer): Uint8Array => {
  const l = listAt(p, BYTE, "a Data")
  if (l === undefined || l.n === 0) return new Uint8Array(0)
  b.charge(l.n)
  const view = new Uint8Array(l.c.segment.buffer, l.c.byteOffset, l.n)
  return b.copyBytes ? view.slice() : view
}
export const readBytes = (b: ReadBudget, s: $.Struct, index: number): Uint8Array => bytesOf(b, $.utils.getPointer(index, s))

export const readU32s = (b: ReadBudget, s: $.Struct, index: number): Array<number> => {
  const l = listAt($.utils.getPointer(index, s), BYTE_4, "a List(UInt32)")
  if (l === undefined || l.n === 0) return []
  b.charge(4 * l.n)
  return Array.from(new Uint32Array(l.c.segment.buffer, l.c.byteOffset, l.n))
}

/** UInt64 → number; values beyond 2^53 − 1 would lose precision, so they are refused. */
export const u64 = (v: bigint): number =>
  v <= 9007199254740991n ? Number(v) : fail("InvalidValue", `64-bit value ${v} exceeds 2^53 - 1`)

export const readU64s = (b: ReadBudget, s: $.Struct, index: number): Array<number> => {
  const l = listAt($.utils.getPointer(index, s), BYTE_8, "a List(UInt64)")
  if (l === undefined || l.n === 0) return []
  b.charge(8 * l.n)
  const view = new BigUint64Array(l.c.segment.buffer, l.c.byteOffset, l.n)
  const out = new Array<number>(l.n)
  for (let i = 0; i < l.n; i++) out[i] = u64(view[i])
  return out
}

/** Each element of a List(Data). */
export const readDataList = (b: ReadBudget, s: $.Struct, index: number): Array<Uint8Array> => {
  const p = $.utils.getPointer(index, s)
  const l = listAt(p, POINTER, "a List(Data)")
  if (l === undefined || l.n === 0) return []
  b.charge(8 * l.n)
  const out = new Array<Uint8Array>(l.n)
  for (let i = 0; i < l.n; i++) out[i] = bytesOf(b, new $.Pointer(l.c.segment, l.c.byteOffset + 8 * i, p._capnp.depthLimit - 1))
  return out
}

/**
 * Elements of a struct list, built as capnp-es's CompositeList.get builds them but without its Proxy. Elements
 * smaller than this schema's (an older peer) go through the generated getter `upgrade` once, which widens them.
 */
export const readStructs = <O extends $.Struct, S extends $.Struct, A>(
  b: ReadBudget,
  owner: O,
  index: number,
  Element: $.StructCtor<S>,
  upgrade: (owner: O) => unknown,
  read: (s: S) => A,
): Array<A> => {
  let p = $.utils.getPointer(index, owner)
  if (listAt(p, COMPOSITE, "a struct list") === undefined) return []
  const wire = $.utils.getTargetCompositeListSize(p)
  const want = Element._capnp.size
  if (wire.dataByteLength < want.dataByteLength || wire.pointerLength < want.pointerLength) {
    upgrade(owner)
    p = $.utils.getPointer(index, owner)
  }
  const n = $.utils.getTargetListLength(p)
  if (n <= 0) return []
  b.charge(8 * n)
  const out = new Array<A>(n)
  for (let i = 0; i < n; i++) out[i] = read(new Element(p.segment, p.byteOffset, p._capnp.depthLimit - 1, i))
  return out
}

// ---------------------------------------------------------------------------------------------------------------
// Writing (into freshly initialised structs, whose pointers are still null). Empty values stay null pointers:
// capnp reads a null Text, Data or List as empty.

/** Allocates `bytes` of list content for pointer `index` of `s` and points it there; returns the content. */
const initList = (s: $.Struct, index: number, size: $.ListElementSize, n: number, bytes: number): $.Pointer => {
  const p = $.utils.getPointer(index, s)
  const c = p.segment.allocate(bytes)
  const r = $.utils.initPointer(c.segment, c.byteOffset, p)
  $.utils.setListPointer(r.offsetWords, size, n, r.pointer)
  return c
}

/**
 * Points `p` at `bytes` sent as an external segment (a double-far pointer: a landing pad in this segment whose far
 * pointer names the blob's segment, offset 0, and whose tag is the Data list pointer). False when the message takes
 * no externals.
 */
const pointExternal = (p: $.Pointer, bytes: Uint8Array): boolean => {
  if (bytes.byteLength < EXTERNAL_BYTES) return false
  const id = addExternal(p.segment.message, bytes)
  if (id === undefined) return false
  const pad = p.segment.allocate(16)
  const seg = pad.segment
  seg.setUint32(pad.byteOffset, 2) // far pointer, single landing, offset 0
  seg.setUint32(pad.byteOffset + 4, id)
  seg.setUint32(pad.byteOffset + 8, 1) // tag: list pointer, offset 0
  seg.setUint32(pad.byteOffset + 12, (bytes.byteLength << 3) | BYTE)
  p.segment.setUint32(p.byteOffset, ((pad.byteOffset / 8) << 3) | 4 | 2) // double far
  p.segment.setUint32(p.byteOffset + 4, seg.id)
  return true
}

export const writeBytes = (s: $.Struct, index: number, bytes: Uint8Array): void => {
  if (bytes.byteLength === 0) return
  if (pointExternal($.utils.getPointer(index, s), bytes)) return
  const c = initList(s, index, BYTE, bytes.byteLength, bytes.byteLength)
  new Uint8Array(c.segment.buffer, c.byteOffset, bytes.byteLength).set(bytes)
}

export const writeText = (s: $.Struct, index: number, text: string): void => {
  if (text.length === 0) return
  let ascii = text.length <= 64
  for (let i = 0; ascii && i < text.length; i++) ascii = text.charCodeAt(i) < 0x80
  if (ascii) {
    const c = initList(s, index, BYTE, text.length + 1, text.length + 1)
    const dst = new Uint8Array(c.segment.buffer, c.byteOffset, text.length)
    for (let i = 0; i < text.length; i++) dst[i] = text.charCodeAt(i)
    return
  }
  const utf8 = encoder.encode(text)
  const c = initList(s, index, BYTE, utf8.byteLength + 1, utf8.byteLength + 1)
  new Uint8Array(c.segment.buffer, c.byteOffset, utf8.byteLength).set(utf8)
}

export const writeU32s = (s: $.Struct, index: number, values: ReadonlyArray<number>): void => {
  if (values.length === 0) return
  const c = initList(s, index, BYTE_4, values.length, 4 * values.length)
  new Uint32Array(c.segment.buffer, c.byteOffset, values.length).set(values)
}

export const writeU64s = (s: $.Struct, index: number, values: ReadonlyArray<number>): void => {
  if (values.length === 0) return
  const c = initList(s, index, BYTE_8, values.length, 8 * values.length)
  const dst = new BigUint64Array(c.segment.buffer, c.byteOffset, values.length)
  for (let i = 0; i < values.length; i++) dst[i] = BigInt(values[i])
}

/** A List(Data) in pointer `index` of `s`, each element pointing at a copy of its bytes. */
export const writeDataList = (s: $.Struct, index: number, values: ReadonlyArray<Uint8Array>): void => {
  if (values.length === 0) return
  const list = initList(s, index, POINTER, values.length, 8 * values.length)
  values.forEach((bytes, i) => {
    if (bytes.byteLength === 0) return
    const p = new $.Pointer(list.segment, list.byteOffset + 8 * i)
    if (pointExternal(p, bytes)) return
    const c = p.segment.allocate(bytes.byteLength)
    const r = $.utils.initPointer(c.segment, c.byteOffset, p)
    $.utils.setListPointer(r.offsetWords, BYTE, bytes.byteLength, r.pointer)
    new Uint8Array(c.segment.buffer, c.byteOffset, bytes.byteLength).set(bytes)
  })
}

/** Elements of a freshly initialised struct list, without CompositeList's Proxy. */
export const elements = <S extends $.Struct>(list: $.List<S>, Element: $.StructCtor<S>, n: number): Array<S> => {
  const seg = list.segment
  const off = list.byteOffset
  const depth = list._capnp.depthLimit - 1
  return Array.from({ length: n }, (_, i) => new Element(seg, off, depth, i))
}
