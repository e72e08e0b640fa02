// capnp `Message` → DomainMessage. Never throws: every failure comes back as a ProtocolError.
import { Result } from "effect"
import type { BufferId, ModelHandle, PipelineId, RefId, RequestId, SessionId } from "../domain/common.ts"
import type { GpuCall } from "../domain/gpu.ts"
import type { DomainMessage, MessageBody } from "../domain/messages.ts"
import { protocolError, ProtocolError } from "../errors.ts"
import { DEFAULT_MAX_FRAME_BYTES, FRAME_PREFIX_BYTES, type FrameOptions, type Payload } from "../frame.ts"
import * as G from "../gen/djinn.ts"
import { PTR } from "../gen/pointers.ts"
import { readBytes, readDataList, readStructs, readText, readU32s, readU64s } from "./fields.ts"
import { decodeHot, hotDecode } from "./hot-decode.ts"
import * as R from "./read.ts"
import { validateBody } from "./validate.ts"
import { fail, guard, openMessage, type ReadBudget } from "./wire.ts"

const id = <T>(v: bigint) => R.u64(v) as T

const gpuCall = (b: ReadBudget, c: G.GpuCall): GpuCall => {
  switch (c.which()) {
    case G.GpuCall.CREATE_BUFFER: {
      const g = c.createBuffer
      return { _tag: "CreateBuffer", bufferId: id<BufferId>(g.bufferId), size: R.u64(g.size), usage: g.usage }
    }
    case G.GpuCall.WRITE_BUFFER: {
      const g = c.writeBuffer
      return { _tag: "WriteBuffer", bufferId: id<BufferId>(g.bufferId), offset: R.u64(g.offset), data: readBytes(b, g, PTR.GpuCall_WriteBuffer.data) }
    }
    case G.GpuCall.READ_BUFFER: {
      const g = c.readBuffer
      return { _tag: "ReadBuffer", bufferId: id<BufferId>(g.bufferId), offset: R.u64(g.offset), size: R.u64(g.size) }
    }
    case G.GpuCall.DESTROY_BUFFER:
      return { _tag: "DestroyBuffer", bufferId: id<BufferId>(c.destroyBuffer.bufferId) }
    case G.GpuCall.CREATE_PIPELINE: {
      const g = c.createPipeline
      return {
        _tag: "CreatePipeline",
        pipelineId: id<PipelineId>(g.pipelineId),
        kernelId: readText(b, g, PTR.GpuCall_CreatePipeline.kernelId),
        variantKey: readText(b, g, PTR.GpuCall_CreatePipeline.variantKey),
      }
    }
    case G.GpuCall.DISPATCH: {
      const g = c.dispatch
      return {
        _tag: "Dispatch",
        pipelineId: id<PipelineId>(g.pipelineId),
        bindings: readStructs(b, g, PTR.GpuCall_Dispatch.bindings, G.Binding, (o) => o.bindings, (w) => ({
          slot: w.slot,
          bufferId: id<BufferId>(w.bufferId),
          offset: R.u64(w.offset),
          size: R.u64(w.size),
        })),
        uniforms: readBytes(b, g, PTR.GpuCall_Dispatch.uniforms),
        workgroups: [g.workgroupsX, g.workgroupsY, g.workgroupsZ],
      }
    }
    default:
      return fail("Malformed", `unknown GPU call kind ${c.which()}`)
  }
}

const B = G.Message_Body

