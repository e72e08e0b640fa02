// The remote tax per request: what one semantic request (Generate / Forward) to a server in a child process on
// loopback costs beyond the engine's own work, and where that time goes. Workloads:
//   gpt2    sshleifer/tiny-gpt2 shape (synthetic weights), prompt 64 + 32 new tokens (Generate)
//   resnet  the resnet50-narrow fixture, batch 8 at 224² (an 8×3×224×224 f32 input: 4.8 MB on the wire; Forward)
//   bert    the bert-mini fixture, batch 1, 128 tokens, last_hidden_state returned (Forward)
//   resnet-wire  resnet's Forward under an input name the model refuses: the server decodes it whole and answers
//           BadRequest before any GPU work, so the large message's way in (client encode, transfer, server decode)
//           is measured in milliseconds a run, not seconds (no native side; --wire-n runs, default 40)
// Each run does one native request (the engine in this process, as the harness's native baseline) and one remote
// request, alternating. The server keeps per-request timestamps (--trace-requests on) and the client its call marks;
// both processes read the host's CLOCK_MONOTONIC, so every step of a request lines up:
//   client encode → c2s (socket write, kernel, the server's reassembly) → server decode → server before exec (lane,
//   Effect, plan, queue, placement) → exec (the engine's work) → server after exec (error check, resume, cleanup) →
//   server encode + write → s2c → client decode → client resume (the caller's await returns).
// tax = round trip − exec (the server's engine work, which native does too); `full − native` is the harness's figure
// (noisier: it subtracts two long GPU runs).
//
//   node packages/server/bench/tax.ts [--n 5] [--workloads gpt2,resnet] [--image-dtype f32|f16] [--gap-ms 0] [--out file.json]
import { connect, toF16, wireTensor, type CallTimings, type Session } from "@djinn/client"
import { forwardEncoder, forwardVision, generate, loadModel, pooledMemory, resolveModel, type LoadedModel } from "@djinn/engine"
import { adapterName, f16ToF32, openGpu } from "@djinn/gpu"
import { registry } from "@djinn/kernels"
import { writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { parseArgs } from "node:util"
import { spawnServer } from "../src/index.ts"
import type { RequestTrace } from "../src/trace.ts"

const { values: args } = parseArgs({
  allowNegative: true,
  options: {
    n: { type: "string", default: "5" },
    workloads: { type: "string", default: "gpt2,resnet" },
    "image-dtype": { type: "string", default: "f32" },
    dtype: { type: "string", default: "f16" },
    fixtures: { type: "string", default: "../shared/fixtures" },
    out: { type: "string", default: join(tmpdir(), `djinn-tax-${Date.now()}.json`) },
    "wire-n": { type: "string", default: "40" },
    "warm-client": { type: "boolean", default: true },
    // The encoder of the bert workload: the bert-mini fixture, or a known model id (synthetic weights), e.g.
    // bert-base-uncased for the suite's BERT-base shape.
    bert: { type: "string" },
    // Dawn backend for both sides, e.g. null: no GPU work (outputs are zeros), the host's CPU path alone — the tax's
    // steps measured without a lavapipe forward between requests.
    backend: { type: "string" },
    // Idle time before each run (native, then remote), as in the interleaved sweep, where six other baselines run
    // between two requests of one: the server and the client sleep meanwhile (session 5: +0.5 ms of tax on BERT at 100 ms).
    "gap-ms": { type: "string", default: "0" },
    // A CPU profile of the server process, written into this directory (node --cpu-prof).
    "server-cpu-prof": { type: "string" },
  },
})
const N = Number(args.n)
const GAP_MS = Math.max(0, Number(args["gap-ms"]) || 0)
/** The idle time before a run (--gap-ms). */
const idle = (): Promise<void> => (GAP_MS > 0 ? new Promise((r) => setTimeout(r, GAP_MS)) : Promise.resolve())
const IMAGE_DTYPE = args["image-dtype"] === "f16" ? "f16" : "f32"
const FIXTURES = resolve(args.fixtures)
const GPT2 = "sshleifer/tiny-gpt2"
const RESNET_DIR = join(FIXTURES, "resnet50-narrow")
const BERT_DIR = join(FIXTURES, "bert-mini")
const BERT_SPEC: { modelDir: string } | { modelId: string } = args.bert === undefined ? { modelDir: BERT_DIR } : { modelId: args.bert }
const BERT_NAME = "modelDir" in BERT_SPEC ? "bert-mini fixture" : `${BERT_SPEC.modelId} (synthetic weights)`
const PROMPT = Array.from({ length: 64 }, (_, i) => (i * 7919 + 13) % 50257)
const NEW_TOKENS = 32
const IMAGE_SHAPE = [8, 3, 224, 224] as const
const BERT_SEQ = 128

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const monotonicOffsetMs = () => Number(process.hrtime.bigint()) / 1e6 - performance.now()

/** What a run produced, comparable between native and remote. */
type Output = { readonly tokens: number[] } | { readonly values: Float32Array }
/** A remote run; `timings` is undefined when the call was refused (an Error reply carries none). */
interface Remote { readonly t0: number; readonly ms: number; readonly timings: CallTimings | undefined; readonly output: Output; cpuMs?: number }
interface Workload {
  readonly name: string
  readonly describe: string
  readonly runs?: number
  readonly native?: () => Promise<{ ms: number; output: Output }>
  readonly remote: (session: Session) => Promise<Remote>
}

const gpu = await openGpu(registry, args.backend === undefined ? {} : { backend: args.backend })
const dtype = args.dtype === "f16" && gpu.adapter.f16 ? "f16" : "f32"
const mem = pooledMemory(gpu) // as the harness's native baseline: a caching allocator
const load = (spec: Parameters<typeof resolveModel>[0]): LoadedModel => loadModel(gpu, mem, resolveModel(spec), dtype)
const images = (() => {
  const out = new Float32Array(IMAGE_SHAPE.reduce((a, b) => a * b, 1))
  let s = 12345
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    out[i] = (s / 2 ** 32) * 2 - 1
  }
  return out
})()
const bertIds = Int32Array.from({ length: BERT_SEQ }, (_, i) => (i * 31 + 7) % 1000)

