// Domain → capnp builders. Encoding trusts the domain types (use `validate` for values from outside the program);
// it never reads back what it wrote, and sizes the message up front so tensors are copied once into it.
import * as $ from "capnp-es"
import type { DomainMessage, MessageBody } from "../domain/messages.ts"
import type { GenerationParams, Hints, Input, ModelKey, Profile, RemoteRef, Tensor } from "../domain/common.ts"
import { DTYPES, ERROR_CODES, PHASES, PRIORITIES } from "../domain/common.ts"
import type { GpuCall } from "../domain/gpu.ts"
import * as G from "../gen/djinn.ts"
import { PTR } from "../gen/pointers.ts"
import { elements, writeBytes, writeDataList, writeText, writeU32s, writeU64s } from "./fields.ts"
import { encodeHotParts, isHot } from "./hot-encode.ts"
import { allowExternals, EXTERNAL_BYTES, newMessage, serialize, serializeParts } from "./wire.ts"

const code = <T extends string>(all: ReadonlyArray<T>) => Object.fromEntries(all.map((v, i) => [v, i])) as Record<T, number>
const DTYPE = code(DTYPES) as Record<string, G.DType>
const PHASE = code(PHASES) as Record<string, G.Phase>
const PRIORITY = code(PRIORITIES) as Record<string, G.Priority>
const ERROR = code(ERROR_CODES) as Record<string, G.ErrorCode>

const big = BigInt

/** Upper bound on the encoded size: byte payloads and strings dominate, everything else gets a generous allowance. */
const estimate = (v: unknown): number => {
  if (v instanceof Uint8Array) return v.byteLength >= EXTERNAL_BYTES ? 32 : v.byteLength + 16 // large ones go out as segments of their own
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

const setTensor = (t: G.Tensor, v: Tensor) => {
  t.dtype = DTYPE[v.dtype]
  writeU32s(t, PTR.Tensor.shape, v.shape)
  writeBytes(t, PTR.Tensor.data, v.data)
}
const setRef = (r: G.RemoteRef, v: RemoteRef) => {
  r.id = big(v.id)
  r.dtype = DTYPE[v.dtype]
  writeU32s(r, PTR.RemoteRef.shape, v.shape)
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
  writeText(k, PTR.ModelKey.id, v.id)
  writeText(k, PTR.ModelKey.fingerprint, v.fingerprint)
}
const setInputs = (list: $.List<G.Input>, inputs: ReadonlyArray<Input>) => {
  elements(list, G.Input, inputs.length).forEach((input, i) => {
    const v = inputs[i]
    writeText(input, PTR.Input.name, v.name)
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
  writeU32s(p, PTR.GenerationParams.stopTokens, v.stopTokens)
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
      writeBytes(g, PTR.GpuCall_WriteBuffer.data, v.data)
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
      writeText(g, PTR.GpuCall_CreatePipeline.kernelId, v.kernelId)
      writeText(g, PTR.GpuCall_CreatePipeline.variantKey, v.variantKey)
      return
    }
    case "Dispatch": {
      const g = c._initDispatch()
      g.pipelineId = big(v.pipelineId)
      elements(g._initBindings(v.bindings.length), G.Binding, v.bindings.length).forEach((w, i) => {
        const b = v.bindings[i]
        w.slot = b.slot
        w.bufferId = big(b.bufferId)
        w.offset = big(b.offset)
        w.size = big(b.size)
      })
      writeBytes(g, PTR.GpuCall_Dispatch.uniforms, v.uniforms)
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
      writeText(h, PTR.Hello.clientName, v.clientName)
      if (v.authToken !== undefined) {
        h.auth.token = "" // selects the union member; the text goes in below
        writeText(h, PTR.Hello_Auth.token, v.authToken)
      } else h.auth.none = true
      return
    }
    case "Welcome": {
      const w = b._initWelcome()
      w.protocolVersion = v.protocolVersion
      writeText(w, PTR.Welcome.serverName, v.serverName)
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
      writeText(r, PTR.RegisterModel.configJson, v.configJson)
      elements(r._initTensors(v.tensors.length), G.TensorInfo, v.tensors.length).forEach((w, i) => {
        const t = v.tensors[i]
        writeText(w, PTR.TensorInfo.name, t.name)
        w.dtype = DTYPE[t.dtype]
        writeU32s(w, PTR.TensorInfo.shape, t.shape)
      })
      return
    }
    case "WeightChunk": {
      const w = b._initWeightChunk()
      w.modelHandle = big(v.modelHandle)
      w.tensorIndex = v.tensorIndex
      w.offset = big(v.offset)
      writeBytes(w, PTR.WeightChunk.data, v.data)
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
      writeU32s(r, PTR.InferenceResult.tokens, v.tokens)
      if (v.lastLogits !== undefined) setTensor(r.lastLogits._initTensor(), v.lastLogits)
      else r.lastLogits.none = true
      elements(r._initRefs(v.refs.length), G.RemoteRef, v.refs.length).forEach((w, i) => setRef(w, v.refs[i]))
      setProfile(r._initProfile(), v.profile)
      return
    }
    case "FetchRef":
      b._initFetchRef().refId = big(v.refId)
      return
    case "RefData": {
      const r = b._initRefData()
      setRef(r._initRef(), v.ref)
      writeBytes(r, PTR.RefData.data, v.data)
      return
    }
    case "FreeRefs": {
      writeU64s(b._initFreeRefs(), PTR.FreeRefs.refIds, v.refIds)
      return
    }
    case "GpuSubmit": {
      const calls = b._initGpuSubmit()._initCalls(v.calls.length)
      elements(calls, G.GpuCall, v.calls.length).forEach((c, i) => setCall(c, v.calls[i]))
      return
    }
    case "GpuSubmitResult": {
      const r = b._initGpuSubmitResult()
      writeDataList(r, PTR.GpuSubmitResult.reads, v.reads)
      setProfile(r._initProfile(), v.profile)
      return
    }
    case "StatsRequest":
      b.statsRequest = true
      return
    case "StatsReply":
      writeText(b._initStatsReply(), PTR.StatsReply.json, v.json)
      return
    case "Ack":
      b.ack = true
      return
    case "Error": {
      const e = b._initError()
      e.code = ERROR[v.code]
      writeText(e, PTR.ErrorReply.message, v.message)
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

const build = (m: DomainMessage): $.Message => {
  const msg = newMessage(estimate(m.body) + 64)
  allowExternals(msg)
  return writeMessage(msg, m)
}

/** A framed message (4-byte little-endian length, then the capnp stream), ready to write to a socket. */
export const encode = (m: DomainMessage): Uint8Array => serialize(build(m), true)
/** The capnp stream alone (no length prefix): what FrameDecoder yields and decodePayload takes. */
export const encodePayload = (m: DomainMessage): Uint8Array => serialize(build(m), false)
/**
 * The framed message as [prefix + segment table, …segments] views: write them in order, the tensors are not copied
 * at all (Data of 64 KiB or more is sent from the caller's bytes, which must stay unchanged until written).
 */
export const encodeParts = (m: DomainMessage): Array<Uint8Array> =>
  isHot(m.body._tag) ? encodeHotParts(m as Parameters<typeof encodeHotParts>[0]) : serializeParts(build(m))
/** encodeParts through the capnp-es builders for every kind (tests hold the hot writer to its bytes). */
export const encodePartsGeneral = (m: DomainMessage): Array<Uint8Array> => serializeParts(build(m))