const body = (b: ReadBudget, m: G.Message_Body): MessageBody => {
  switch (m.which()) {
    case B.HELLO: {
      const h = m.hello
      const base = { _tag: "Hello", protocolVersion: h.protocolVersion, clientName: readText(b, h, PTR.Hello.clientName) } as const
      switch (h.auth.which()) {
        case G.Hello_Auth.NONE:
          return base
        case G.Hello_Auth.TOKEN:
          return { ...base, authToken: readText(b, h, PTR.Hello_Auth.token) }
        default:
          return fail("Malformed", `unknown auth kind ${h.auth.which()}`)
      }
    }
    case B.WELCOME: {
      const w = m.welcome
      return { _tag: "Welcome", protocolVersion: w.protocolVersion, serverName: readText(b, w, PTR.Welcome.serverName) }
    }
    case B.OPEN_SESSION: {
      const o = m.openSession
      return { _tag: "OpenSession", hints: o._hasHints() ? R.hints(o.hints) : R.DEFAULT_HINTS }
    }
    case B.SESSION_OPENED: {
      const s = m.sessionOpened
      return { _tag: "SessionOpened", sessionId: id<SessionId>(s.sessionId), kvArenaBytes: R.u64(s.kvArenaBytes) }
    }
    case B.CLOSE_SESSION:
      return { _tag: "CloseSession", sessionId: id<SessionId>(m.closeSession.sessionId) }
    case B.LOOKUP_MODEL: {
      const l = m.lookupModel
      return { _tag: "LookupModel", key: l._hasKey() ? R.modelKey(b, l.key) : R.NO_KEY }
    }
    case B.LOAD_MODEL: {
      const l = m.loadModel
      return { _tag: "LoadModel", key: l._hasKey() ? R.modelKey(b, l.key) : R.NO_KEY }
    }
    case B.REGISTER_MODEL: {
      const r = m.registerModel
      return {
        _tag: "RegisterModel",
        key: r._hasKey() ? R.modelKey(b, r.key) : R.NO_KEY,
        configJson: readText(b, r, PTR.RegisterModel.configJson),
        tensors: readStructs(b, r, PTR.RegisterModel.tensors, G.TensorInfo, (o) => o.tensors, (t) => R.tensorInfo(b, t)),
      }
    }
    case B.WEIGHT_CHUNK: {
      const w = m.weightChunk
      return {
        _tag: "WeightChunk",
        modelHandle: id<ModelHandle>(w.modelHandle),
        tensorIndex: w.tensorIndex,
        offset: R.u64(w.offset),
        data: readBytes(b, w, PTR.WeightChunk.data),
      }
    }
    case B.COMMIT_MODEL:
      return { _tag: "CommitModel", modelHandle: id<ModelHandle>(m.commitModel.modelHandle) }
    case B.MODEL_INFO: {
      const i = m.modelInfo
      return {
        _tag: "ModelInfo",
        handle: id<ModelHandle>(i.handle),
        key: i._hasKey() ? R.modelKey(b, i.key) : R.NO_KEY,
        paramBytes: R.u64(i.paramBytes),
        resident: i.resident,
      }
    }
    case B.GENERATE: {
      const g = m.generate
      return {
        _tag: "Generate",
        sessionId: id<SessionId>(g.sessionId),
        modelHandle: id<ModelHandle>(g.modelHandle),
        inputs: readStructs(b, g, PTR.Generate.inputs, G.Input, (o) => o.inputs, (i) => R.input(b, i)),
        hints: g._hasHints() ? R.hints(g.hints) : R.DEFAULT_HINTS,
        params: g._hasParams() ? R.params(b, g.params) : R.DEFAULT_PARAMS,
        want: g._hasWant() ? R.want(g.want) : R.NO_WANT,
      }
    }
    case B.FORWARD: {
      const f = m.forward
      return {
        _tag: "Forward",
        sessionId: id<SessionId>(f.sessionId),
        modelHandle: id<ModelHandle>(f.modelHandle),
        inputs: readStructs(b, f, PTR.Forward.inputs, G.Input, (o) => o.inputs, (i) => R.input(b, i)),
        hints: f._hasHints() ? R.hints(f.hints) : R.DEFAULT_HINTS,
        want: f._hasWant() ? R.want(f.want) : R.NO_WANT,
      }
    }
    case B.TOKEN_EVENT: {
      const t = m.tokenEvent
      return { _tag: "TokenEvent", index: t.index, token: t.token }
    }
    case B.RESULT: {
      const r = m.result
      const base = {
        _tag: "Result",
        tokens: readU32s(b, r, PTR.InferenceResult.tokens),
        refs: readStructs(b, r, PTR.InferenceResult.refs, G.RemoteRef, (o) => o.refs, (ref) => R.remoteRef(b, ref)),
        profile: r._hasProfile() ? R.profile(r.profile) : R.ZERO_PROFILE,
      } as const
      const logits = r.lastLogits
      switch (logits.which()) {
        case G.InferenceResult_LastLogits.NONE:
          return base
        case G.InferenceResult_LastLogits.TENSOR:
          if (!logits._hasTensor()) return fail("Malformed", "lastLogits tensor pointer is null")
          return { ...base, lastLogits: R.tensor(b, logits.tensor) }
        default:
          return fail("Malformed", `unknown lastLogits kind ${logits.which()}`)
      }
    }
    case B.FETCH_REF:
      return { _tag: "FetchRef", refId: id<RefId>(m.fetchRef.refId) }
    case B.REF_DATA: {
      const r = m.refData
      if (!r._hasRef()) return fail("Malformed", "refData without ref")
      return { _tag: "RefData", ref: R.remoteRef(b, r.ref), data: readBytes(b, r, PTR.RefData.data) }
    }
    case B.FREE_REFS: {
      return { _tag: "FreeRefs", refIds: readU64s(b, m.freeRefs, PTR.FreeRefs.refIds) as Array<RefId> }
    }
    case B.GPU_SUBMIT: {
      const s = m.gpuSubmit
      return { _tag: "GpuSubmit", calls: readStructs(b, s, PTR.GpuSubmit.calls, G.GpuCall, (o) => o.calls, (c) => gpuCall(b, c)) }
    }
    case B.GPU_SUBMIT_RESULT: {
      const r = m.gpuSubmitResult
      return {
        _tag: "GpuSubmitResult",
        reads: readDataList(b, r, PTR.GpuSubmitResult.reads),
        profile: r._hasProfile() ? R.profile(r.profile) : R.ZERO_PROFILE,
      }
    }
    case B.STATS_REQUEST:
      return { _tag: "StatsRequest" }
    case B.STATS_REPLY:
      return { _tag: "StatsReply", json: readText(b, m.statsReply, PTR.StatsReply.json) }
    case B.ACK:
      return { _tag: "Ack" }
    case B.ERROR: {
      const e = m.error
      return { _tag: "Error", code: R.errorCode(e.code), message: readText(b, e, PTR.ErrorReply.message) }
    }
    default:
      return fail("UnknownKind", `unknown message kind ${m.which()}`)
  }
}

