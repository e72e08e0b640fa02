// `vllm`: an OpenAI-compatible serving endpoint, driven as vLLM's own benchmark client does — POST /v1/completions
// with the prompt as token ids, greedy, `stream: true`, reading server-sent events until [DONE]. It points at any such
// endpoint (`endpoint` in the config); without one, at the OpenAI-compatible HTTP port of a Djinn server the harness
// starts. Bytes are the socket's own counters (HTTP headers included); (de)serialization is JSON encode/parse time.
// The API reports no server breakdown. Token ids come from each chunk's `token_ids` where the server sends them
// (djinn does); a text-only endpoint's runs are recorded but not compared with native.
import { Agent, request as httpRequest } from "node:http"
import { request as httpsRequest } from "node:https"
import { Effect, Layer, type Scope } from "effect"
import type { Baseline as BaselineConfig } from "../../config.ts"
import type { WorkInput, WorkOutput } from "../../engine/work.ts"
import { Baseline, type Job, makeBaseline, type Measured, type SetupInfo } from "../baseline.ts"
import { djinnServer } from "../djinn-server.ts"
import { baselineError, type BaselineError } from "../errors.ts"

interface Endpoint {
  readonly url: URL
  readonly model: string
  readonly agent: Agent
}

interface HttpResult {
  readonly status: number
  readonly body: string
  readonly bytesOut: number
  readonly bytesIn: number
  readonly parseMs: number
  readonly events: ReadonlyArray<unknown>
}

