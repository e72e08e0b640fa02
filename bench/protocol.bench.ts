// Wire-format micro-benchmarks: encode/decode of a 4 MiB tensor message, a 1000-event token stream, and small
// messages. Run: node bench/protocol.bench.ts — writes results/bench/protocol.json (mitata JSON + derived figures).
import { mkdirSync, writeFileSync } from "node:fs"
import { cpus, loadavg } from "node:os"
import { dirname, join } from "node:path"
import { Result } from "effect"
import { bench, do_not_optimize, group, run } from "mitata"
import {
  decode,
  decodePayload,
  encode,
  encodeParts,
  FrameDecoder,
  PROTOCOL_VERSION,
  type DomainMessage,
  type ModelHandle,
  type RequestId,
  type SessionId,
} from "@djinn/protocol"

const out = join(import.meta.dirname, "../results/bench/protocol.json")
const rid = 1 as RequestId
const TENSOR_BYTES = 4 * 1024 * 1024
const STREAM_EVENTS = 1000

const tensorData = new Uint8Array(TENSOR_BYTES).map((_, i) => (i * 2654435761) >>> 24)
const hints = { phase: "prefill", priority: "interactive", expectedTokens: 32, kvBudgetBytes: 0, finalize: false } as const
const want = { tokens: false, lastLogits: false, refs: true }
const tensorMsg: DomainMessage = {
  requestId: rid,
  body: {
    _tag: "Forward",
    sessionId: 7 as SessionId,
    modelHandle: 3 as ModelHandle,
    inputs: [{ name: "hidden", tensor: { dtype: "f32", shape: [1024, 1024], data: tensorData } }],
    hints,
    want,
  },
}
const tokenEvent = (i: number): DomainMessage => ({ requestId: rid, body: { _tag: "TokenEvent", index: i, token: (i * 7919) % 50257 } })
/** A realistic small request: generate 32 tokens after a 64-token prompt. */
const generateMsg: DomainMessage = {
  requestId: rid,
  body: {
    _tag: "Generate",
    sessionId: 7 as SessionId,
    modelHandle: 3 as ModelHandle,
    inputs: [{ name: "input_ids", tensor: { dtype: "i32", shape: [1, 64], data: new Uint8Array(256).fill(1) } }],
    hints,
    params: { maxNewTokens: 32, temperature: 0, topK: 0, topP: 1, seed: 0, stopTokens: [50256], stream: true },
    want: { tokens: true, lastLogits: false, refs: false },
  },
}
const helloMsg: DomainMessage = { requestId: rid, body: { _tag: "Hello", protocolVersion: PROTOCOL_VERSION, clientName: "bench" } }

const tensorFrame = encode(tensorMsg)
const tokenFrame = encode(tokenEvent(5))
const generateFrame = encode(generateMsg)
const helloFrame = encode(helloMsg)
const streamEvents = Array.from({ length: STREAM_EVENTS }, (_, i) => tokenEvent(i))
const streamBytes = Buffer.concat(streamEvents.map(encode))

const must = <A, E>(r: Result.Result<A, E>): A => {
  if (Result.isFailure(r)) throw new Error(`bench input failed to decode: ${String(r.failure)}`)
  return r.success
}
// Validate before measuring: every input decodes and the tensor comes back intact.
const decodedTensor = must(decode(tensorFrame)).body
if (decodedTensor._tag !== "Forward" || !("tensor" in decodedTensor.inputs[0])) throw new Error("tensor message decoded wrong")
if (!Buffer.from(decodedTensor.inputs[0].tensor.data).equals(Buffer.from(tensorData))) throw new Error("tensor bytes differ")
for (const f of [tokenFrame, generateFrame, helloFrame]) must(decode(f))

