// Domain → capnp builders. Encoding trusts the domain types (use `validate` for values from outside the program);
// it never reads back what it wrote, and sizes the message up front so tensors are copied once into it.
import * as $ from "capnp-es"
import type { DomainMessage, MessageBody } from "../domain/messages.ts"
import type { GenerationParams, Hints, Input, ModelKey, Profile, RemoteRef, Tensor } from "../domain/common.ts"
import { DTYPES, ERROR_CODES, PHASES, PRIORITIES } from "../domain/common.ts"
import type { GpuCall } from "../domain/gpu.ts"
import * as G from "../gen/djinn.ts"
import { newMessage, serialize, serializeParts } from "./wire.ts"

const code = <T extends string>(all: ReadonlyArray<T>) => Object.fromEntries(all.map((v, i) => [v, i])) as Record<T, number>
const DTYPE = code(DTYPES) as Record<string, G.DType>
const PHASE = code(PHASES) as Record<string, G.Phase>
const PRIORITY = code(PRIORITIES) as Record<string, G.Priority>
const ERROR = code(ERROR_CODES) as Record<string, G.ErrorCode>

const big = BigInt

/** Upper bound on the encoded size: byte payloads and strings dominate, everything else gets a generous allowance. */
const estimate = (v: unknown): number => {
  if (v instanceof Uint8Array) return v.byteLength + 16
  switch (typeof v) {
    case "string":
      return 3 * v.length + 16
    case "object": {
      if (v === null) return 8
      if (Array.isArray(v)) {
        if (v.length > 0 && typeof v[0] === "number") return 8 * v.length + 16
        let n = 16
        for (const x of v) n += estimate(x) + 16
        return n
      }
      let n = 32
      for (const k in v) n += estimate((v as Record<string, unknown>)[k]) + 8
      return n
    }
    default:
      return 8
  }
}

const setU32List = (list: $.List<number>, values: ReadonlyArray<number>) => {
  for (let i = 0; i < values.length; i++) list.set(i, values[i])
}
const setData = (init: (n: number) => $.Data, bytes: Uint8Array) => {
  if (bytes.byteLength > 0) init(bytes.byteLength).toUint8Array().set(bytes)
  else init(0)
}

/** Points an element of a List(Data) at `n` fresh bytes (what capnp-es's internal initList does for a BYTE list). */
const initDataAt = (p: $.Data, n: number): $.Data => {
  const c = p.segment.allocate(n)
  const r = $.utils.initPointer(c.segment, c.byteOffset, p)
  $.utils.setListPointer(r.offsetWords, $.ListElementSize.BYTE, n, r.pointer)
  return p
}

const setTensor = (t: G.Tensor, v: Tensor) => {
  t.dtype = DTYPE[v.dtype]
  setU32List(t._initShape(v.shape.length), v.shape)
  setData((n) => t._initData(n), v.data)
}
const setRef = (r: G.RemoteRef, v: RemoteRef) => {
  r.id = big(v.id)
  r.dtype = DTYPE[v.dtype]
  setU32List(r._initShape(v.shape.length), v.shape)
  r.byteSize = big(v.byteSize)
}
const setHints = (h: G.Hints, v: Hints) => {
  h.phase = PHASE[v.phase]
  h.priority = PRIORITY[v.priority]
  h.expectedTokens = v.expectedTokens
  h.kvBudgetBytes = big(v.kvBudgetBytes)
  h.finalize = v.finalize
}
const setProfile = (p: G.Profile, v: Profile) => {
  p.queueMs = v.queueMs
  p.planMs = v.planMs
  p.placementMs = v.placementMs
  p.executionMs = v.executionMs
  p.skeletonizationMs = v.skeletonizationMs
  p.cleanupMs = v.cleanupMs
  p.durationMs = v.durationMs
}
const setKey = (k: G.ModelKey, v: ModelKey) => {
  k.id = v.id
  k.fingerprint = v.fingerprint
}
const setInputs = (list: $.List<G.Input>, inputs: ReadonlyArray<Input>) => {
  inputs.forEach((v, i) => {
    const input = list.get(i)
    input.name = v.name
    if ("tensor" in v) setTensor(input.value._initTensor(), v.tensor)
    else input.value.ref = big(v.ref)
  })
}
const setParams = (p: G.GenerationParams, v: GenerationParams) => {
  p.maxNewTokens = v.maxNewTokens
  p.temperature = v.temperature
  p.topK = v.topK
  p.topP = v.topP
  p.seed = big(v.seed)
  setU32List(p._initStopTokens(v.stopTokens.length), v.stopTokens)
  p.stream = v.stream
}