const handles = new Map<string, number>()
const workloads: Record<string, () => Workload> = {
  gpt2: () => {
    const lm = load({ modelId: GPT2 })
    if (lm.kind !== "causal-lm") throw new Error("tiny-gpt2 is not a causal LM")
    return {
      name: "gpt2",
      describe: `${GPT2} (synthetic weights), Generate: prompt ${PROMPT.length} + ${NEW_TOKENS} new tokens, ${dtype}`,
      native: async () => {
        const t = performance.now()
        const out = await generate(gpu, mem, lm.model, PROMPT, { maxNewTokens: NEW_TOKENS })
        const ms = performance.now() - t
        for (const x of [...out.cache.keys, ...out.cache.values]) mem.release({ buffer: x.buffer, offset: x.offset, size: 0 })
        return { ms, output: { tokens: out.tokens } }
      },
      remote: async (session) => {
        const t = performance.now()
        const r = await session.generate(handles.get("gpt2")!, PROMPT, { maxNewTokens: NEW_TOKENS })
        return { t0: t, ms: performance.now() - t, timings: r.timings, output: { tokens: r.tokens } }
      },
    }
  },
  resnet: () => {
    const net = load({ modelDir: RESNET_DIR })
    if (net.kind !== "vision") throw new Error("resnet50-narrow is not a vision model")
    return {
      name: "resnet",
      describe: `resnet50-narrow fixture, Forward: [${IMAGE_SHAPE.join(", ")}] images sent as ${IMAGE_DTYPE} (${(images.byteLength / (IMAGE_DTYPE === "f16" ? 2 : 1) / 1e6).toFixed(2)} MB), logits returned, ${dtype}`,
      native: async () => {
        const t = performance.now()
        const values = await forwardVision(gpu, mem, net.model, images, IMAGE_SHAPE)
        return { ms: performance.now() - t, output: { values } }
      },
      remote: async (session) => {
        const t = performance.now()
        const input = IMAGE_DTYPE === "f16"
          ? { dtype: "f16" as const, shape: IMAGE_SHAPE, data: new Uint8Array(toF16(images).buffer) }
          : { shape: IMAGE_SHAPE, data: images }
        const r = await session.forward(handles.get("resnet")!, { input }, { values: true, phase: "vision" })
        const logits = r.outputs.logits?.tensor
        if (logits === undefined) throw new Error("the reply has no logits")
        return { t0: t, ms: performance.now() - t, timings: r.timings, output: { values: floats(logits) } }
      },
    }
  },
  "resnet-wire": () => ({
    name: "resnet-wire",
    runs: Number(args["wire-n"]),
    describe: `resnet's Forward ([${IMAGE_SHAPE.join(", ")}] as ${IMAGE_DTYPE}) under the input name "pixels", refused before any GPU work`,
    remote: async (session) => {
      const t = performance.now()
      const input = IMAGE_DTYPE === "f16"
        ? { dtype: "f16" as const, shape: IMAGE_SHAPE, data: new Uint8Array(toF16(images).buffer) }
        : { shape: IMAGE_SHAPE, data: images }
      const conn = (session as unknown as { conn: Parameters<typeof Session.open>[0] }).conn
      const r = await conn.call({
        _tag: "Forward", sessionId: session.id, modelHandle: handles.get("resnet")! as never,
        inputs: [{ name: "pixels", tensor: wireTensor("pixels", input) }],
        hints: { phase: "vision", priority: "interactive", expectedTokens: 0, kvBudgetBytes: 0, finalize: true },
        want: { tokens: false, lastLogits: true, refs: false },
      }, ["Result"]).then(() => { throw new Error("the server took a Forward it should refuse") }, (e: { reason?: string; message?: string; timings?: CallTimings }) => e)
      if (!/BadRequest/.test(r.message ?? "")) throw new Error(`unexpected answer: ${r.message}`)
      return { t0: t, ms: performance.now() - t, timings: undefined, output: { tokens: [] } }
    },
  }),
  bert: () => {
    const bert = load(BERT_SPEC)
    if (bert.kind !== "encoder") throw new Error(`${BERT_NAME} is not an encoder`)
    return {
      name: "bert",
      describe: `${BERT_NAME}, Forward: input_ids [1, ${BERT_SEQ}], last_hidden_state returned, ${dtype}`,
      native: async () => {
        const t = performance.now()
        const out = await forwardEncoder(gpu, mem, bert.model, { inputIds: bertIds, B: 1, S: BERT_SEQ })
        return { ms: performance.now() - t, output: { values: out.lastHiddenState } }
      },
      remote: async (session) => {
        const t = performance.now()
        const r = await session.forward(handles.get("bert")!, { input_ids: { shape: [1, BERT_SEQ], data: bertIds } }, { values: true })
        const h = r.outputs.last_hidden_state?.tensor
        if (h === undefined) throw new Error("the reply has no last_hidden_state")
        return { t0: t, ms: performance.now() - t, timings: r.timings, output: { values: floats(h) } }
      },
    }
  },
}

