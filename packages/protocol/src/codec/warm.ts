// JIT warm-up of the codec. A server or client encodes and decodes a handful of messages per request, a few requests a
// second: left alone, V8 runs that code in its interpreter for the first hundreds of requests, at 3–5× the cost of
// optimized code (on a 2-core machine, a cold Generate took ~0.4 ms to encode and ~0.5 ms to decode; optimized, ~0.13
// and ~0.06 with cold caches). Running the hot kinds through encode → frame → decode a few hundred times at start-up
// lets the first real requests run optimized code. The samples are built the way real messages are (same shapes,
// same field order), so the optimized code fits them.
import { Result } from "effect"
import type { BufferId, ModelHandle, PipelineId, RefId, RequestId, SessionId } from "../domain/common.ts"
import type { DomainMessage, MessageBody } from "../domain/messages.ts"
import { FrameDecoder } from "../frame.ts"
import { decodePayload } from "./decode.ts"
import { encodeParts } from "./encode.ts"

const bytes = (n: number) => new Uint8Array(n).map((_, i) => (i * 7 + 3) & 0xff)
const ids = (n: number) => new Uint8Array(Int32Array.from({ length: n }, (_, i) => (i * 7919 + 13) % 50257).buffer)
const hints = { phase: "auto", priority: "interactive", expectedTokens: 0, kvBudgetBytes: 0, finalize: true } as const
const profile = { queueMs: 0.01, planMs: 0.02, placementMs: 0.03, executionMs: 4.5, skeletonizationMs: 0.05, cleanupMs: 0.01, durationMs: 5.1 }
const session = 1 as SessionId
const model = 1 as ModelHandle

/** The kinds of a semantic request and its replies, and of a blind submit, in their usual sizes. */
const samples = (): ReadonlyArray<MessageBody> => [
  {
    _tag: "Generate", sessionId: session, modelHandle: model,
    inputs: [{ name: "input_ids", tensor: { dtype: "i32", shape: [1, 64], data: ids(64) } }],
    hints, params: { maxNewTokens: 32, temperature: 0, topK: 0, topP: 1, seed: 0, stopTokens: [], stream: false },
    want: { tokens: true, lastLogits: false, refs: false },
  },
  {
    _tag: "Forward", sessionId: session, modelHandle: model,
    inputs: [{ name: "input_ids", tensor: { dtype: "i32", shape: [1, 128], data: ids(128) } }],
    hints: { ...hints, phase: "prefill" }, want: { tokens: false, lastLogits: true, refs: false },
  },
  {
    _tag: "Forward", sessionId: session, modelHandle: model,
    inputs: [{ name: "input", tensor: { dtype: "f32", shape: [1, 3, 96, 96], data: bytes(3 * 96 * 96 * 4) } }],
    hints: { ...hints, phase: "vision" }, want: { tokens: false, lastLogits: true, refs: false },
  },
  { _tag: "Result", tokens: Array.from({ length: 32 }, (_, i) => i * 31), refs: [], profile },
  { _tag: "Result", tokens: [], refs: [{ id: 3 as RefId, dtype: "f16", shape: [8, 1000], byteSize: 16000 }], profile },
  { _tag: "Result", tokens: [7], lastLogits: { dtype: "f32", shape: [1, 1000], data: bytes(4000) }, refs: [], profile },
  { _tag: "RefData", ref: { id: 0 as RefId, dtype: "f16", shape: [8, 1000], byteSize: 16000 }, data: bytes(16000) },
  { _tag: "TokenEvent", index: 3, token: 1234 },
  { _tag: "Ack" },
  { _tag: "Error", code: "notFound", message: "NotFound: no open session 9 on this connection" },
  {
    _tag: "GpuSubmit",
    calls: [
      { _tag: "WriteBuffer", bufferId: 2 as BufferId, offset: 0, data: bytes(256) },
      ...Array.from({ length: 8 }, (_, i) => ({
        _tag: "Dispatch" as const, pipelineId: (i + 1) as PipelineId,
        bindings: [0, 1, 2].map((slot) => ({ slot, bufferId: (slot + 1) as BufferId, offset: 256 * i, size: 4096 })),
        uniforms: bytes(32), workgroups: [4, 1, 1] as const,
      })),
      { _tag: "ReadBuffer", bufferId: 3 as BufferId, offset: 0, size: 4 },
    ],
  },
  { _tag: "GpuSubmitResult", reads: [bytes(4)], profile },
]

let warmed = false

/**
 * Runs the hot message kinds through encodeParts → FrameDecoder → decodePayload `rounds` times, once per process
 * (later calls return at once). Returns the milliseconds it took.
 */
export const warmCodec = (rounds = 300): number => {
  if (warmed) return 0
  warmed = true
  const started = performance.now()
  const messages: ReadonlyArray<DomainMessage> = samples().map((body, i) => ({ requestId: (i + 1) as RequestId, body }))
  const frames = FrameDecoder.segmented()
  for (let r = 0; r < rounds; r++) {
    for (const m of messages) {
      const parts = encodeParts(m)
      let chunk = parts[0]
      if (parts.length > 1) {
        // As a socket delivers a small frame: in one chunk.
        chunk = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
        let at = 0
        for (const p of parts) {
          chunk.set(p, at)
          at += p.byteLength
        }
      }
      const out = frames.push(chunk)
      if (Result.isSuccess(out)) for (const f of out.success) decodePayload(f)
    }
  }
  return performance.now() - started
}