/** One HTTP exchange on a kept-alive connection; SSE bodies are parsed as they arrive (that time is measured). */
const exchange = (ep: Endpoint, method: "GET" | "POST", path: string, body: string | undefined): Promise<HttpResult> =>
  new Promise((resolve, reject) => {
    const url = new URL(path.replace(/^\//, ""), ep.url.href.endsWith("/") ? ep.url : new URL(`${ep.url.href}/`))
    const send = url.protocol === "https:" ? httpsRequest : httpRequest
    const req = send(url, {
      method,
      agent: url.protocol === "https:" ? undefined : ep.agent,
      headers: body === undefined ? {} : { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
    })
    let startOut = 0, startIn = 0
    req.on("socket", (s) => {
      startOut = s.bytesWritten
      startIn = s.bytesRead
    })
    req.on("error", reject)
    req.on("response", (res) => {
      let text = ""
      let parseMs = 0
      const events: Array<unknown> = []
      let buffered = ""
      res.setEncoding("utf8")
      res.on("data", (chunk: string) => {
        text += chunk
        if (!(res.headers["content-type"] ?? "").includes("text/event-stream")) return
        buffered += chunk
        let cut: number
        while ((cut = buffered.indexOf("\n\n")) >= 0) {
          const event = buffered.slice(0, cut)
          buffered = buffered.slice(cut + 2)
          for (const line of event.split("\n")) {
            if (!line.startsWith("data: ")) continue
            const data = line.slice(6).trim()
            if (data === "[DONE]") continue
            const t = performance.now()
            try {
              events.push(JSON.parse(data))
            } catch {
              events.push({ unparsable: data })
            }
            parseMs += performance.now() - t
          }
        }
      })
      res.on("end", () => {
        const s = req.socket
        resolve({ status: res.statusCode ?? 0, body: text, bytesOut: (s?.bytesWritten ?? 0) - startOut, bytesIn: (s?.bytesRead ?? 0) - startIn, parseMs, events })
      })
      res.on("error", reject)
    })
    req.end(body)
  })

const describe = (e: unknown) => (e as { message?: string }).message ?? String(e)

/** The served model: the config's `served_model`, else the only (first) model the endpoint lists. */
const servedModel = (config: BaselineConfig, ep: Omit<Endpoint, "model">) =>
  Effect.tryPromise({
    try: () => exchange({ ...ep, model: "" }, "GET", "models", undefined),
    catch: (e) => baselineError("Unavailable", `no endpoint at ${ep.url.href}: ${describe(e)}`),
  }).pipe(Effect.flatMap((r) => {
    if (config.type === "vllm" && config.served_model !== undefined) return Effect.succeed(config.served_model)
    const first = r.status === 200 ? (JSON.parse(r.body) as { data?: Array<{ id: string }> }).data?.[0]?.id : undefined
    return first === undefined
      ? Effect.fail(baselineError("Setup", `${ep.url.href}/models lists no model (HTTP ${r.status})`))
      : Effect.succeed(first)
  }))

const setup = (config: BaselineConfig, job: Job): Effect.Effect<{ readonly state: Endpoint; readonly info: SetupInfo }, BaselineError, Scope.Scope> =>
  Effect.gen(function*() {
    if (job.workload.implementation !== "hf_causal_lm") {
      return yield* baselineError("Unavailable", `an OpenAI completions endpoint has no encoder or vision API (this workload is ${job.workload.implementation}): only generating workloads apply`)
    }
    if (job.workload.params.new_tokens === 0) {
      return yield* baselineError("Unavailable", "a completions endpoint returns tokens, not logits: only generating workloads apply")
    }
    const configured = config.type === "vllm" ? config.endpoint : undefined
    const base = configured !== undefined
      ? configured
      : yield* djinnServer(config, job, { http: true, preload: true }).pipe(Effect.map((s) => `http://127.0.0.1:${s.httpPort}/v1`))
    const agent = yield* Effect.acquireRelease(Effect.sync(() => new Agent({ keepAlive: true, maxSockets: 1 })), (a) => Effect.sync(() => a.destroy()))
    const url = new URL(base)
    const model = yield* servedModel(config, { url, agent })
    return { state: { url, model, agent }, info: { environment: { packages: { endpoint: base, served_model: model } } } }
  })

const run = (config: BaselineConfig, ep: Endpoint, input: WorkInput) =>
  Effect.gen(function*() {
    if (input.kind !== "generate") return yield* baselineError("Run", "only generation runs on a completions endpoint")
    const started = performance.now()
    const body = JSON.stringify({ model: ep.model, prompt: input.ids, max_tokens: input.newTokens, temperature: 0, stream: true })
    const serializeMs = performance.now() - started
    const r = yield* Effect.tryPromise({ try: () => exchange(ep, "POST", "completions", body), catch: (e) => baselineError("Run", `${config.name}: ${describe(e)}`) })
    const latencyMs = performance.now() - started
    if (r.status !== 200) return yield* baselineError("Run", `${config.name}: HTTP ${r.status}: ${r.body.slice(0, 300)}`)
    const failed = r.events.find((e) => (e as { error?: unknown }).error !== undefined)
    if (failed !== undefined) return yield* baselineError("Run", `${config.name}: ${JSON.stringify(failed).slice(0, 300)}`)
    const choices = r.events.map((e) => (e as { choices?: Array<{ token_ids?: Array<number>; text?: string }> }).choices?.[0])
    const withIds = choices.every((c) => Array.isArray(c?.token_ids))
    const output: WorkOutput = withIds
      ? { kind: "tokens", tokens: choices.flatMap((c) => c!.token_ids!) }
      : { kind: "text", text: choices.map((c) => c?.text ?? "").join("") }
    return {
      latencyMs,
      inputBytes: r.bytesOut,
      outputBytes: r.bytesIn,
      breakdown: { client_serialize_ms: serializeMs, client_deserialize_ms: r.parseMs },
      roundTrips: 1,
      output,
    } satisfies Measured
  })

export const makeVllm = (config: BaselineConfig, job: Job) => makeBaseline(config.name, job, setup(config, job), (ep, request) => run(config, ep, request.input))

export const vllmLayer = (config: BaselineConfig, job: Job) => Layer.effect(Baseline, makeVllm(config, job))
