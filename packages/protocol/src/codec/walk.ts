// A structural check of a received message before capnp-es reads it. capnp-es bounds-checks little (a struct whose
// sections run past its segment is read from whatever follows), so every pointer reachable from the root is checked
// here, the way Cap'n Proto's C++ reader does: targets inside their segment, far pointers well-formed, composite
// lists consistent with their word counts, nesting depth bounded, and a traversal budget in words that charges
// zero-sized list elements one word each, so no pointer arrangement (shared targets, cycles, huge counts of nothing)
// can make reading cost more than a small multiple of the message size.
import { fail } from "./failure.ts"

const MAX_DEPTH = 64
const ELEMENT_BITS = [0, 1, 8, 16, 32, 64] as const

export interface Seg {
  readonly dv: DataView
  readonly words: number
}

class Walker {
  private readonly segs: ReadonlyArray<Seg>
  private budget: number

  constructor(segs: ReadonlyArray<Seg>, budgetWords: number) {
    this.segs = segs
    this.budget = budgetWords
  }

  private charge(words: number) {
    this.budget -= words
    if (this.budget < 0) fail("Malformed", "traversal limit exceeded (pointers amplify the message)")
  }

  private seg(id: number): Seg {
    return id < this.segs.length ? this.segs[id] : fail("Malformed", `pointer into missing segment ${id}`)
  }

  /** Checks the pointer stored at word `w` of segment `s`. */
  pointer(s: number, w: number, depth: number): void {
    if (depth > MAX_DEPTH) fail("Malformed", "nesting deeper than 64")
    const seg = this.seg(s)
    const lo = seg.dv.getUint32(w * 8, true)
    const hi = seg.dv.getUint32(w * 8 + 4, true)
    if (lo === 0 && hi === 0) return
    switch (lo & 3) {
      case 0:
      case 1:
        return this.object(s, w + 1 + ((lo | 0) >> 2), lo, hi, depth)
      case 2: {
        const pad = lo >>> 3
        const target = this.seg(hi)
        if (pad + ((lo & 4) !== 0 ? 2 : 1) > target.words) fail("Malformed", "far pointer landing pad out of bounds")
        const padLo = target.dv.getUint32(pad * 8, true)
        const padHi = target.dv.getUint32(pad * 8 + 4, true)
        if ((lo & 4) === 0) {
          if ((padLo & 3) === 2) fail("Malformed", "far pointer lands on another far pointer")
          if ((padLo & 3) === 3) fail("Malformed", "capability pointers are not part of this protocol")
          return this.object(hi, pad + 1 + ((padLo | 0) >> 2), padLo, padHi, depth)
        }
        // Double far: the pad is a far pointer to the content plus a tag word describing it.
        if ((padLo & 7) !== 2) fail("Malformed", "double-far landing pad is not a single far pointer")
        const tagLo = target.dv.getUint32(pad * 8 + 8, true)
        const tagHi = target.dv.getUint32(pad * 8 + 12, true)
        if ((tagLo & 3) > 1) fail("Malformed", "double-far tag is not a struct or list pointer")
        return this.object(padHi, padLo >>> 3, tagLo, tagHi, depth)
      }
      default:
        return fail("Malformed", "capability pointers are not part of this protocol")
    }
  }

  /** Checks the struct or list that `lo`/`hi` describe, whose content starts at word `start` of segment `s`. */
  private object(s: number, start: number, lo: number, hi: number, depth: number): void {
    const seg = this.seg(s)
    const inside = (from: number, words: number) => {
      if (from < 0 || from + words > seg.words) fail("Malformed", "pointer target out of bounds")
    }
    if ((lo & 3) === 0) {
      const data = hi & 0xffff
      const ptrs = hi >>> 16
      inside(start, data + ptrs)
      this.charge(Math.max(data + ptrs, 1))
      for (let i = 0; i < ptrs; i++) this.pointer(s, start + data + i, depth + 1)
      return
    }
    const size = hi & 7
    const count = hi >>> 3
    if (size === 7) {
      inside(start, count + 1)
      const tagLo = seg.dv.getUint32(start * 8, true)
      const tagHi = seg.dv.getUint32(start * 8 + 4, true)
      if ((tagLo & 3) !== 0) fail("Malformed", "composite list tag is not a struct tag")
      const n = (tagLo | 0) >> 2
      const data = tagHi & 0xffff
      const ptrs = tagHi >>> 16
      if (n < 0 || n * (data + ptrs) > count) fail("Malformed", "composite list elements overrun its word count")
      this.charge(Math.max(count, n) + 1)
      for (let i = 0; i < n; i++) {
        const element = start + 1 + i * (data + ptrs)
        for (let j = 0; j < ptrs; j++) this.pointer(s, element + data + j, depth + 1)
      }
      return
    }
    if (size === 6) {
      inside(start, count)
      this.charge(Math.max(count, 1))
      for (let i = 0; i < count; i++) this.pointer(s, start + i, depth + 1)
      return
    }
    const words = Math.ceil((count * ELEMENT_BITS[size]) / 64)
    inside(start, words)
    this.charge(Math.max(words, size === 0 ? count : 1))
  }
}

/** The walk's budget for a message of `totalWords` words (hot-decode.ts charges the same). */
export const traversalWords = (totalWords: number): number => 2 * totalWords + 64

/**
 * Throws DecodeFailure unless every pointer reachable from the root (word 0 of segment 0) is well-formed. `words`
 * bounds each segment (a DataView may be longer). The budget is twice the message's words: a tree-shaped message
 * costs exactly its own size.
 */
export const checkStructure = (segments: ReadonlyArray<Seg>): void => {
  let total = 0
  for (const s of segments) total += s.words
  new Walker(segments, traversalWords(total)).pointer(0, 0, 0)
}
