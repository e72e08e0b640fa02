// The hot messages (Generate, Forward; TokenEvent, Result, RefData) read straight from the frame's capnp words, the
// reading half of hot-encode.ts. decodePayload tries this first: a request is decoded cold, after milliseconds of
// GPU work, and cold the generic path (copy into a capnp-es Message, the structural walk, a Struct/Pointer object per
// field, Proxy-free but still object-heavy readers) cost 0.17–0.33 ms for a 700-byte Forward on the H100 host
// (~0.1 ms on the 2-core box; this reader ~0.025 ms there: scripts/cold-decode.ts).
//
// The contract: `decodeHot` returns a message only where the generic path (openMessage → body → validateBody) would
// return the same one — same values, same key order, same byte-field ownership — and undefined ("defer") for
// anything else, which decodePayload then gives to the generic path, so every error (and every message this reader
// does not handle) comes out exactly as before. It therefore checks what the generic path checks, the same way:
//   - the segment table (openMessage), with the same copy rules for byte fields: a single-segment payload of at
//     most SCRATCH_BYTES gets copies, a larger one views into a private copy of the segment, a SegmentedPayload
//     views into its own segment buffers (the server's SegmentPool lends those and takes them back after a Forward);
//   - every pointer reachable from the root, as walk.ts does (bounds, far and double-far pointers, composite lists,
//     the traversal budget charged the same words): it follows the schema's pointers and requires every other one
//     (pointers past the schema's, the idle member of a union) to be null, so it sees what the walk sees;
//   - the read budget (ReadBudget's bytes, charged per field as fields.ts charges them);
//   - the readers' value checks (u64 ≤ 2^53 − 1, enum ordinals, union tags, NUL-terminated text) and validateBody.
// It defers on: other kinds; a struct or struct-list element smaller than the schema's (capnp-es would upgrade it); a
// null body, tensor or ref (generic: defaults or errors); list element sizes other than the schema's (generic:
// Malformed); non-null pointers the schema does not read; a word capnp-es would take for null but the walk does not
// (bits 0x8000000000000000: capnp-es tests a word for zero as a float64, and -0 === 0); and any failed check.
import type {
  GenerationParams, Hints, Input, ModelHandle, Profile, RefId, RemoteRef, RequestId, SessionId, Tensor, Want,
} from "../domain/common.ts"
import { DTYPES, PHASES, PRIORITIES } from "../domain/common.ts"
import type { DomainMessage, MessageBody } from "../domain/messages.ts"
import type { Payload } from "../frame.ts"
import { defer, WordReader } from "./hot-words.ts"
import * as R from "./read.ts"
import { validateBody } from "./validate.ts"

/**
 * Counts of hot decodes taken and deferred (tests check the hot path is taken); `enabled` = false for A/B runs, or
 * DJINN_HOT_DECODE=0 in the environment of the process (a server or client under the tax bench).
 */
