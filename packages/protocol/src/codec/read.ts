// capnp readers → plain values, charging every byte they produce to the message's ReadBudget. Structural problems
// throw DecodeFailure (caught by the guard); value rules are left to the domain schemas in validate.ts.
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
  RefId,
  RemoteRef,
  Tensor,
  TensorInfo,
  Want,
} from "../domain/common.ts"
import { DTYPES, ERROR_CODES, PHASES, PRIORITIES } from "../domain/common.ts"
import type * as G from "../gen/djinn.ts"
import { PTR } from "../gen/pointers.ts"
import { readBytes, readText, readU32s, u64 } from "./fields.ts"
import { fail } from "./failure.ts"
import type { ReadBudget } from "./wire.ts"

export { u64 } from "./fields.ts"

const enumOf =
  <T extends string>(name: string, all: ReadonlyArray<T>) =>
  (code: number): T =>
    code < all.length ? all[code] : fail("InvalidValue", `unknown ${name} ordinal ${code}`)
export const dtype: (code: number) => DType = enumOf("dtype", DTYPES)
export const phase: (code: number) => Phase = enumOf("phase", PHASES)
export const priority: (code: number) => Priority = enumOf("priority", PRIORITIES)
export const errorCode: (code: number) => ErrorCode = enumOf("error code", ERROR_CODES)

export const tensor = (b: ReadBudget, t: G.Tensor): Tensor => ({
  dtype: dtype(t.dtype),
  shape: readU32s(b, t, PTR.Tensor.shape),
  data: readBytes(b, t, PTR.Tensor.data),
})

export const remoteRef = (b: ReadBudget, r: G.RemoteRef): RemoteRef => ({
  id: u64(r.id) as RefId,
  dtype: dtype(r.dtype),
  shape: readU32s(b, r, PTR.RemoteRef.shape),
  byteSize: u64(r.byteSize),
})

export const tensorInfo = (b: ReadBudget, t: G.TensorInfo): TensorInfo => ({
  name: readText(b, t, PTR.TensorInfo.name),
  dtype: dtype(t.dtype),
  shape: readU32s(b, t, PTR.TensorInfo.shape),
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

export const NO_KEY: ModelKey = { id: "", fingerprint: "" }
export const modelKey = (b: ReadBudget, k: G.ModelKey): ModelKey => ({
  id: readText(b, k, PTR.ModelKey.id),
  fingerprint: readText(b, k, PTR.ModelKey.fingerprint),
})

export const NO_WANT: Want = { tokens: false, lastLogits: false, refs: false }
export const want = (w: G.Want): Want => ({ tokens: w.tokens, lastLogits: w.lastLogits, refs: w.refs })

export const input = (b: ReadBudget, i: G.Input): Input => {
  const name = readText(b, i, PTR.Input.name)
  const v = i.value
  switch (v.which()) {
    case 0:
      return { name, tensor: v._hasTensor() ? tensor(b, v.tensor) : { dtype: "f32", shape: [], data: new Uint8Array(0) } }
    case 1:
      return { name, ref: u64(v.ref) as RefId }
    default:
      return fail("Malformed", `unknown input kind ${v.which()}`)
  }
}

export const DEFAULT_PARAMS: GenerationParams = {
  maxNewTokens: 0,
  temperature: 0,
  topK: 0,
  topP: 0,
  seed: 0,
  stopTokens: [],
  stream: false,
}
export const params = (b: ReadBudget, p: G.GenerationParams): GenerationParams => ({
  maxNewTokens: p.maxNewTokens,
  temperature: p.temperature,
  topK: p.topK,
  topP: p.topP,
  seed: u64(p.seed),
  stopTokens: readU32s(b, p, PTR.GenerationParams.stopTokens),
  stream: p.stream,
})
