// Round trip of the hf_tiny_gpt2 workload (sshleifer/tiny-gpt2 shape, synthetic weights, prompt 64 + 32 new tokens):
// native (the engine in this process), semantic (one Generate per request) and blind (the engine here, every GPU
// call forwarded) against a server in a child process. Prints median latency and bytes moved per request, and checks
// that all three give the same tokens.
//
//   node packages/server/bench/roundtrip.ts [--n 10] [--server host:port] [--json]
import { connect, type Connection } from "@djinn/client"
import { directMemory, generate, loadCausalLM, resolveModel, type CausalLM, type Memory } from "@djinn/engine"
import { adapterName, openGpu, type GpuDevice } from "@djinn/gpu"
import { registry } from "@djinn/kernels"
import { parseArgs } from "node:util"
import { spawnServer, StackArena } from "../src/index.ts"

const { values: args } = parseArgs({ options: { n: { type: "string", default: "10" }, server: { type: "string" }, json: { type: "boolean", default: false } } })
const N = Number(args.n)
const MODEL = "sshleifer/tiny-gpt2"
const PROMPT = Array.from({ length: 64 }, (_, i) => (i * 7919 + 13) % 50257)
const NEW_TOKENS = 32

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const p95 = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(0.95 * xs.length) - 1)]

interface Sample { ms: number; bytesOut: number; bytesIn: number; messagesOut: number; messagesIn: number; roundTrips: number; tokens: number[]; extra?: Record<string, number> }

/** One warm-up run (pipeline compilation, first-touch allocations), then N measured runs. */
const measure = async (run: () => Promise<Sample>): Promise<Sample[]> => {
  await run()
  const out: Sample[] = []
  for (let i = 0; i < N; i++) out.push(await run())
  return out
}

const nativeRun = (gpu: GpuDevice, lm: CausalLM) => async (): Promise<Sample> => {
  const mem = directMemory(gpu)
  const t = performance.now()
  const { tokens, cache } = await generate(gpu, mem, lm, PROMPT, { maxNewTokens: NEW_TOKENS })
  const ms = performance.now() - t
  for (const x of [...cache.keys, ...cache.values]) mem.release({ buffer: x.buffer, offset: x.offset, size: 0 })
  return { ms, bytesOut: 0, bytesIn: 0, messagesOut: 0, messagesIn: 0, roundTrips: 0, tokens }
}

/** The engine in this process with the server's memory policy (stack buffers reused between requests), so that
 * semantic − native-pooled isolates what the network and the server's stages cost. */
const nativePooledRun = (gpu: GpuDevice, lm: CausalLM) => {
  const stack = new StackArena(gpu, 256 * 1024 * 1024)
  const direct = directMemory(gpu)
  const mem: Memory = { alloc: (bytes, segment, label) => (segment === "stack" ? stack.alloc(bytes, label) : direct.alloc(bytes, segment, label)), release: (a) => { if (a.size !== 0) direct.release(a) } }
  return async (): Promise<Sample> => {
    const t = performance.now()
    const { tokens, cache } = await generate(gpu, mem, lm, PROMPT, { maxNewTokens: NEW_TOKENS })
    const ms = performance.now() - t
    stack.reset()
    for (const x of [...cache.keys, ...cache.values]) direct.release({ buffer: x.buffer, offset: x.offset, size: 0 })
    return { ms, bytesOut: 0, bytesIn: 0, messagesOut: 0, messagesIn: 0, roundTrips: 0, tokens }
  }
}

const semanticRun = async (conn: Connection) => {
  const model = await conn.ensureModel({ modelId: MODEL })
  const session = await conn.openSession({ priority: "interactive" })
  return async (): Promise<Sample> => {
    const before = { ...conn.traffic }
    const t = performance.now()
    const r = await session.generate(model, PROMPT, { maxNewTokens: NEW_TOKENS })
    const ms = performance.now() - t
    return {
      ms, tokens: r.tokens, roundTrips: 1,
      bytesOut: conn.traffic.bytesOut - before.bytesOut, bytesIn: conn.traffic.bytesIn - before.bytesIn,
      messagesOut: conn.traffic.messagesOut - before.messagesOut, messagesIn: conn.traffic.messagesIn - before.messagesIn,
      extra: { serverMs: r.profile.durationMs, executionMs: r.profile.executionMs, serverOverheadMs: r.profile.durationMs - r.profile.executionMs, clientOverheadMs: ms - r.profile.durationMs, queueMs: r.profile.queueMs, planMs: r.profile.planMs, serializeMs: r.timings.serializeMs, deserializeMs: r.timings.deserializeMs, networkMs: r.timings.networkC2sMs + r.timings.networkS2cMs },
    }
  }
}

