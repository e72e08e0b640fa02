import { connect } from "@djinn/client"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { spawnServer, type SpawnedServer } from "../src/index.ts"
import { fixture, golden, waitForStats } from "./helpers.ts"

let server: SpawnedServer
let base: string

beforeAll(async () => {
  server = await spawnServer(["--http-port", "0", "--preload", fixture("gpt2-mini")], { env: process.env })
  base = `http://${server.host}:${server.httpPort}`
})
afterAll(async () => {
  await server?.stop()
})

/** The `data:` payloads of an SSE body, in order. */
const events = (body: string): string[] => body.split("\n\n").filter((e) => e.startsWith("data: ")).map((e) => e.slice(6))

describe("OpenAI-compatible HTTP", () => {
  it("GET /v1/models lists the resident models", async () => {
    const r = await fetch(`${base}/v1/models`)
    expect(r.status).toBe(200)
    const body = (await r.json()) as { object: string; data: Array<{ id: string; object: string }> }
    expect(body.object).toBe("list")
    expect(body.data.map((m) => m.id)).toEqual([fixture("gpt2-mini")])
  })

  it("POST /v1/completions streams the same tokens as the semantic client, then [DONE]", async () => {
    const prompt = golden("gpt2-mini").json.input_ids!
    const conn = await connect(server.address)
    const model = await conn.ensureModel({ modelDir: fixture("gpt2-mini") })
    const session = await conn.openSession()
    const expected = (await session.generate(model, prompt, { maxNewTokens: 12 })).tokens
    conn.close()

    const r = await fetch(`${base}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt2-mini", prompt, max_tokens: 12, stream: true }),
    })
    expect(r.status).toBe(200)
    expect(r.headers.get("content-type")).toContain("text/event-stream")
    const data = events(await r.text())
    expect(data.at(-1)).toBe("[DONE]")
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d) as { object: string; choices: Array<{ token_ids: number[]; text: string; finish_reason: string | null }> })
    expect(chunks.every((c) => c.object === "text_completion")).toBe(true)
    expect(chunks.flatMap((c) => c.choices[0].token_ids)).toEqual(expected)
    expect(chunks.at(-1)!.choices[0].finish_reason).toBe("length")

    const whole = await fetch(`${base}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt2-mini", prompt, max_tokens: 12 }),
    })
    const body = (await whole.json()) as { choices: Array<{ token_ids: number[]; text: string }>; usage: { prompt_tokens: number; completion_tokens: number } }
    expect(body.choices[0].token_ids).toEqual(expected)
    expect(typeof body.choices[0].text).toBe("string")
    expect(body.usage).toMatchObject({ prompt_tokens: prompt.length, completion_tokens: 12 })
  })

  it("a client that hangs up mid-stream leaves no session or arena behind", async () => {
    const abort = new AbortController()
    const r = await fetch(`${base}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt2-mini", prompt: [1, 2, 3], max_tokens: 200, stream: true }),
      signal: abort.signal,
    })
    const reader = r.body!.getReader()
    const first = await reader.read()
    expect(new TextDecoder().decode(first.value)).toContain("data: ")
    abort.abort()
    const conn = await connect(server.address)
    await waitForStats(conn, (s) => s.sessions.length === 0 && s.vmu.data.arenas === 0)
    conn.close()
  })

  it("answers bad requests with OpenAI-style errors and leaves no session behind", async () => {
    const post = (body: unknown) => fetch(`${base}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })
    const unknown = await post({ model: "nope", prompt: [1], max_tokens: 1 })
    expect(unknown.status).toBe(404)
    expect(((await unknown.json()) as { error: { message: string } }).error.message).toContain("nope")
    expect((await post({ model: "gpt2-mini", prompt: [1], max_tokens: 1, temperature: 0.7 })).status).toBe(400)
    expect((await post({ prompt: [1] })).status).toBe(400)
    expect((await fetch(`${base}/v1/chat/completions`, { method: "POST", body: "{}" })).status).toBe(404)
    const conn = await connect(server.address)
    await waitForStats(conn, (s) => s.sessions.length === 0 && s.vmu.data.arenas === 0)
    conn.close()
  })
})
