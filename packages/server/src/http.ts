import { tokenizerFor } from "@djinn/engine"
import type { Hints } from "@djinn/protocol"
import { Cause, Context, Effect, Exit, Fiber, FiberSet, Layer, Result, Schema, Scope } from "effect"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { Settings } from "./config.ts"
import { serverError, toServerError, type ServerError } from "./errors.ts"
import { Inference } from "./inference.ts"
import { Models, type ModelEntry } from "./models.ts"
import { RequestClock } from "./profiler.ts"
import { Sessions } from "./sessions.ts"
import { ServerStats } from "./stats.ts"

const MAX_BODY = 16 * 1024 * 1024

/** POST /v1/completions (OpenAI's legacy completions API, batch 1; `token_ids` per choice is our addition). */
const CompletionRequest = Schema.Struct({
  model: Schema.String,
  prompt: Schema.Union([Schema.String, Schema.Array(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)))]),
  max_tokens: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))),
  stream: Schema.optionalKey(Schema.Boolean),
  temperature: Schema.optionalKey(Schema.Number),
  /** Not OpenAI's: the QoS class of the request (default interactive). */
  priority: Schema.optionalKey(Schema.Literals(["realtime", "interactive", "batch"])),
})
const decodeRequest = Schema.decodeUnknownResult(CompletionRequest)

const STATUS: Partial<Record<ServerError["reason"], number>> = {
  BadRequest: 400, Engine: 400, Unsupported: 400, NotFound: 404, Unauthorized: 401, ArenaExhausted: 507, OutOfMemory: 507, Overloaded: 503, Cancelled: 499,
}

const readBody = (req: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on("data", (c: Buffer) => {
      size += c.byteLength
      if (size > MAX_BODY) {
        reject(serverError("BadRequest", `request body over ${MAX_BODY} bytes`))
        req.destroy()
      } else chunks.push(c)
    })
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    req.on("error", reject)
  })

const json = (res: ServerResponse, status: number, body: unknown): void => {
  const text = JSON.stringify(body)
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) })
  res.end(text)
}

const errorBody = (e: ServerError) => ({ error: { message: e.message, type: e.reason, code: e.reason } })

/**
 * The OpenAI-compatible HTTP endpoint: GET /v1/models and POST /v1/completions (string or token-array prompt,
 * max_tokens, SSE streaming). Each completion is a short-lived session on the same registry, QoS queue and executor
 * as TCP clients; its KV arena is sized to the request.
 */
