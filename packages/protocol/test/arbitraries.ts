// fast-check arbitraries for every message kind, honouring the domain rules (shape × dtype = byte size, ids ≤ 2^53−1).
import fc from "fast-check"
import { createHash } from "node:crypto"
import type {
  BufferId,
  DomainMessage,
  GpuCall,
  Hints,
  Input,
  MessageBody,
  ModelHandle,
  PipelineId,
  Profile,
  RefId,
  RemoteRef,
  RequestId,
  SessionId,
  Tensor,
} from "../src/index.ts"
import { DTYPE_BYTES, DTYPES, ERROR_CODES, Limits, PHASES, PRIORITIES } from "../src/index.ts"

const u32 = fc.nat({ max: 0xffff_ffff })
const u53 = fc.oneof(fc.nat(), fc.constantFrom(0, 2 ** 32, Number.MAX_SAFE_INTEGER), fc.maxSafeNat())
const id = <T>() => u53.map((n) => n as T)
const str = fc.oneof(fc.string({ unit: "binary", maxLength: 40 }), fc.string({ unit: "grapheme", maxLength: 10 }), fc.constant(""))
const f64 = fc.oneof(fc.double(), fc.constantFrom(NaN, Infinity, -Infinity, -0, Number.MIN_VALUE))
const f32 = fc.oneof(fc.float(), fc.constantFrom(NaN, Infinity, -Infinity, -0)).map(Math.fround)

/** Bytes from a seed, fast even for megabytes (fast-check would build them one element at a time). */
export const seededBytes = (n: number, seed: number): Uint8Array => {
  const out = new Uint8Array(n)
  const words = new Uint32Array(out.buffer, 0, n >>> 2)
  let x = seed | 1
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    words[i] = x
  }
  for (let i = words.length * 4; i < n; i++) out[i] = i & 0xff
  return out
}

/** Small byte strings, rich in IEEE specials (NaN with payloads, ±Inf, −0) when read as f32/f16/bf16. */
const specials = [0x7fc00000, 0x7f800001, 0xffffffff, 0x7f800000, 0xff800000, 0x80000000, 0x7e00, 0xfc00, 0x7fc0]
export const smallBytes = (maxLength = 64) =>
  fc.oneof(
    fc.uint8Array({ maxLength }),
    fc.array(fc.oneof(fc.constantFrom(...specials), u32), { maxLength: maxLength >>> 2 }).map((ws) => new Uint8Array(new Uint32Array(ws).buffer)),
  )

const dtype = fc.constantFrom(...DTYPES)

/** A shape with at most `maxElements` elements: ranks 0–8, zeros, ones, odd sizes. */
const smallShape = (maxElements: number) =>
  fc.array(fc.oneof(fc.constantFrom(0, 1), fc.integer({ min: 1, max: 7 })), { maxLength: Limits.maxRank }).map((dims) => {
    const out: Array<number> = []
    let n = 1
    for (const d of dims) if (n * d <= maxElements) (out.push(d), (n *= d))
    return out
  })

/** Inline tensors: mostly small, sometimes empty, the largest legal rank, or 0-length with huge dims. */
export const tensor = (maxBytes = 256): fc.Arbitrary<Tensor> =>
  fc.oneof(
    { weight: 6, arbitrary: fc.tuple(dtype, smallShape(64), fc.nat()).map(([dt, shape, seed]) => mk(dt, shape, seed)) },
    { weight: 1, arbitrary: fc.tuple(dtype, fc.nat()).map(([dt, seed]) => mk(dt, [], seed)) },
    { weight: 1, arbitrary: dtype.map((dt) => mk(dt, [Limits.maxDim, 0, Limits.maxDim, 1, 1, 1, 1, Limits.maxDim], 0)) },
    { weight: 1, arbitrary: fc.tuple(dtype, fc.nat({ max: maxBytes })).map(([dt, n]) => mk(dt, [Math.floor(n / DTYPE_BYTES[dt])], n)) },
  )