const setCall = (c: G.GpuCall, v: GpuCall) => {
  switch (v._tag) {
    case "CreateBuffer": {
      const g = c._initCreateBuffer()
      g.bufferId = big(v.bufferId)
      g.size = big(v.size)
      g.usage = v.usage
      return
    }
    case "WriteBuffer": {
      const g = c._initWriteBuffer()
      g.bufferId = big(v.bufferId)
      g.offset = big(v.offset)
      setData((n) => g._initData(n), v.data)
      return
    }
    case "ReadBuffer": {
      const g = c._initReadBuffer()
      g.bufferId = big(v.bufferId)
      g.offset = big(v.offset)
      g.size = big(v.size)
      return
    }
    case "DestroyBuffer":
      c._initDestroyBuffer().bufferId = big(v.bufferId)
      return
    case "CreatePipeline": {
      const g = c._initCreatePipeline()
      g.pipelineId = big(v.pipelineId)
      g.kernelId = v.kernelId
      g.variantKey = v.variantKey
      return
    }
    case "Dispatch": {
      const g = c._initDispatch()
      g.pipelineId = big(v.pipelineId)
      const bindings = g._initBindings(v.bindings.length)
      v.bindings.forEach((b, i) => {
        const w = bindings.get(i)
        w.slot = b.slot
        w.bufferId = big(b.bufferId)
        w.offset = big(b.offset)
        w.size = big(b.size)
      })
      setData((n) => g._initUniforms(n), v.uniforms)
      g.workgroupsX = v.workgroups[0]
      g.workgroupsY = v.workgroups[1]
      g.workgroupsZ = v.workgroups[2]
      return
    }
  }
}