export class Http extends Context.Service<Http, { readonly port: number | undefined }>()("djinn/server/Http") {
  static readonly layer = Layer.effect(
    Http,
    Effect.gen(function* () {
      const settings = yield* Settings
      if (settings.httpPort === undefined) return Http.of({ port: undefined })
      const models = yield* Models
      const sessions = yield* Sessions
      const inference = yield* Inference
      const stats = yield* ServerStats
      const fork = yield* FiberSet.makeRuntime<never, void, never>()
      const layerScope = yield* Effect.scope
      let nextId = 1

      const findModel = (name: string): ModelEntry | undefined =>
        models.lookup({ id: name, fingerprint: "" }) ??
        models.list().find((m) => m.key.fingerprint === name || String(m.handle) === name)

      const listModels = (res: ServerResponse) =>
        json(res, 200, { object: "list", data: models.list().map((m) => ({ id: m.key.id, object: "model", created: 0, owned_by: "djinn", fingerprint: m.key.fingerprint, handle: m.handle })) })

      const completion = (req: IncomingMessage, res: ServerResponse) => Effect.gen(function* () {
        const text = yield* Effect.tryPromise({ try: () => readBody(req), catch: toServerError })
        const parsedJson = yield* Effect.try({ try: () => JSON.parse(text) as unknown, catch: () => serverError("BadRequest", "the body is not JSON") })
        const decoded = decodeRequest(parsedJson)
        if (Result.isFailure(decoded)) return yield* serverError("BadRequest", decoded.failure.message)
        const body = decoded.success
        if ((body.temperature ?? 0) > 0) return yield* serverError("Unsupported", `temperature ${body.temperature}: greedy decoding (temperature 0) only`)
        const model = findModel(body.model)
        if (model === undefined) return yield* serverError("NotFound", `no model '${body.model}' (GET /v1/models lists them)`)
        const modelType = model.resolved.config.model_type
        const prompt = typeof body.prompt === "string"
          ? yield* Effect.try({ try: () => tokenizerFor(modelType).encode(body.prompt as string), catch: toServerError })
          : [...body.prompt]
        if (prompt.length === 0) return yield* serverError("BadRequest", "the prompt is empty")
        const maxTokens = body.max_tokens ?? 16
        const loaded = yield* models.onGpu(model, 0)
        if (loaded.kind !== "causal-lm") return yield* serverError("Unsupported", `'${body.model}' (${loaded.kind}) is not a causal LM: completions need one`)
        const lm = loaded.model
        const hints: Hints = {
          phase: "auto", priority: body.priority ?? "interactive", expectedTokens: prompt.length + maxTokens, finalize: true,
          kvBudgetBytes: (prompt.length + Math.max(maxTokens, 1)) * lm.kvBytesPerToken() + 64 * 1024,
        }
        const id = `cmpl-${nextId++}`
        const created = Math.floor(Date.now() / 1000)
        const decode = (ids: readonly number[]) => { try { return tokenizerFor(modelType).decode(ids) } catch { return "" } }
        const scope = yield* Scope.fork(layerScope)
        return yield* Effect.gen(function* () {
          const session = yield* sessions.open(`http:${id}`, scope, hints)
          const clock = new RequestClock()
          const stream = body.stream === true
          if (stream) res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" })
          const chunk = (choice: Record<string, unknown>) =>
            res.write(`data: ${JSON.stringify({ id, object: "text_completion", created, model: model.key.id, choices: [{ index: 0, logprobs: null, ...choice }] })}\n\n`)
          const outcome = yield* inference.generate(
            { session, modelHandle: model.handle, inputs: [{ name: "input_ids", tensor: { dtype: "i32", shape: [1, prompt.length], data: new Uint8Array(Int32Array.from(prompt).buffer) } }], hints, want: { tokens: true, lastLogits: false, refs: false } },
            { maxNewTokens: maxTokens, temperature: 0, topK: 0, topP: 1, seed: 0, stopTokens: [], stream },
            clock,
            (_, token) => { chunk({ text: decode([token]), token_ids: [token], finish_reason: null }) },
          )
          const usage = { prompt_tokens: prompt.length, completion_tokens: outcome.tokens.length, total_tokens: prompt.length + outcome.tokens.length }
          if (stream) {
            chunk({ text: "", token_ids: [], finish_reason: "length" })
            res.write(`data: [DONE]\n\n`)
            res.end()
          } else {
            json(res, 200, {
              id, object: "text_completion", created, model: model.key.id,
              choices: [{ index: 0, text: decode(outcome.tokens), token_ids: outcome.tokens, logprobs: null, finish_reason: "length" }],
              usage, djinn: { profile: clock.profile() },
            })
          }
        }).pipe(Effect.ensuring(Scope.close(scope, Exit.void)))
      })

      const route = (req: IncomingMessage, res: ServerResponse) => {
        const url = (req.url ?? "/").split("?")[0]
        const fail = (e: ServerError) => {
          if (res.headersSent) {
            if (!res.writableEnded) res.end(`data: ${JSON.stringify(errorBody(e))}\n\n`)
            return
          }
          json(res, STATUS[e.reason] ?? 500, errorBody(e))
        }
        if (settings.authToken !== undefined && req.headers.authorization !== `Bearer ${settings.authToken}`) {
          return fail(serverError("Unauthorized", "this server needs 'Authorization: Bearer <token>'"))
        }
        if (req.method === "GET" && url === "/v1/models") return listModels(res)
        if (req.method === "POST" && url === "/v1/completions") {
          const fiber = fork(completion(req, res).pipe(
            Effect.catch((e: ServerError) => Effect.sync(() => fail(toServerError(e)))),
            Effect.catchCause((cause) => Effect.sync(() => { if (!Cause.hasInterruptsOnly(cause)) fail(serverError("Internal", String(cause))) })),
          ))
          // A client that goes away mid-stream interrupts its request: a running GPU job finishes (it is
          // uninterruptible), then the session and its arena are freed.
          res.on("close", () => { if (!res.writableFinished) fork(Fiber.interrupt(fiber)) })
          return
        }
        fail(serverError("NotFound", `${req.method} ${url}: the endpoints are GET /v1/models and POST /v1/completions`))
      }

      const server = yield* Effect.acquireRelease(
        Effect.callback<Server, ServerError>((resume) => {
          const server = createServer(route)
          server.once("error", (e) => resume(Effect.fail(serverError("Listen", `cannot listen on ${settings.host}:${settings.httpPort}: ${e.message}`))))
          server.listen(settings.httpPort, settings.host, () => resume(Effect.succeed(server)))
        }),
        (server) => Effect.sync(() => { server.close(); server.closeAllConnections() }),
      )
      const { address, port } = server.address() as AddressInfo
      stats.setAddress("http", `${address}:${port}`)
      return Http.of({ port })
    }),
  )
}