const mk = (dt: Tensor["dtype"], shape: Array<number>, seed: number): Tensor => ({
  dtype: dt,
  shape,
  data: seededBytes(shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[dt], seed),
})

/** References may describe huge tensors: up to the 2^40-element bound, dims up to 2^31. */
export const remoteRef: fc.Arbitrary<RemoteRef> = fc
  .tuple(id<RefId>(), dtype, fc.oneof(smallShape(1 << 20), fc.constant([Limits.maxDim, 512]), fc.constant([Limits.maxDim])))
  .map(([rid, dt, shape]) => ({ id: rid, dtype: dt, shape, byteSize: shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[dt] }))

const hints: fc.Arbitrary<Hints> = fc.record({
  phase: fc.constantFrom(...PHASES),
  priority: fc.constantFrom(...PRIORITIES),
  expectedTokens: u32,
  kvBudgetBytes: u53,
  finalize: fc.boolean(),
})
const profile: fc.Arbitrary<Profile> = fc.record({
  queueMs: f64,
  planMs: f64,
  placementMs: f64,
  executionMs: f64,
  skeletonizationMs: f64,
  cleanupMs: f64,
  durationMs: f64,
})
const key = fc.record({ id: str, fingerprint: str })
const want = fc.record({ tokens: fc.boolean(), lastLogits: fc.boolean(), refs: fc.boolean() })
const input: fc.Arbitrary<Input> = fc.oneof(
  fc.record({ name: str, tensor: tensor() }),
  fc.record({ name: str, ref: id<RefId>() }),
)
const inputs = fc.array(input, { maxLength: 4 })

const gpuCall: fc.Arbitrary<GpuCall> = fc.oneof(
  fc.record({ _tag: fc.constant("CreateBuffer" as const), bufferId: id<BufferId>(), size: u53, usage: u32 }),
  fc.record({ _tag: fc.constant("WriteBuffer" as const), bufferId: id<BufferId>(), offset: u53, data: smallBytes() }),
  fc.record({ _tag: fc.constant("ReadBuffer" as const), bufferId: id<BufferId>(), offset: u53, size: u53 }),
  fc.record({ _tag: fc.constant("DestroyBuffer" as const), bufferId: id<BufferId>() }),
  fc.record({ _tag: fc.constant("CreatePipeline" as const), pipelineId: id<PipelineId>(), kernelId: str, variantKey: str }),
  fc.record({
    _tag: fc.constant("Dispatch" as const),
    pipelineId: id<PipelineId>(),
    bindings: fc.array(fc.record({ slot: u32, bufferId: id<BufferId>(), offset: u53, size: u53 }), { maxLength: 8 }),
    uniforms: smallBytes(),
    workgroups: fc.tuple(u32, u32, u32),
  }),
)

const tag = <T extends string>(t: T) => fc.constant(t)