const blindRun = async (conn: Connection) => {
  const gpu = await conn.remoteGpu()
  const mem = directMemory(gpu)
  const before = { ...conn.traffic }
  const lm = loadCausalLM(gpu, mem, resolveModel({ modelId: MODEL }), "f32")
  await gpu.finish()
  const setupBytes = conn.traffic.bytesOut - before.bytesOut
  const run = async (): Promise<Sample> => {
    const b = { ...conn.traffic }
    const trips = gpu.stats.roundTrips
    const t = performance.now()
    const { tokens, cache } = await generate(gpu, mem, lm, PROMPT, { maxNewTokens: NEW_TOKENS })
    const ms = performance.now() - t
    for (const x of [...cache.keys, ...cache.values]) mem.release({ buffer: x.buffer, offset: x.offset, size: 0 })
    return {
      ms, tokens, roundTrips: gpu.stats.roundTrips - trips,
      bytesOut: conn.traffic.bytesOut - b.bytesOut, bytesIn: conn.traffic.bytesIn - b.bytesIn,
      messagesOut: conn.traffic.messagesOut - b.messagesOut, messagesIn: conn.traffic.messagesIn - b.messagesIn,
    }
  }
  return { run, setupBytes }
}

const server = args.server === undefined ? await spawnServer(["--preload", MODEL], { env: process.env }) : undefined
const address = args.server ?? server!.address
try {
  const gpu = await openGpu(registry)
  const lm = loadCausalLM(gpu, directMemory(gpu), resolveModel({ modelId: MODEL }), "f32")
  const native = await measure(nativeRun(gpu, lm))
  const nativePooled = await measure(nativePooledRun(gpu, lm))

  const semConn = await connect(address)
  const semantic = await measure(await semanticRun(semConn))

  const blindConn = await connect(address)
  const blind = await blindRun(blindConn)
  const blindSamples = await measure(blind.run)

  const reference = native[0].tokens
  const same = (s: Sample[]) => s.every((x) => x.tokens.length === NEW_TOKENS && x.tokens.every((t, i) => t === reference[i]))
  const summary = (name: string, s: Sample[]) => ({
    mode: name,
    medianMs: median(s.map((x) => x.ms)),
    p95Ms: p95(s.map((x) => x.ms)),
    minMs: Math.min(...s.map((x) => x.ms)),
    bytesOutPerRequest: median(s.map((x) => x.bytesOut)),
    bytesInPerRequest: median(s.map((x) => x.bytesIn)),
    messagesPerRequest: median(s.map((x) => x.messagesOut + x.messagesIn)),
    blockingRoundTrips: median(s.map((x) => x.roundTrips)),
    tokensMatchNative: same(s),
    ...(s[0].extra !== undefined ? { medians: Object.fromEntries(Object.keys(s[0].extra).map((k) => [k, median(s.map((x) => x.extra![k]))])) } : {}),
  })
  const stats = (await semConn.stats()) as unknown as { gpus: Array<{ name: string }> }
  const report = {
    workload: `hf_tiny_gpt2: ${MODEL} (synthetic weights), prompt ${PROMPT.length} + ${NEW_TOKENS} new tokens, f32, batch 1`,
    runs: N,
    clientAdapter: adapterName(gpu.adapter),
    serverAdapter: stats.gpus.map((g) => g.name).join("; "),
    server: args.server === undefined ? "child process, same host (loopback TCP)" : address,
    results: [summary("native", native), summary("native-pooled", nativePooled), summary("semantic", semantic), summary("blind", blindSamples)],
    blindSetupBytes: blind.setupBytes,
  }
  if (args.json) console.log(JSON.stringify(report, null, 2))
  else {
    console.log(`${report.workload}; ${N} runs after 1 warm-up`)
    console.log(`client GPU: ${report.clientAdapter}; server GPU: ${report.serverAdapter}; server: ${report.server}`)
    console.log("mode          median ms   p95 ms   bytes out/req  bytes in/req  msgs/req  waits/req  tokens = native")
    for (const r of report.results) {
      console.log(`${r.mode.padEnd(13)} ${r.medianMs.toFixed(1).padStart(9)} ${r.p95Ms.toFixed(1).padStart(8)} ${String(r.bytesOutPerRequest).padStart(14)} ${String(r.bytesInPerRequest).padStart(13)} ${String(r.messagesPerRequest).padStart(9)} ${String(r.blockingRoundTrips).padStart(10)}  ${r.tokensMatchNative}`)
    }
    const sem = report.results[2] as { medians?: Record<string, number> }
    if (sem.medians !== undefined) console.log(`semantic medians: ${Object.entries(sem.medians).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", ")}`)
    console.log(`blind one-off model upload (weights through writeBuffer): ${report.blindSetupBytes} bytes`)
  }
  semConn.close()
  blindConn.close()
  gpu.destroy()
  if (!report.results.every((r) => r.tokensMatchNative)) process.exitCode = 1
} finally {
  await server?.stop()
}
