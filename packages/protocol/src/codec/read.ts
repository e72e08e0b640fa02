// capnp readers → plain values, charging every byte they produce to the message's ReadBudget. Structural problems
// throw DecodeFailure (caught by the guard); value rules are left to the domain schemas in validate.ts.
import * as $ from "capnp-es"
import type {
  DType,
  ErrorCode,
  GenerationParams,
  Hints,
  Input,
  ModelKey,
  Phase,
  Priority,
  Profile,
  RemoteRef,
  Tensor,
  TensorInfo,
  Want,
} from "../domain/common.ts"
import { DTYPES, ERROR_CODES, PHASES, PRIORITIES } from "../domain/common.ts"
import type * as G from "../gen/djinn.ts"
import { fail, type ReadBudget } from "./wire.ts"

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

const enumOf =
  <T extends string>(name: string, all: ReadonlyArray<T>) =>
  (code: number): T =>
    code < all.length ? all[code] : fail("InvalidValue", `unknown ${name} ordinal ${code}`)
export const dtype: (code: number) => DType = enumOf("dtype", DTYPES)
export const phase: (code: number) => Phase = enumOf("phase", PHASES)
export const priority: (code: number) => Priority = enumOf("priority", PRIORITIES)
export const errorCode: (code: number) => ErrorCode = enumOf("error code", ERROR_CODES)

/** UInt64 → number; ids and sizes beyond 2^53 − 1 would lose precision, so they are refused. */
export const u64 = (v: bigint): number =>
  v <= 9007199254740991n ? Number(v) : fail("InvalidValue", `64-bit value ${v} exceeds 2^53 - 1`)

export const text = (b: ReadBudget, s: string): string => {
  b.charge(s.length)
  return s
}

/** The bytes of a Data field: a view into the message (zero-copy), or a copy when the message is a reused scratch. */
export const bytes = (b: ReadBudget, d: $.Data): Uint8Array => {
  if ($.utils.isNull(d)) return new Uint8Array(0)
  if ($.utils.getTargetPointerType(d) !== $.PointerType.LIST || $.utils.getTargetListElementSize(d) !== $.ListElementSize.BYTE)
    fail("Malformed", "a Data field does not point at a byte list")
  const n = d.length
  if (n === 0) return new Uint8Array(0)
  b.charge(n)
  return b.copyBytes ? d.toUint8Array().slice() : d.toUint8Array()
}

const listBytes = (b: ReadBudget, list: $.List<unknown>, size: $.ListElementSize, width: number): number => {
  if ($.utils.isNull(list)) return 0
  if ($.utils.getTargetListElementSize(list) !== size) fail("Malformed", `list element size is not ${width} bytes`)
  const n = list.length
  b.charge(width * n + 8) // before anything is allocated for it
  return n
}

/** A List(UInt32) read through one typed-array view instead of a capnp-es call per element. */
export const u32s = (b: ReadBudget, list: $.List<number>): Array<number> => {
  const n = listBytes(b, list, $.ListElementSize.BYTE_4, 4)
  if (n === 0) return []
  if (!LITTLE_ENDIAN) return Array.from({ length: n }, (_, i) => list.get(i))
  const c = $.utils.getContent(list)
  return Array.from(new Uint32Array(c.segment.buffer, c.byteOffset, n))
}

export const u64s = (b: ReadBudget, list: $.List<bigint>): Array<number> => {
  const n = listBytes(b, list, $.ListElementSize.BYTE_8, 8)
  const out = new Array<number>(n)
  for (let i = 0; i < n; i++) out[i] = u64(list.get(i))
  return out
}

/**
 * Elements of the struct list in pointer `index` of `owner` (empty when null). The wire's element kind is checked
 * before capnp-es's getter runs, which would otherwise read a primitive list's first word as a composite tag.
 */