export const hotDecode = {
  enabled: (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.DJINN_HOT_DECODE !== "0",
  taken: 0,
  deferred: 0,
}

// Message.body's union members (schema order), as hot-encode.ts writes them.
const GENERATE = 11
const FORWARD = 12
const TOKEN_EVENT = 13
const RESULT = 14
const REF_DATA = 16

/** The schema's hot messages on top of the word reader: one instance, reused (decodes never re-enter). */
class Reader extends WordReader {
  dtype(code: number) {
    return code < DTYPES.length ? DTYPES[code] : defer()
  }

  /** A Tensor (8 bytes, 2 pointers) behind pointer (s, w); null defers (generic: an invalid value or Malformed). */
  tensor(s: number, w: number): Tensor {
    const at = this.struct(s, w, 1, 2)
    if (at < 0) defer()
    const seg = this.sseg
    const ps = at + this.sd
    const dtype = this.dtype(this.dv[seg].getUint16(this.off(seg, at), true))
    return { dtype, shape: this.u32s(seg, ps), data: this.data(seg, ps + 1) }
  }

  /** A RemoteRef (24 bytes, 1 pointer) at word `at` of segment `s`, `d` data words. */
  remoteRef(s: number, at: number, d: number): RemoteRef {
    const dv = this.dv[s]
    const o = this.off(s, at)
    const id = this.u64(dv, o) as RefId
    const dtype = this.dtype(dv.getUint16(o + 8, true))
    return { id, dtype, shape: this.u32s(s, at + d), byteSize: this.u64(dv, o + 16) }
  }

  /** List(Input) behind pointer (s, w); an Input is 16 bytes (which, ref) and 2 pointers (name, tensor). */
  inputs(s: number, w: number): Array<Input> {
    const n = this.structs(s, w, 2, 2)
    if (n === 0) return []
    const seg = this.sseg
    const d = this.sd
    const stride = d + this.sp
    const first = this.at
    const dv = this.dv[seg]
    const out = new Array<Input>(n)
    for (let i = 0; i < n; i++) {
      const e = first + i * stride
      const ps = e + d
      for (let j = 2; j < stride - d; j++) this.none(seg, ps + j)
      const o = this.off(seg, e)
      const name = this.text(seg, ps)
      const which = dv.getUint16(o, true)
      if (which === 0) out[i] = { name, tensor: this.tensor(seg, ps + 1) }
      else if (which === 1) {
        this.none(seg, ps + 1)
        out[i] = { name, ref: this.u64(dv, o + 8) as RefId }
      } else defer()
    }
    return out
  }

  hints(s: number, w: number): Hints {
    const at = this.struct(s, w, 3, 0)
    if (at < 0) return R.DEFAULT_HINTS
    const dv = this.dv[this.sseg]
    const o = this.off(this.sseg, at)
    const phase = dv.getUint16(o, true)
    const priority = dv.getUint16(o + 2, true)
    if (phase >= PHASES.length || priority >= PRIORITIES.length) defer()
    return {
      phase: PHASES[phase],
      priority: PRIORITIES[priority],
      expectedTokens: dv.getUint32(o + 4, true),
      kvBudgetBytes: this.u64(dv, o + 8),
      finalize: (dv.getUint8(o + 16) & 1) !== 0,
    }
  }

  params(s: number, w: number): GenerationParams {
    const at = this.struct(s, w, 4, 1)
    if (at < 0) return R.DEFAULT_PARAMS
    const seg = this.sseg
    const ps = at + this.sd
    const dv = this.dv[seg]
    const o = this.off(seg, at)
    return {
      maxNewTokens: dv.getUint32(o, true),
      temperature: dv.getFloat32(o + 4, true),
      topK: dv.getUint32(o + 8, true),
      topP: dv.getFloat32(o + 12, true),
      seed: this.u64(dv, o + 16),
      stopTokens: this.u32s(seg, ps),
      stream: (dv.getUint8(o + 24) & 1) !== 0,
    }
  }

  want(s: number, w: number): Want {
    const at = this.struct(s, w, 1, 0)
    if (at < 0) return R.NO_WANT
    const bits = this.dv[this.sseg].getUint8(this.off(this.sseg, at))
    return { tokens: (bits & 1) !== 0, lastLogits: (bits & 2) !== 0, refs: (bits & 4) !== 0 }
  }

  profile(s: number, w: number): Profile {
    const at = this.struct(s, w, 7, 0)
    if (at < 0) return R.ZERO_PROFILE
    const dv = this.dv[this.sseg]
    const o = this.off(this.sseg, at)
    return {
      queueMs: dv.getFloat64(o, true),
      planMs: dv.getFloat64(o + 8, true),
      placementMs: dv.getFloat64(o + 16, true),
      executionMs: dv.getFloat64(o + 24, true),
      skeletonizationMs: dv.getFloat64(o + 32, true),
      cleanupMs: dv.getFloat64(o + 40, true),
      durationMs: dv.getFloat64(o + 48, true),
    }
  }

  /**
   * A Generate's or Forward's struct behind pointer (s, w) (2 data words, `pointers` pointers) and the fields they
   * share: session, model, inputs and hints; its segment and first pointer for the rest.
   */
  private request(s: number, w: number, pointers: number) {
    const at = this.struct(s, w, 2, pointers)
    if (at < 0) defer()
    const seg = this.sseg
    const ps = at + this.sd
    const dv = this.dv[seg]
    const o = this.off(seg, at)
    const head = {
      sessionId: this.u64(dv, o) as SessionId,
      modelHandle: this.u64(dv, o + 8) as ModelHandle,
      inputs: this.inputs(seg, ps),
      hints: this.hints(seg, ps + 1),
    }
    return { seg, ps, head }
  }

  /** The body behind pointer (s, w) of union member `which`. */
  body(which: number, s: number, w: number): MessageBody {
    switch (which) {
      case GENERATE: {
        const { seg, ps, head } = this.request(s, w, 4)
        return { _tag: "Generate", ...head, params: this.params(seg, ps + 2), want: this.want(seg, ps + 3) }
      }
      case FORWARD: {
        const { seg, ps, head } = this.request(s, w, 3)
        return { _tag: "Forward", ...head, want: this.want(seg, ps + 2) }
      }
      case TOKEN_EVENT: {
        const at = this.struct(s, w, 1, 0)
        if (at < 0) defer()
        const dv = this.dv[this.sseg]
        const o = this.off(this.sseg, at)
        return { _tag: "TokenEvent", index: dv.getUint32(o, true), token: dv.getUint32(o + 4, true) }
      }
      case RESULT: {
        const at = this.struct(s, w, 1, 4)
        if (at < 0) defer()
        const seg = this.sseg
        const ps = at + this.sd
        const which = this.dv[seg].getUint16(this.off(seg, at), true)
        const tokens = this.u32s(seg, ps)
        const n = this.structs(seg, ps + 2, 3, 1)
        const refs = new Array<RemoteRef>(n)
        if (n > 0) {
          const rs = this.sseg
          const d = this.sd
          const stride = d + this.sp
          const first = this.at
          for (let i = 0; i < n; i++) {
            const e = first + i * stride
            for (let j = 1; j < stride - d; j++) this.none(rs, e + d + j)
            refs[i] = this.remoteRef(rs, e, d)
          }
        }
        const profile = this.profile(seg, ps + 3)
        if (which === 0) {
          this.none(seg, ps + 1)
          return { _tag: "Result", tokens, refs, profile }
        }
        if (which !== 1) defer()
        return { _tag: "Result", tokens, refs, profile, lastLogits: this.tensor(seg, ps + 1) }
      }
      case REF_DATA: {
        const at = this.struct(s, w, 0, 2)
        if (at < 0) defer()
        const seg = this.sseg
        const ps = at + this.sd
        const r = this.struct(seg, ps, 3, 1)
        if (r < 0) defer()
        const ref = this.remoteRef(this.sseg, r, this.sd)
        return { _tag: "RefData", ref, data: this.data(seg, ps + 1) }
      }
      default:
        return defer()
    }
  }

  message(): DomainMessage {
    const at = this.struct(0, 0, 1, 1)
    if (at < 0) defer()
    const seg = this.sseg
    const dv = this.dv[seg]
    const o = this.off(seg, at)
    const requestId = dv.getUint32(o, true) as RequestId
    return { requestId, body: this.body(dv.getUint16(o + 4, true), seg, at + this.sd) }
  }
}

const reader = new Reader()

/**
 * The hot kinds decoded from `payload` exactly as decodePayload's generic path would decode them, or undefined to
 * let that path decode it (any other kind, anything unusual, anything that fails). Never throws.
 */
export const decodeHot = (payload: Payload, skipValidation = false): DomainMessage | undefined => {
  let m: DomainMessage | undefined
  try {
    if (reader.open(payload)) {
      m = reader.message()
      if (!skipValidation && validateBody(m.body) !== undefined) m = undefined
    }
  } catch {
    m = undefined // DEFER, or anything unforeseen: the generic path decides
  } finally {
    reader.close()
  }
  if (m === undefined) hotDecode.deferred++
  else hotDecode.taken++
  return m
}