const floats = (t: { dtype: string; data: Uint8Array }): Float32Array => {
  const copy = new Uint8Array(t.data).buffer
  return t.dtype === "f16" ? f16ToF32(new Uint16Array(copy)) : new Float32Array(copy)
}

const difference = (a: Output, b: Output): number => {
  if ("tokens" in a && "tokens" in b) return a.tokens.length === b.tokens.length && a.tokens.every((t, i) => t === b.tokens[i]) ? 0 : Infinity
  if ("values" in a && "values" in b) {
    if (a.values.length !== b.values.length) return Infinity
    let d = 0
    // NaN where both are NaN (the null backend reads back whatever its buffers hold) counts as equal
    for (let i = 0; i < a.values.length; i++) if (!Object.is(a.values[i], b.values[i])) d = Math.max(d, Math.abs(a.values[i] - b.values[i]))
    return d
  }
  return Infinity
}

/** A refused request's steps: the way in (client prep + encode + transfer), the server's decode, the way back. */
const refusedSteps = (r: Remote, clientOffset: number, tr: RequestTrace, serverOffset: number) => {
  const c = (x: number) => x + clientOffset
  const s = (x: number) => x + serverOffset
  return {
    clientToFrame: s(tr.frameAt) - c(r.t0),
    serverAssembly: tr.frameAt - tr.firstChunkAt,
    serverDecode: tr.decodedAt - tr.frameAt,
    refusalToCaller: c(r.t0 + r.ms) - s(tr.decodedAt),
    total: r.ms,
    tax: r.ms,
  }
}

/** One remote request's steps (ms), from the client's marks and the server's trace on a shared clock. */
const steps = (r: Remote, clientOffset: number, tr: RequestTrace, serverOffset: number) => {
  const m = r.timings!.marks!
  const c = (x: number) => x + clientOffset
  const s = (x: number) => x + serverOffset
  const exec = tr.workEndedAt - tr.execStartedAt
  return {
    clientPrep: m.startedAt - r.t0, // the caller's arguments → the message (an f16 conversion of the images, say)
    clientEncode: m.encodedAt - m.startedAt,
    c2s: s(tr.frameAt) - c(m.encodedAt),
    serverDecode: tr.decodedAt - tr.frameAt,
    serverBeforeExec: tr.execStartedAt - tr.decodedAt,
    exec,
    serverAfterExec: tr.replyAt - tr.workEndedAt,
    // Encoding and writing every reply message, and the final one's way to the client (the server's write call may
    // return after the client has the bytes: on 2 cores the processes preempt each other, so it is not split here).
    serverReply: c(m.replyAt) - s(tr.replyAt),
    clientDecode: m.decodedAt - m.replyAt,
    clientResume: r.t0 + r.ms - m.decodedAt,
    // Parts of c2s and serverReply, to read them by
    serverEncode: tr.encodeMs,
    clientWriteCall: m.sentAt - m.encodedAt,
    serverAssembly: tr.frameAt - tr.firstChunkAt,
    clientAssembly: m.replyAt - m.replyStartedAt,
    clientDeserializeAll: r.timings!.deserializeMs,
    total: r.ms,
    tax: r.ms - exec,
  }
}
type Steps = ReturnType<typeof steps>