export interface DecodeOptions extends FrameOptions {
  /** Skip the domain-value checks (shapes, byte sizes, id ranges). Structural checks always run. */
  readonly skipValidation?: boolean
}

/**
 * Decodes a capnp stream without the length prefix — what FrameDecoder and decodeFrames yield. Tensor and byte
 * fields are views into one private copy of the payload's segments, not into `payload` itself — except for a
 * SegmentedPayload, whose segment buffers become the message's own (the decoder hands them over; don't reuse them).
 * The hot kinds are read by the flat reader of hot-decode.ts first, which gives the same result or defers here.
 */
export const decodePayload = (
  payload: Payload,
  options?: DecodeOptions,
): Result.Result<DomainMessage, ProtocolError> => {
  const max = options?.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
  if (payload.byteLength > max)
    return Result.fail(protocolError("FrameTooLarge", `payload of ${payload.byteLength} bytes exceeds ${max}`))
  if (hotDecode.enabled) {
    const hot = decodeHot(payload, options?.skipValidation === true)
    if (hot !== undefined) return Result.succeed(hot)
  }
  return decodeGeneral(payload, options)
}

/** decodePayload through the capnp-es readers alone, for every kind (tests hold the hot reader to its results). */
export const decodePayloadGeneral = (payload: Payload, options?: DecodeOptions): Result.Result<DomainMessage, ProtocolError> => {
  const max = options?.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
  if (payload.byteLength > max)
    return Result.fail(protocolError("FrameTooLarge", `payload of ${payload.byteLength} bytes exceeds ${max}`))
  return decodeGeneral(payload, options)
}

const decodeGeneral = (payload: Payload, options: DecodeOptions | undefined): Result.Result<DomainMessage, ProtocolError> => {
  const out = guard((): DomainMessage | ProtocolError => {
    const opened = openMessage(payload, G.Message)
    if (opened instanceof ProtocolError) return opened
    const m: DomainMessage = { requestId: opened.root.requestId as RequestId, body: body(opened.budget, opened.root.body) }
    if (options?.skipValidation) return m
    const invalid = validateBody(m.body)
    return invalid ?? m
  })
  return out instanceof ProtocolError ? Result.fail(out) : Result.succeed(out)
}

/** Decodes exactly one framed message (4-byte length prefix + payload), as produced by `encode`. */
export const decode = (bytes: Uint8Array, options?: DecodeOptions): Result.Result<DomainMessage, ProtocolError> => {
  const max = options?.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
  if (bytes.byteLength < FRAME_PREFIX_BYTES)
    return Result.fail(protocolError("Truncated", `${bytes.byteLength} bytes cannot hold a frame prefix`))
  const length = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true)
  if (length > max) return Result.fail(protocolError("FrameTooLarge", `frame of ${length} bytes exceeds the ${max}-byte limit`))
  const have = bytes.byteLength - FRAME_PREFIX_BYTES
  if (have < length) return Result.fail(protocolError("Truncated", `frame promises ${length} bytes, ${have} present`))
  if (have > length) return Result.fail(protocolError("Malformed", `${have - length} bytes after the frame`))
  return decodePayload(bytes.subarray(FRAME_PREFIX_BYTES), options)
}