/** One arbitrary per kind, so tests can assert every kind is covered. */
export const bodies: { readonly [K in MessageBody["_tag"]]: fc.Arbitrary<Extract<MessageBody, { _tag: K }>> } = {
  Hello: fc.oneof(
    fc.record({ _tag: tag("Hello"), protocolVersion: u32, clientName: str }),
    fc.record({ _tag: tag("Hello"), protocolVersion: u32, clientName: str, authToken: str }),
  ),
  Welcome: fc.record({ _tag: tag("Welcome"), protocolVersion: u32, serverName: str }),
  OpenSession: fc.record({ _tag: tag("OpenSession"), hints }),
  SessionOpened: fc.record({ _tag: tag("SessionOpened"), sessionId: id<SessionId>(), kvArenaBytes: u53 }),
  CloseSession: fc.record({ _tag: tag("CloseSession"), sessionId: id<SessionId>() }),
  LookupModel: fc.record({ _tag: tag("LookupModel"), key }),
  LoadModel: fc.record({ _tag: tag("LoadModel"), key }),
  RegisterModel: fc.record({
    _tag: tag("RegisterModel"),
    key,
    configJson: str,
    tensors: fc.array(fc.record({ name: str, dtype, shape: smallShape(1 << 30) }), { maxLength: 6 }),
  }),
  WeightChunk: fc.record({ _tag: tag("WeightChunk"), modelHandle: id<ModelHandle>(), tensorIndex: u32, offset: u53, data: smallBytes() }),
  CommitModel: fc.record({ _tag: tag("CommitModel"), modelHandle: id<ModelHandle>() }),
  ModelInfo: fc.record({ _tag: tag("ModelInfo"), handle: id<ModelHandle>(), key, paramBytes: u53, resident: fc.boolean() }),
  Generate: fc.record({
    _tag: tag("Generate"),
    sessionId: id<SessionId>(),
    modelHandle: id<ModelHandle>(),
    inputs,
    hints,
    params: fc.record({
      maxNewTokens: u32,
      temperature: f32,
      topK: u32,
      topP: f32,
      seed: u53,
      stopTokens: fc.array(u32, { maxLength: 6 }),
      stream: fc.boolean(),
    }),
    want,
  }),
  Forward: fc.record({ _tag: tag("Forward"), sessionId: id<SessionId>(), modelHandle: id<ModelHandle>(), inputs, hints, want }),
  TokenEvent: fc.record({ _tag: tag("TokenEvent"), index: u32, token: u32 }),
  Result: fc.oneof(
    fc.record({ _tag: tag("Result"), tokens: fc.array(u32, { maxLength: 40 }), refs: fc.array(remoteRef, { maxLength: 4 }), profile }),
    fc.record({
      _tag: tag("Result"),
      tokens: fc.array(u32, { maxLength: 40 }),
      lastLogits: tensor(),
      refs: fc.array(remoteRef, { maxLength: 4 }),
      profile,
    }),
  ),
  FetchRef: fc.record({ _tag: tag("FetchRef"), refId: id<RefId>() }),
  RefData: fc
    .tuple(id<RefId>(), tensor())
    .map(([rid, t]) => ({ _tag: "RefData" as const, ref: { id: rid, dtype: t.dtype, shape: t.shape, byteSize: t.data.byteLength }, data: t.data })),
  FreeRefs: fc.record({ _tag: tag("FreeRefs"), refIds: fc.array(id<RefId>(), { maxLength: 10 }) }),
  GpuSubmit: fc.record({ _tag: tag("GpuSubmit"), calls: fc.array(gpuCall, { maxLength: 8 }) }),
  GpuSubmitResult: fc.record({ _tag: tag("GpuSubmitResult"), reads: fc.array(smallBytes(), { maxLength: 5 }), profile }),
  StatsRequest: fc.record({ _tag: tag("StatsRequest") }),
  StatsReply: fc.record({ _tag: tag("StatsReply"), json: str }),
  Ack: fc.record({ _tag: tag("Ack") }),
  Error: fc.record({ _tag: tag("Error"), code: fc.constantFrom(...ERROR_CODES), message: str }),
}

export const body: fc.Arbitrary<MessageBody> = fc.oneof(...Object.values(bodies))
export const message = (b: fc.Arbitrary<MessageBody> = body): fc.Arbitrary<DomainMessage> =>
  fc.record({ requestId: u32.map((n) => n as RequestId), body: b })

/** Replaces byte arrays by a digest so deep equality is fast for megabyte tensors and exact for NaN payloads. */
export const canon = (v: unknown): unknown => {
  if (v instanceof Uint8Array) return `bytes:${v.byteLength}:${createHash("sha1").update(v).digest("hex")}`
  if (Array.isArray(v)) return v.map(canon)
  if (typeof v === "number" && Number.isNaN(v)) return "NaN"
  if (typeof v === "number" && Object.is(v, -0)) return "-0"
  if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, canon(x)]))
  return v
}
