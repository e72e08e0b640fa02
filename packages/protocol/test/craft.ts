// Hand-made capnp words for hostile-input tests: pointers, segments and frames with whatever values a test needs.
import { encodePayload, type DomainMessage } from "../src/index.ts"

export const word = (lo: number, hi: number): Uint8Array => {
  const w = new Uint8Array(8)
  const dv = new DataView(w.buffer)
  dv.setUint32(0, lo >>> 0, true)
  dv.setUint32(4, hi >>> 0, true)
  return w
}
/** Struct pointer: content starts `offset` words after the pointer's own word. */
export const structPtr = (offset: number, dataWords: number, ptrWords: number) => word((offset << 2) | 0, dataWords | (ptrWords << 16))
/** List pointer; elemSize 0 void, 1 bit, 2 byte, 3 two bytes, 4 four bytes, 5 eight bytes, 6 pointer, 7 composite. */
export const listPtr = (offset: number, elemSize: number, count: number) => word((offset << 2) | 1, elemSize | (count << 3))
export const farPtr = (landingWord: number, segmentId: number, double = false) => word(2 | (double ? 4 : 0) | (landingWord << 3), segmentId)
/** The tag word of a composite list: element count in the offset field, element size as a struct pointer's. */
export const compositeTag = (count: number, dataWords: number, ptrWords: number) => structPtr(count, dataWords, ptrWords)
export const u32Word = (a: number, b = 0) => word(a, b)

export const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
  let at = 0
  for (const p of parts) (out.set(p, at), (at += p.byteLength))
  return out
}

/** A capnp stream payload (segment table + segments) from segments given as word arrays. */
export const payload = (...segments: ReadonlyArray<ReadonlyArray<Uint8Array>>): Uint8Array => {
  const segs = segments.map(concat)
  const table = new Uint8Array((4 + 4 * segs.length + 7) & ~7)
  const dv = new DataView(table.buffer)
  dv.setUint32(0, segs.length - 1, true)
  segs.forEach((s, i) => dv.setUint32(4 + 4 * i, s.byteLength / 8, true))
  return concat([table, ...segs])
}

export const frame = (p: Uint8Array): Uint8Array => {
  const head = new Uint8Array(4)
  new DataView(head.buffer).setUint32(0, p.byteLength, true)
  return concat([head, p])
}

/**
 * The root of every djinn message: Message{requestId, body tag} (1 data word, 1 pointer) whose pointer is the body.
 * `bodyTag` is the union ordinal (hello 0 … error 23); `body` the words the body pointer's target starts with.
 */
export const root = (bodyTag: number, bodyPtr: Uint8Array, rest: ReadonlyArray<Uint8Array> = []): Array<Uint8Array> => [
  structPtr(0, 1, 1),
  word(7, bodyTag & 0xffff),
  bodyPtr,
  ...rest,
]

/** The single segment of an encoded message, as a mutable copy (for targeted corruption). */
export const segmentOf = (m: DomainMessage): Uint8Array => encodePayload(m).slice(8)
