// The word level of hot-decode.ts: a frame's capnp segments, read straight from their bytes with the generic path's
// checks — the segment table (openMessage), pointers as walk.ts resolves them (bounds, far and double-far pointers,
// composite lists, the traversal budget), the read budget as fields.ts charges it, byte fields owned as the generic
// path owns them — and `defer()` wherever the generic path must decide. hot-decode.ts reads the schema's messages
// on top of it.
import { SegmentedPayload, type Payload } from "../frame.ts"
import { textOf } from "./fields.ts"
import { traversalWords } from "./walk.ts"
import { MAX_SEGMENTS, readBudgetBytes, SCRATCH_BYTES } from "./wire.ts"

// List element sizes.
const BYTE = 2
const BYTE_4 = 4
const COMPOSITE = 7
const pad8 = (n: number) => (n + 7) & ~7
// How byte fields leave the decode (see the header).
const SCRATCH = 0
const SEGMENT_COPY = 1
const SEGMENT_VIEW = 2

/** Thrown to give the message to the generic path; caught in hot-decode.ts's decodeHot only. */
const DEFER = { defer: true }
export const defer = (): never => {
  throw DEFER
}
const EMPTY = () => new Uint8Array(0)

const NO_PAYLOAD = new Uint8Array(0)
const NO_VIEW = new DataView(new ArrayBuffer(8))
const u32At = (b: Uint8Array, at: number): number => (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0

/**
 * One decode's state: the segments, the budgets, and the last resolved pointer / struct / list (out-fields). One
 * instance is reused (decodes are synchronous and never re-enter), its arrays sized once for the most segments the
 * reader accepts: cold, growing or shrinking an array is a runtime call costing microseconds.
 */
export class WordReader {
  payload: Payload = NO_PAYLOAD
  mode = SCRATCH
  segs = 0
  readonly dv: Array<DataView> = new Array<DataView>(MAX_SEGMENTS).fill(NO_VIEW)
  /** Byte offset of each segment in its DataView. */
  readonly base: Array<number> = new Array<number>(MAX_SEGMENTS).fill(0)
  readonly words: Array<number> = new Array<number>(MAX_SEGMENTS).fill(0)
  /** SEGMENT_COPY: each segment's private copy, made when a byte field first needs it. */
  readonly copies: Array<ArrayBuffer | undefined> = new Array<ArrayBuffer | undefined>(MAX_SEGMENTS).fill(undefined)
  /** walk.ts's traversal budget (words) and ReadBudget's bytes. */
  walk = 0
  read = 0
  // ptr(): the object's segment, its first content word (a composite list's tag), its pointer (or tag) words.
  seg = 0
  at = 0
  lo = 0
  hi = 0
  // struct() / structs(): the segment, data words and pointer count of the struct or of each element.
  sseg = 0
  sd = 0
  sp = 0

  /** Checks the segment table as openMessage does and sets up the segments; false to defer. */
  open(payload: Payload): boolean {
    const n = payload.byteLength
    const segmented = payload instanceof SegmentedPayload
    const head = segmented ? payload.table : payload
    if (n < 8 || head.byteLength < 8) return false
    const count = u32At(head, 0) + 1
    if (count > MAX_SEGMENTS) return false
    const table = pad8(4 + 4 * count)
    if (table > n || table > head.byteLength) return false
    let total = table
    for (let i = 0; i < count; i++) total += u32At(head, 4 + 4 * i) * 8
    if (total !== n || u32At(head, 4) === 0) return false
    if (segmented && payload.segments.length !== count) return false
    this.payload = payload
    this.segs = count
    if (segmented) {
      for (let i = 0; i < count; i++) {
        const b = payload.segments[i]
        const words = u32At(head, 4 + 4 * i)
        if (b.byteLength !== words * 8) return false
        this.dv[i] = new DataView(b)
        this.base[i] = 0
        this.words[i] = words
      }
      this.mode = SEGMENT_VIEW
    } else {
      const dv = new DataView(payload.buffer, payload.byteOffset, n)
      let at = table
      for (let i = 0; i < count; i++) {
        const words = u32At(head, 4 + 4 * i)
        this.dv[i] = dv
        this.base[i] = at
        this.words[i] = words
        at += words * 8
      }
      this.mode = count === 1 && n - table <= SCRATCH_BYTES ? SCRATCH : SEGMENT_COPY
    }
    this.walk = traversalWords((total - table) / 8)
    this.read = readBudgetBytes(n)
    return true
  }

  /** Lets go of the payload (a large frame's buffers must not stay reachable from here). */
  close(): void {
    for (let i = 0; i < this.segs; i++) {
      this.dv[i] = NO_VIEW
      this.copies[i] = undefined
    }
    this.segs = 0
    this.payload = NO_PAYLOAD
  }

  charge(words: number): void {
    this.walk -= words
    if (this.walk < 0) defer()
  }
  spend(bytes: number): void {
    this.read -= bytes
    if (this.read < 0) defer()
  }

  /**
   * Resolves the pointer at word `w` of segment `s` as walk.ts and capnp-es do (far and double-far included):
   * false when null, else seg/at/lo/hi describe the target. Capability pointers, bad landing pads: defer.
   */
  ptr(s: number, w: number): boolean {
    const dv = this.dv[s]
    const o = this.base[s] + w * 8
    const lo = dv.getUint32(o, true)
    const hi = dv.getUint32(o + 4, true)
    if (lo === 0) {
      if (hi === 0) return false
      if (hi === 0x8000_0000) defer() // -0 as a float64: capnp-es reads it as null, walk.ts as a struct pointer
    }
    const kind = lo & 3
    if (kind < 2) {
      this.seg = s
      this.at = w + 1 + ((lo | 0) >> 2)
      this.lo = lo
      this.hi = hi
      return true
    }
    if (kind === 3) defer()
    const pad = lo >>> 3
    if (hi >= this.segs) defer()
    const double = (lo & 4) !== 0
    if (pad + (double ? 2 : 1) > this.words[hi]) defer()
    const tdv = this.dv[hi]
    const to = this.base[hi] + pad * 8
    const padLo = tdv.getUint32(to, true)
    const padHi = tdv.getUint32(to + 4, true)
    if (!double) {
      if ((padLo & 3) >= 2) defer() // far to far, or a capability
      this.seg = hi
      this.at = pad + 1 + ((padLo | 0) >> 2)
      this.lo = padLo
      this.hi = padHi
      return true
    }
    // Double far: the pad is a far pointer to the content, then the tag word describing it.
    if ((padLo & 7) !== 2 || padHi >= this.segs) defer()
    const tagLo = tdv.getUint32(to + 8, true)
    if ((tagLo & 3) > 1) defer()
    this.seg = padHi
    this.at = padLo >>> 3
    this.lo = tagLo
    this.hi = tdv.getUint32(to + 12, true)
    return true
  }

  /** Defers unless the pointer at word `w` of segment `s` is null (one the schema does not read here). */
  none(s: number, w: number): void {
    const o = this.base[s] + w * 8
    if ((this.dv[s].getUint32(o, true) | this.dv[s].getUint32(o + 4, true)) !== 0) defer()
  }

  /**
   * The struct behind pointer (s, w), with at least `minData` data words and `minPtrs` pointers of which only the
   * first `minPtrs` may be non-null: its first word, or -1 when null. Sets sseg / sd / sp.
   */
  struct(s: number, w: number, minData: number, minPtrs: number): number {
    if (!this.ptr(s, w)) return -1
    if ((this.lo & 3) !== 0) defer()
    const seg = this.seg
    const at = this.at
    const d = this.hi & 0xffff
    const p = this.hi >>> 16
    if (at < 0 || at + d + p > this.words[seg]) defer()
    this.charge(d + p || 1)
    if (d < minData || p < minPtrs) defer()
    for (let i = minPtrs; i < p; i++) this.none(seg, at + d + i)
    this.sseg = seg
    this.sd = d
    this.sp = p
    return at
  }

  /** A list of `size` elements (BYTE or BYTE_4) behind pointer (s, w): its length, or -1 when null. Sets seg / at. */
  list(s: number, w: number, size: number): number {
    if (!this.ptr(s, w)) return -1
    if ((this.lo & 3) !== 1 || (this.hi & 7) !== size) defer()
    const n = this.hi >>> 3
    const words = size === BYTE ? (n + 7) >>> 3 : (n + 1) >>> 1
    if (this.at < 0 || this.at + words > this.words[this.seg]) defer()
    this.charge(words || 1)
    return n
  }

  /**
   * A struct list behind pointer (s, w) whose elements have at least the schema's sections: its length (0 when
   * null); `at` is the first element, sseg / sd / sp each element's segment and sections. Charges the read budget.
   */
  structs(s: number, w: number, minData: number, minPtrs: number): number {
    if (!this.ptr(s, w)) return 0
    if ((this.lo & 3) !== 1 || (this.hi & 7) !== COMPOSITE) defer()
    const seg = this.seg
    const at = this.at
    const count = this.hi >>> 3
    if (at < 0 || at + count + 1 > this.words[seg]) defer()
    const dv = this.dv[seg]
    const o = this.base[seg] + at * 8
    const tagLo = dv.getUint32(o, true)
    const tagHi = dv.getUint32(o + 4, true)
    if ((tagLo & 3) !== 0) defer()
    const n = (tagLo | 0) >> 2
    const d = tagHi & 0xffff
    const p = tagHi >>> 16
    if (n < 0 || n * (d + p) > count) defer()
    this.charge(Math.max(count, n) + 1)
    if (d < minData || p < minPtrs) defer() // capnp-es would upgrade the elements
    if (n > 0) this.spend(8 * n)
    this.at = at + 1
    this.sseg = seg
    this.sd = d
    this.sp = p
    return n
  }

  /** Byte offset of word `w` of segment `s` in its DataView. */
  off(s: number, w: number): number {
    return this.base[s] + w * 8
  }

  /** UInt64 at byte `o` → number; beyond 2^53 − 1 (generic: InvalidValue) defers. */
  u64(dv: DataView, o: number): number {
    const hi = dv.getUint32(o + 4, true)
    if (hi > 0x1f_ffff) defer()
    return hi * 0x1_0000_0000 + dv.getUint32(o, true)
  }

  /** `n` bytes at word `at` of segment `s`, owned as the generic path owns them. */
  bytes(s: number, at: number, n: number): Uint8Array {
    const p = this.payload
    if (p instanceof SegmentedPayload) return new Uint8Array(p.segments[s], at * 8, n)
    const from = p.byteOffset + this.base[s]
    // Copies as the generic path makes them: a buffer of its own per field (TypedArray slice: cold, a fraction of
    // ArrayBuffer slice's cost), or one per segment.
    if (this.mode === SCRATCH) return new Uint8Array(p.buffer, from + at * 8, n).slice()
    const copy = (this.copies[s] ??= new Uint8Array(p.buffer, from, this.words[s] * 8).slice().buffer)
    return new Uint8Array(copy, at * 8, n)
  }

  data(s: number, w: number): Uint8Array {
    const n = this.list(s, w, BYTE)
    if (n <= 0) return EMPTY()
    this.spend(n)
    return this.bytes(this.seg, this.at, n)
  }

  text(s: number, w: number): string {
    const n = this.list(s, w, BYTE)
    if (n < 0) return ""
    if (n === 0) defer()
    const seg = this.seg
    const o = this.base[seg] + this.at * 8
    const dv = this.dv[seg]
    if (dv.getUint8(o + n - 1) !== 0) defer()
    this.spend(n)
    return textOf(new Uint8Array(dv.buffer, dv.byteOffset + o, n - 1))
  }

  u32s(s: number, w: number): Array<number> {
    const n = this.list(s, w, BYTE_4)
    const out: Array<number> = []
    if (n <= 0) return out
    this.spend(4 * n)
    const dv = this.dv[this.seg]
    const o = this.base[this.seg] + this.at * 8
    for (let i = 0; i < n; i++) out.push(dv.getUint32(o + 4 * i, true))
    return out
  }
}