group("tensor message (4 MiB f32)", () => {
  bench("encode", () => do_not_optimize(encode(tensorMsg)))
  bench("encodeParts (no output copy)", () => do_not_optimize(encodeParts(tensorMsg)))
  bench("decode", () => do_not_optimize(decode(tensorFrame)))
})
group(`token stream (${STREAM_EVENTS} events)`, () => {
  bench("encode", () => {
    for (let i = 0; i < STREAM_EVENTS; i++) do_not_optimize(encode(streamEvents[i]))
  })
  bench("decode (FrameDecoder + decodePayload)", () => {
    const frames = must(new FrameDecoder().push(streamBytes))
    for (let i = 0; i < frames.length; i++) do_not_optimize(decodePayload(frames[i]))
  })
})
group("small messages", () => {
  bench("encode TokenEvent", () => do_not_optimize(encode(tokenEvent(5))))
  bench("decode TokenEvent", () => do_not_optimize(decode(tokenFrame)))
  bench("encode Hello", () => do_not_optimize(encode(helloMsg)))
  bench("decode Hello", () => do_not_optimize(decode(helloFrame)))
  bench("encode Generate (64-token prompt)", () => do_not_optimize(encode(generateMsg)))
  bench("decode Generate (64-token prompt)", () => do_not_optimize(decode(generateFrame)))
})

let json = ""
await run({ format: { json: { samples: false, debug: false } }, print: (s: string) => (json = s) })
const report = JSON.parse(json) as {
  benchmarks: Array<{ alias: string; group: number; runs: Array<{ name: string; stats?: { avg: number; p50: number; min: number } }> }>
  layout: Array<{ name: string | null }>
}
const stats = (groupName: string, name: string) => {
  const g = report.layout.findIndex((l) => l.name === groupName)
  const s = report.benchmarks.find((x) => x.group === g && x.alias === name)?.runs[0]?.stats
  if (!s) throw new Error(`no result for ${groupName} / ${name}`)
  return s
}
/** avg and median (p50) in the unit `scale` converts nanoseconds to; the median resists other processes' noise. */
const figure = (groupName: string, name: string, scale: (ns: number) => number) => {
  const s = stats(groupName, name)
  return { avg: scale(s.avg), p50: scale(s.p50) }
}
const gbps = (ns: number) => TENSOR_BYTES / ns
const usPerEvent = (ns: number) => ns / STREAM_EVENTS / 1000
const us = (ns: number) => ns / 1000
const tensorGroup = "tensor message (4 MiB f32)"
const streamGroup = `token stream (${STREAM_EVENTS} events)`
const derived = {
  machine: `${cpus().length}-core CPU (${cpus()[0]?.model ?? "unknown"}), Node ${process.versions.node}`,
  loadAverage: loadavg(),
  tensorEncodeGBps: figure(tensorGroup, "encode", gbps),
  tensorEncodePartsGBps: figure(tensorGroup, "encodeParts (no output copy)", gbps),
  tensorDecodeGBps: figure(tensorGroup, "decode", gbps),
  streamEncodeUsPerEvent: figure(streamGroup, "encode", usPerEvent),
  streamDecodeUsPerEvent: figure(streamGroup, "decode (FrameDecoder + decodePayload)", usPerEvent),
  smallEncodeUs: figure("small messages", "encode TokenEvent", us),
  smallDecodeUs: figure("small messages", "decode TokenEvent", us),
  helloEncodeUs: figure("small messages", "encode Hello", us),
  helloDecodeUs: figure("small messages", "decode Hello", us),
  generateEncodeUs: figure("small messages", "encode Generate (64-token prompt)", us),
  generateDecodeUs: figure("small messages", "decode Generate (64-token prompt)", us),
  targets: { tensorDecodeGBps: ">= 2", smallUs: "<= 2 each way" },
  frameBytes: { tensor: tensorFrame.byteLength, tokenEvent: tokenFrame.byteLength, hello: helloFrame.byteLength, generate: generateFrame.byteLength },
}
mkdirSync(dirname(out), { recursive: true })
writeFileSync(out, JSON.stringify({ ...report, derived }, null, 2) + "\n")
console.log(JSON.stringify(derived, null, 2))
console.log(`wrote ${out}`)