const setBody = (b: G.Message_Body, v: MessageBody): void => {
  switch (v._tag) {
    case "Hello": {
      const h = b._initHello()
      h.protocolVersion = v.protocolVersion
      h.clientName = v.clientName
      if (v.authToken !== undefined) h.auth.token = v.authToken
      else h.auth.none = true
      return
    }
    case "Welcome": {
      const w = b._initWelcome()
      w.protocolVersion = v.protocolVersion
      w.serverName = v.serverName
      return
    }
    case "OpenSession":
      return setHints(b._initOpenSession()._initHints(), v.hints)
    case "SessionOpened": {
      const s = b._initSessionOpened()
      s.sessionId = big(v.sessionId)
      s.kvArenaBytes = big(v.kvArenaBytes)
      return
    }
    case "CloseSession":
      b._initCloseSession().sessionId = big(v.sessionId)
      return
    case "LookupModel":
      return setKey(b._initLookupModel()._initKey(), v.key)
    case "LoadModel":
      return setKey(b._initLoadModel()._initKey(), v.key)
    case "RegisterModel": {
      const r = b._initRegisterModel()
      setKey(r._initKey(), v.key)
      r.configJson = v.configJson
      const list = r._initTensors(v.tensors.length)
      v.tensors.forEach((t, i) => {
        const w = list.get(i)
        w.name = t.name
        w.dtype = DTYPE[t.dtype]
        setU32List(w._initShape(t.shape.length), t.shape)
      })
      return
    }
    case "WeightChunk": {
      const w = b._initWeightChunk()
      w.modelHandle = big(v.modelHandle)
      w.tensorIndex = v.tensorIndex
      w.offset = big(v.offset)
      setData((n) => w._initData(n), v.data)
      return
    }
    case "CommitModel":
      b._initCommitModel().modelHandle = big(v.modelHandle)
      return
    case "ModelInfo": {
      const m = b._initModelInfo()
      m.handle = big(v.handle)
      setKey(m._initKey(), v.key)
      m.paramBytes = big(v.paramBytes)
      m.resident = v.resident
      return
    }
    case "Generate": {
      const g = b._initGenerate()
      g.sessionId = big(v.sessionId)
      g.modelHandle = big(v.modelHandle)
      setInputs(g._initInputs(v.inputs.length), v.inputs)
      setHints(g._initHints(), v.hints)
      setParams(g._initParams(), v.params)
      const want = g._initWant()
      want.tokens = v.want.tokens
      want.lastLogits = v.want.lastLogits
      want.refs = v.want.refs
      return
    }
    case "Forward": {
      const f = b._initForward()
      f.sessionId = big(v.sessionId)
      f.modelHandle = big(v.modelHandle)
      setInputs(f._initInputs(v.inputs.length), v.inputs)
      setHints(f._initHints(), v.hints)
      const want = f._initWant()
      want.tokens = v.want.tokens
      want.lastLogits = v.want.lastLogits
      want.refs = v.want.refs
      return
    }
    case "TokenEvent": {
      const t = b._initTokenEvent()
      t.index = v.index
      t.token = v.token
      return
    }
    case "Result": {
      const r = b._initResult()
      setU32List(r._initTokens(v.tokens.length), v.tokens)
      if (v.lastLogits !== undefined) setTensor(r.lastLogits._initTensor(), v.lastLogits)
      else r.lastLogits.none = true
      const refs = r._initRefs(v.refs.length)
      v.refs.forEach((ref, i) => setRef(refs.get(i), ref))
      setProfile(r._initProfile(), v.profile)
      return
    }
    case "FetchRef":
      b._initFetchRef().refId = big(v.refId)
      return
    case "RefData": {
      const r = b._initRefData()
      setRef(r._initRef(), v.ref)
      setData((n) => r._initData(n), v.data)
      return
    }
    case "FreeRefs": {
      const ids = b._initFreeRefs()._initRefIds(v.refIds.length)
      v.refIds.forEach((id, i) => ids.set(i, big(id)))
      return
    }
    case "GpuSubmit": {
      const calls = b._initGpuSubmit()._initCalls(v.calls.length)
      v.calls.forEach((c, i) => setCall(calls.get(i), c))
      return
    }
    case "GpuSubmitResult": {
      const r = b._initGpuSubmitResult()
      const reads = r._initReads(v.reads.length)
      v.reads.forEach((bytes, i) => setData((n) => initDataAt(reads.get(i), n), bytes))
      setProfile(r._initProfile(), v.profile)
      return
    }
    case "StatsRequest":
      b.statsRequest = true
      return
    case "StatsReply":
      b._initStatsReply().json = v.json
      return
    case "Ack":
      b.ack = true
      return
    case "Error": {
      const e = b._initError()
      e.code = ERROR[v.code]
      e.message = v.message
      return
    }
  }
}

/** Writes `m` into a fresh root of `msg` (exported for tests that build multi-segment messages). */
export const writeMessage = (msg: $.Message, m: DomainMessage): $.Message => {
  const root = msg.initRoot(G.Message)
  root.requestId = m.requestId
  setBody(root.body, m.body)
  return msg
}

const build = (m: DomainMessage): $.Message => writeMessage(newMessage(estimate(m.body) + 64), m)

/** A framed message (4-byte little-endian length, then the capnp stream), ready to write to a socket. */
export const encode = (m: DomainMessage): Uint8Array => serialize(build(m), true)
/** The capnp stream alone (no length prefix): what FrameDecoder yields and decodePayload takes. */
export const encodePayload = (m: DomainMessage): Uint8Array => serialize(build(m), false)
/** The framed message as [prefix + segment table, …segments] views: write them in order, the tensors are not copied again. */
export const encodeParts = (m: DomainMessage): Array<Uint8Array> => serializeParts(build(m))
