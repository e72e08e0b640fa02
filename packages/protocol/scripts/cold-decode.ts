// Cold-ish decode of the hot messages: the capnp-es path vs the flat reader (codec/hot-decode.ts), through
// decodePayload as the server and client call it. A request is decoded after milliseconds of other work, so each
// trial first touches 64 MiB of other memory (evicting the caches), then copies the frame into a reused read buffer
// (as a socket read does) and times one decodePayload of the payload FrameDecoder yields. Both paths are JIT-warmed
// first; trials alternate between them. Also times a warm loop of each.
//
//   node packages/protocol/scripts/cold-decode.ts [--trials 300] [--evict-mb 64]
import { Result } from "effect"
import { cpus } from "node:os"
import { parseArgs } from "node:util"
import { hotDecode } from "../src/codec/hot-decode.ts"
import {
  decodePayload,
  encode,
  FrameDecoder,
  type DomainMessage,
  type MessageBody,
  type ModelHandle,
  type Payload,
  type RefId,
  type RequestId,
  type SessionId,
} from "../src/index.ts"

const { values: args } = parseArgs({ options: { trials: { type: "string", default: "300" }, "evict-mb": { type: "string", default: "64" } } })
const TRIALS = Number(args.trials)
const EVICT = new Uint8Array(Number(args["evict-mb"]) << 20).fill(1)

const ids = (n: number) => new Uint8Array(Int32Array.from({ length: n }, (_, i) => (i * 7919 + 13) % 30522).buffer)
const bytes = (n: number) => new Uint8Array(n).map((_, i) => (i * 2654435761) >>> 24)
const hints = { phase: "prefill", priority: "interactive", expectedTokens: 0, kvBudgetBytes: 0, finalize: false } as const
const profile = { queueMs: 0.01, planMs: 0.02, placementMs: 0.03, executionMs: 4.5, skeletonizationMs: 0.05, cleanupMs: 0.01, durationMs: 5.1 }
const cases: ReadonlyArray<{ readonly name: string; readonly body: MessageBody }> = [
  {
    name: "Forward (BERT: input_ids [1,128] i32)",
    body: {
      _tag: "Forward", sessionId: 1 as SessionId, modelHandle: 2 as ModelHandle,
      inputs: [{ name: "input_ids", tensor: { dtype: "i32", shape: [1, 128], data: ids(128) } }],
      hints, want: { tokens: false, lastLogits: false, refs: true },
    },
  },
  {
    name: "Generate (64-token prompt, 32 new)",
    body: {
      _tag: "Generate", sessionId: 1 as SessionId, modelHandle: 3 as ModelHandle,
      inputs: [{ name: "input_ids", tensor: { dtype: "i32", shape: [1, 64], data: ids(64) } }],
      hints: { ...hints, phase: "auto" }, params: { maxNewTokens: 32, temperature: 0, topK: 0, topP: 1, seed: 0, stopTokens: [50256], stream: true },
      want: { tokens: true, lastLogits: false, refs: false },
    },
  },
  { name: "Result (32 tokens)", body: { _tag: "Result", tokens: Array.from({ length: 32 }, (_, i) => i * 31), refs: [], profile } },
  {
    name: "RefData (64 KiB, its own segment)",
    body: { _tag: "RefData", ref: { id: 4 as RefId, dtype: "f32", shape: [1, 128, 128], byteSize: 65536 }, data: bytes(65536) },
  },
  { name: "TokenEvent", body: { _tag: "TokenEvent", index: 3, token: 1234 } },
]
const frames = cases.map((c, i) => encode({ requestId: (i + 1) as RequestId, body: c.body } satisfies DomainMessage))
const readBuffer = new Uint8Array(256 * 1024) // a connection's read buffer, reused

/** The payload of `frame` as FrameDecoder yields it after one socket read into the read buffer. */
const receive = (frame: Uint8Array): Payload => {
  readBuffer.set(frame)
  const r = FrameDecoder.segmented().push(readBuffer.subarray(0, frame.byteLength))
  if (Result.isFailure(r) || r.success.length !== 1) throw new Error("framing failed")
  return r.success[0]
}
const decodeWith = (hot: boolean, payload: Payload) => {
  hotDecode.enabled = hot
  const r = decodePayload(payload)
  hotDecode.enabled = true
  if (Result.isFailure(r)) throw new Error(`decode failed: ${r.failure.message}`)
  return r.success
}
let sink = 0
const evict = () => {
  for (let i = 0; i < EVICT.length; i += 64) EVICT[i] += 1
  sink += EVICT[12345]
}

// JIT warm-up of both paths (as warmCodec does for a server at start-up).
for (let r = 0; r < 2000; r++) for (const f of frames) for (const hot of [true, false]) decodeWith(hot, receive(f))

const pct = (xs: Array<number>, p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]
}
const fmt = (us: number) => us.toFixed(1).padStart(7)
console.log(`${cpus().length}-core ${cpus()[0]?.model ?? "CPU"}, Node ${process.versions.node}; ${TRIALS} trials, ${EVICT.length >> 20} MiB evicted before each`)
console.log(`${"message".padEnd(38)} ${"bytes".padStart(6)}   cold µs: generic p50 (p10–p90)     hot p50 (p10–p90)   speed-up   warm µs: generic    hot`)
for (let c = 0; c < cases.length; c++) {
  const frame = frames[c]
  const cold: Record<"hot" | "generic", Array<number>> = { hot: [], generic: [] }
  for (let t = 0; t < TRIALS; t++) {
    for (const hot of t % 2 === 0 ? [true, false] : [false, true]) {
      evict()
      const payload = receive(frame)
      const t0 = process.hrtime.bigint()
      decodeWith(hot, payload)
      cold[hot ? "hot" : "generic"].push(Number(process.hrtime.bigint() - t0) / 1000)
    }
  }
  const warm = (hot: boolean) => {
    const payload = receive(frame)
    const n = 20_000
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < n; i++) decodeWith(hot, payload)
    return Number(process.hrtime.bigint() - t0) / 1000 / n
  }
  const g = cold.generic
  const h = cold.hot
  console.log(
    `${cases[c].name.padEnd(38)} ${String(frame.byteLength).padStart(6)}   ${fmt(pct(g, 0.5))} (${fmt(pct(g, 0.1)).trim()}–${fmt(pct(g, 0.9)).trim()})`.padEnd(85) +
      `${fmt(pct(h, 0.5))} (${fmt(pct(h, 0.1)).trim()}–${fmt(pct(h, 0.9)).trim()})`.padEnd(24) +
      `${(pct(g, 0.5) / pct(h, 0.5)).toFixed(1).padStart(6)}×   ${fmt(warm(false))}    ${fmt(warm(true))}`,
  )
}
if (sink === -1) console.log(sink)