const server = await spawnServer([
  "--preload", `${GPT2},${RESNET_DIR},${"modelDir" in BERT_SPEC ? BERT_SPEC.modelDir : BERT_SPEC.modelId}`, "--dtype", dtype, "--trace-requests", "on",
  ...(args.backend === undefined ? [] : ["--backend", args.backend]),
], {
  env: args["server-cpu-prof"] === undefined ? process.env : { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --cpu-prof --cpu-prof-interval=50 --cpu-prof-dir=${resolve(args["server-cpu-prof"])}` },
  timeoutMs: 180_000,
})
const report: Record<string, unknown> = {
  bench: "packages/server/bench/tax.ts",
  date: new Date().toISOString(),
  runs: N,
  clientAdapter: adapterName(gpu.adapter),
  server: "child process, same host (loopback TCP)",
  imageDtype: IMAGE_DTYPE,
  workloads: [] as unknown[],
}
try {
  const conn = await connect(server.address, { warmCodec: args["warm-client"] })
  for (const [name, spec] of [["gpt2", { modelId: GPT2 }], ["resnet", { modelDir: RESNET_DIR }], ["bert", BERT_SPEC]] as const) {
    handles.set(name, (await conn.ensureModel(spec)).handle)
  }
  const session = await conn.openSession({ priority: "interactive" })
  const stats = (await conn.stats()) as unknown as { gpus: Array<{ name: string }> }
  report.serverAdapter = stats.gpus.map((g) => g.name).join("; ")
  const f = (x: number) => x.toFixed(2).padStart(8)
  const mins = (rows: ReadonlyArray<Record<string, number>>) =>
    Object.fromEntries(Object.keys(rows[0]).map((k) => [k, Math.min(...rows.map((s) => s[k]))])) as Record<string, number>
  const medianOf = (rows: ReadonlyArray<Record<string, number>>) =>
    Object.fromEntries(Object.keys(rows[0]).map((k) => [k, median(rows.map((s) => s[k]))])) as Record<string, number>
  for (const name of args.workloads.split(",")) {
    const w = workloads[name]?.()
    if (w === undefined) throw new Error(`unknown workload ${name} (${Object.keys(workloads).join(", ")})`)
    const runs = w.runs ?? N
    console.log(`${w.name}: ${w.describe}; ${runs} runs after 1 warm-up${w.native === undefined ? "" : ", native and remote alternating"}`)
    const native: number[] = []
    const remote: Remote[] = []
    let reference: Output | undefined
    let maxDiff = 0
    // CPU time (user + system) per remote request: the server's from its stats around the loop (it serves nothing
    // else meanwhile), the client's around each call. Unlike wall times, these barely move when other work shares
    // the host's cores.
    const serverCpu = async () => {
      const s = (await conn.stats()) as unknown as { server: { cpuMs?: { user: number; system: number } } }
      return s.server.cpuMs === undefined ? NaN : s.server.cpuMs.user + s.server.cpuMs.system
    }
    const serverCpu0 = await serverCpu()
    for (let i = 0; i <= runs; i++) {
      await idle()
      const n = await w.native?.()
      await idle()
      const c0 = process.cpuUsage()
      const r = await w.remote(session)
      const c1 = process.cpuUsage(c0)
      r.cpuMs = (c1.user + c1.system) / 1000
      if (n !== undefined) {
        reference ??= n.output
        maxDiff = Math.max(maxDiff, difference(reference, r.output), difference(reference, n.output))
      }
      if (i === 0) continue // warm-up
      if (n !== undefined) native.push(n.ms)
      remote.push(r)
    }
    const serverCpuMs = (await serverCpu() - serverCpu0) / (runs + 1)
    const clientCpuMs = median(remote.map((r) => r.cpuMs ?? NaN))
    const snap = (await conn.stats()) as unknown as { traces: { monotonicOffsetMs: number; requests: RequestTrace[] } }
    const traces = snap.traces.requests.slice(-remote.length)
    if (traces.length !== remote.length) throw new Error("the server's traces miss requests")
    const clientOffset = monotonicOffsetMs()
    const remoteMs = median(remote.map((r) => r.ms))
    if (w.native === undefined) {
      const perRun = remote.map((r, i) => refusedSteps(r, clientOffset, traces[i], snap.traces.monotonicOffsetMs))
      const medians = medianOf(perRun)
      const least = mins(perRun)
      ;(report.workloads as unknown[]).push({ workload: w.name, describe: w.describe, remoteMedianMs: remoteMs, medians, mins: least, samples: { perRun } })
      console.log(`  round trip median ${remoteMs.toFixed(2)} ms, min ${least.total.toFixed(2)} ms`)
      console.log("  step               median      min")
      for (const k of Object.keys(medians)) console.log(`    ${k.padEnd(18)} ${f(medians[k])} ${f(least[k])}`)
      continue
    }
    const perRun: Steps[] = remote.map((r, i) => steps(r, clientOffset, traces[i], snap.traces.monotonicOffsetMs))
    const medians = medianOf(perRun) as Record<keyof Steps, number>
    const least = mins(perRun) as Record<keyof Steps, number>
    const nativeMs = median(native)
    const entry = {
      workload: w.name,
      describe: w.describe,
      nativeMedianMs: nativeMs,
      remoteMedianMs: remoteMs,
      fullMinusNativeMs: remoteMs - nativeMs,
      taxMedianMs: medians.tax,
      serverCpuMsPerRequest: serverCpuMs,
      clientCpuMsPerRequest: clientCpuMs,
      bytesOut: median(remote.map((r) => r.timings!.bytesOut)),
      bytesIn: median(remote.map((r) => r.timings!.bytesIn)),
      maxDifferenceFromNative: maxDiff,
      medians,
      mins: least,
      breakdown: {
        clientEncode: medians.clientEncode,
        serverDecode: medians.serverDecode,
        serverExec: medians.exec,
        serverEncode: medians.serverEncode,
        clientDecode: medians.clientDecode,
        // What the tax is besides encoding and decoding (it used to be lumped as "unaccounted"): the server's own path
        // around the engine (lane, Effect, plan, QoS, placement; error check, resume, cleanup), the way there and
        // back (socket writes, the kernel, waking the other process, reading and assembling the frames) and the
        // client's own steps; what is left is the medians not adding up, not time no step covers.
        serverPath: medians.serverBeforeExec + medians.serverAfterExec,
        transport: medians.c2s + medians.serverReply - medians.serverEncode,
        clientSteps: medians.clientPrep + medians.clientResume,
        unaccounted: medians.tax - medians.clientPrep - medians.clientEncode - medians.c2s - medians.serverDecode - medians.serverBeforeExec -
          medians.serverAfterExec - medians.serverReply - medians.clientDecode - medians.clientResume,
      },
      samples: { nativeMs: native, perRun },
    }
    ;(report.workloads as unknown[]).push(entry)
    console.log(`  native ${nativeMs.toFixed(1)} ms, remote ${remoteMs.toFixed(1)} ms, full − native ${f(remoteMs - nativeMs)} ms, tax (round trip − exec) ${f(medians.tax)} ms (min ${least.tax.toFixed(2)}); bytes out ${entry.bytesOut}, in ${entry.bytesIn}; max |remote − native| ${maxDiff}`)
    console.log(`  CPU per request: server ${serverCpuMs.toFixed(2)} ms (mean, incl. its engine work), client ${clientCpuMs.toFixed(2)} ms (median, the remote call)`)
    console.log("  step               median      min")
    for (const k of ["clientPrep", "clientEncode", "c2s", "serverDecode", "serverBeforeExec", "exec", "serverAfterExec", "serverReply", "clientDecode", "clientResume"] as const) {
      console.log(`    ${k.padEnd(18)} ${f(medians[k])} ${f(least[k])}`)
    }
    console.log(`    (c2s: client write call ${medians.clientWriteCall.toFixed(2)}, server assembly ${medians.serverAssembly.toFixed(2)}; serverReply: server encode ${medians.serverEncode.toFixed(2)}, client assembly ${medians.clientAssembly.toFixed(2)}; client decode of all replies ${medians.clientDeserializeAll.toFixed(2)})`)
    console.log(`  breakdown: ${Object.entries(entry.breakdown).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", ")}`)
  }
  conn.close()
  writeFileSync(args.out, JSON.stringify(report, null, 2))
  console.log(`wrote ${args.out}`)
} finally {
  gpu.destroy()
  await server.stop()
}