export const structs = <O extends $.Struct, S extends $.Struct, A>(
  b: ReadBudget,
  owner: O,
  index: number,
  get: (owner: O) => $.List<S>,
  read: (s: S) => A,
): Array<A> => {
  const p = $.utils.getPointer(index, owner)
  if ($.utils.isNull(p)) return []
  if ($.utils.getTargetPointerType(p) !== $.PointerType.LIST || $.utils.getTargetListElementSize(p) !== $.ListElementSize.COMPOSITE)
    fail("Malformed", "a struct list field does not point at a composite list")
  const list = get(owner)
  const n = list.length
  if (n <= 0) return []
  b.charge(8 * n)
  const out = new Array<A>(n)
  for (let i = 0; i < n; i++) out[i] = read(list.get(i))
  return out
}

export const tensor = (b: ReadBudget, t: G.Tensor): Tensor => ({
  dtype: dtype(t.dtype),
  shape: t._hasShape() ? u32s(b, t.shape) : [],
  data: t._hasData() ? bytes(b, t.data) : new Uint8Array(0),
})

export const remoteRef = (b: ReadBudget, r: G.RemoteRef): RemoteRef => ({
  id: u64(r.id) as RemoteRef["id"],
  dtype: dtype(r.dtype),
  shape: r._hasShape() ? u32s(b, r.shape) : [],
  byteSize: u64(r.byteSize),
})

export const tensorInfo = (b: ReadBudget, t: G.TensorInfo): TensorInfo => ({
  name: text(b, t.name),
  dtype: dtype(t.dtype),
  shape: t._hasShape() ? u32s(b, t.shape) : [],
})

export const DEFAULT_HINTS: Hints = { phase: "auto", priority: "interactive", expectedTokens: 0, kvBudgetBytes: 0, finalize: false }
export const hints = (h: G.Hints): Hints => ({
  phase: phase(h.phase),
  priority: priority(h.priority),
  expectedTokens: h.expectedTokens,
  kvBudgetBytes: u64(h.kvBudgetBytes),
  finalize: h.finalize,
})

export const ZERO_PROFILE: Profile = {
  queueMs: 0,
  planMs: 0,
  placementMs: 0,
  executionMs: 0,
  skeletonizationMs: 0,
  cleanupMs: 0,
  durationMs: 0,
}
export const profile = (p: G.Profile): Profile => ({
  queueMs: p.queueMs,
  planMs: p.planMs,
  placementMs: p.placementMs,
  executionMs: p.executionMs,
  skeletonizationMs: p.skeletonizationMs,
  cleanupMs: p.cleanupMs,
  durationMs: p.durationMs,
})

export const modelKey = (b: ReadBudget, k: G.ModelKey): ModelKey => ({ id: text(b, k.id), fingerprint: text(b, k.fingerprint) })
export const NO_KEY: ModelKey = { id: "", fingerprint: "" }

export const want = (w: G.Want): Want => ({ tokens: w.tokens, lastLogits: w.lastLogits, refs: w.refs })
export const NO_WANT: Want = { tokens: false, lastLogits: false, refs: false }

export const input = (b: ReadBudget, i: G.Input): Input => {
  const name = text(b, i.name)
  const v = i.value
  switch (v.which()) {
    case 0:
      return { name, tensor: v._hasTensor() ? tensor(b, v.tensor) : { dtype: "f32", shape: [], data: new Uint8Array(0) } }
    case 1:
      return { name, ref: u64(v.ref) as Extract<Input, { ref: unknown }>["ref"] }
    default:
      return fail("Malformed", `unknown input kind ${v.which()}`)
  }
}

export const params = (b: ReadBudget, p: G.GenerationParams): GenerationParams => ({
  maxNewTokens: p.maxNewTokens,
  temperature: p.temperature,
  topK: p.topK,
  topP: p.topP,
  seed: u64(p.seed),
  stopTokens: p._hasStopTokens() ? u32s(b, p.stopTokens) : [],
  stream: p.stream,
})
export const DEFAULT_PARAMS: GenerationParams = {
  maxNewTokens: 0,
  temperature: 0,
  topK: 0,
  topP: 0,
  seed: 0,
  stopTokens: [],
  stream: false,
}
