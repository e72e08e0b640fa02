import { connect, type Connection } from "@djinn/client"
import {
  encode, encodeParts, FrameDecoder, PROTOCOL_VERSION, decodePayload, type DomainMessage, type MessageBody, type ModelHandle, type RequestId,
  type SessionId,
} from "@djinn/protocol"
import { Result } from "effect"
import { spawn } from "node:child_process"
import { connect as netConnect, type Socket } from "node:net"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { spawnServer, type SpawnedServer } from "../src/index.ts"
import { fixture, golden, waitForStats } from "./helpers.ts"

let server: SpawnedServer
let conn: Connection

beforeAll(async () => {
  server = await spawnServer(["--arena-mb", "1", "--preload", `sshleifer/tiny-gpt2,${fixture("gpt2-mini")}`], { env: process.env })
  conn = await connect(server.address)
})
afterAll(async () => {
  conn?.close()
  await server?.stop()
  // SIGTERM interrupts the server, whose scopes then close (exit 130 is Effect's code for an interrupted main); it
  // never needed SIGKILL.
  expect(server.process.signalCode).toBeNull()
})

/** A raw TCP client speaking frames by hand. */
class Raw {
  readonly socket: Socket
  private readonly decoder = new FrameDecoder()
  private readonly inbox: DomainMessage[] = []
  private waiters: Array<() => void> = []
  closed = false
  constructor(socket: Socket) {
    this.socket = socket
    socket.on("data", (chunk: Buffer) => {
      const frames = this.decoder.push(chunk)
      if (Result.isSuccess(frames)) for (const f of frames.success) {
        const m = decodePayload(f)
        if (Result.isSuccess(m)) this.inbox.push(m.success)
      }
      this.wake()
    })
    socket.on("close", () => { this.closed = true; this.wake() })
    socket.on("error", () => {})
  }
  private wake() { for (const w of this.waiters.splice(0)) w() }
  static open(port: number): Promise<Raw> {
    return new Promise((resolve, reject) => {
      const s = netConnect({ port, host: "127.0.0.1" }, () => resolve(new Raw(s)))
      s.once("error", reject)
    })
  }
  send(requestId: number, body: MessageBody) { this.socket.write(encode({ requestId: requestId as RequestId, body })) }
  async next(): Promise<DomainMessage | undefined> {
    for (;;) {
      const m = this.inbox.shift()
      if (m !== undefined) return m
      if (this.closed) return undefined
      await new Promise<void>((r) => this.waiters.push(r))
    }
  }
  async hello(token?: string, version = PROTOCOL_VERSION) {
    this.send(1, { _tag: "Hello", protocolVersion: version, clientName: "raw", ...(token !== undefined ? { authToken: token } : {}) })
    return this.next()
  }
}

const frame = (length: number, payload: Uint8Array) => {
  const out = new Uint8Array(4 + payload.byteLength)
  new DataView(out.buffer).setUint32(0, length, true)
  out.set(payload, 4)
  return out
}

describe("connections and sessions end cleanly", () => {
  it("a client killed mid-generation leaves no session, no arena and no connection behind", async () => {
    const script = fileURLToPath(new URL("./dying-client.ts", import.meta.url))
    const child = spawn(process.execPath, [script, server.address, "sshleifer/tiny-gpt2", "60"], { env: process.env, stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (c: Buffer) => { out += c; if (out.includes("streaming")) resolve() })
      child.stderr.on("data", (c: Buffer) => { out += c })
      child.once("exit", (code) => reject(new Error(`the client exited (${code}) before streaming:\n${out}`)))
    })
    const during = await conn.stats()
    expect(during.sessions).toHaveLength(1)
    child.kill("SIGKILL")
    const after = await waitForStats(conn, (s) => s.sessions.length === 0 && s.connections.length === 1)
    expect(out).not.toContain("finished")
    expect(after.vmu.data).toMatchObject({ arenas: 0, bytes: 0 })
    expect(after.vmu.stack.used).toBe(0)
    expect(after.models.every((m) => m.refs === 0)).toBe(true)
  })

  it("arena exhaustion is a typed error for that request; other sessions carry on", async () => {
    const model = await conn.ensureModel({ modelDir: fixture("gpt2-mini") })
    const prompt = golden("gpt2-mini").json.input_ids!
    // gpt2-mini keeps 512 bytes of K/V per position: 4 KB holds a few positions, not 8 + 32.
    const small = await conn.openSession({ kvBudgetBytes: 4096 })
    const big = await conn.openSession()
    const [failed, fine] = await Promise.allSettled([
      small.generate(model, prompt, { maxNewTokens: 32 }),
      big.generate(model, prompt, { maxNewTokens: 32 }),
    ])
    expect(failed.status).toBe("rejected")
    expect((failed as PromiseRejectedResult).reason).toMatchObject({ _tag: "ClientError", reason: "Server", code: "outOfMemory", serverReason: "ArenaExhausted" })
    expect((failed as PromiseRejectedResult).reason.message).toMatch(/KV arena has .* free of 4\.0 KB/)
    expect(fine.status).toBe("fulfilled")
    // The small session still serves what fits, and a kept context that outgrows its arena fails the same way.
    expect((await small.generate(model, [1, 2], { maxNewTokens: 2 })).tokens).toHaveLength(2)
    const kept = await conn.openSession({ kvBudgetBytes: 24 * 1024 })
    await kept.generate(model, prompt, { maxNewTokens: 8, keepContext: true })
    let error: unknown
    for (let i = 0; i < 10 && error === undefined; i++) {
      await kept.generate(model, [], { maxNewTokens: 8, keepContext: true }).catch((e) => { error = e })
    }
    expect(error).toMatchObject({ code: "outOfMemory", serverReason: "ArenaExhausted" })
    for (const s of [small, big, kept]) await s.close()
    expect((await conn.stats()).sessions).toHaveLength(0)
  })

  it("requests queued on a session that closes are cancelled", async () => {
    const model = await conn.ensureModel({ modelId: "sshleifer/tiny-gpt2" })
    const session = await conn.openSession()
    const running = session.generate(model, [1, 2, 3], { maxNewTokens: 60 })
    const queued = session.generate(model, [1, 2, 3], { maxNewTokens: 4 })
    const closing = session.close()
    await expect(queued).rejects.toMatchObject({ code: "cancelled" })
    await running.catch(() => undefined) // finishes (GPU work is not abandoned halfway) or is cancelled after it
    await closing
    expect((await conn.stats()).sessions).toHaveLength(0)
  })
})

describe("hostile bytes do not take the server down", () => {
  it("a frame that does not decode is answered with an Error, and the connection keeps working", async () => {
    const raw = await Raw.open(server.port)
    expect((await raw.hello())?.body._tag).toBe("Welcome")
    raw.socket.write(frame(16, new Uint8Array(16).fill(0xab)))
    const reply = await raw.next()
    expect(reply?.body).toMatchObject({ _tag: "Error", code: "protocol" })
    raw.send(7, { _tag: "StatsRequest" })
    expect(await raw.next()).toMatchObject({ requestId: 7, body: { _tag: "StatsReply" } })
    // A request the server cannot act on (a server-only kind) is an Error, not a crash.
    raw.send(8, { _tag: "Ack" })
    expect(await raw.next()).toMatchObject({ requestId: 8, body: { _tag: "Error", code: "badRequest" } })
    raw.socket.destroy()
  })

  it("a frame over the limit breaks the framing: answered, then the connection is closed", async () => {
    const raw = await Raw.open(server.port)
    await raw.hello()
    raw.socket.write(frame(0xffff_fff0, new Uint8Array(8)))
    expect((await raw.next())?.body).toMatchObject({ _tag: "Error", code: "protocol" })
    expect(await raw.next()).toBeUndefined()
  })

  it("a large request written in awkward pieces is read whole (in place), answered, and the connection reads on", async () => {
    const raw = await Raw.open(server.port)
    await raw.hello()
    const data = new Uint8Array(3 * 1024 * 1024 + 12)
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff
    const bytes = Buffer.concat(encodeParts({
      requestId: 5 as RequestId,
      body: {
        _tag: "Forward", sessionId: 999_999 as SessionId, modelHandle: 1 as ModelHandle,
        inputs: [{ name: "input", tensor: { dtype: "u8", shape: [data.length], data } }],
        hints: { phase: "vision", priority: "interactive", expectedTokens: 0, kvBudgetBytes: 0, finalize: true },
        want: { tokens: false, lastLogits: true, refs: false },
      },
    }))
    // Cuts in the length prefix, the segment table, next to the tensor's segment boundary, and big pieces.
    let at = 0
    for (const n of [1, 2, 3, 5, 17, 40, 1, 65_535, 7, 1_000_000, 3, 262_144]) {
      raw.socket.write(bytes.subarray(at, at + n))
      at += n
      await new Promise((r) => setImmediate(r))
    }
    raw.socket.write(bytes.subarray(at))
    expect(await raw.next()).toMatchObject({ requestId: 5, body: { _tag: "Error", code: "notFound" } })
    raw.send(6, { _tag: "StatsRequest" })
    expect(await raw.next()).toMatchObject({ requestId: 6, body: { _tag: "StatsReply" } })
    raw.socket.destroy()
  })

  it("garbage before the handshake, a wrong version, half a frame: each connection ends, the server stays up", async () => {
    const garbage = await Raw.open(server.port)
    garbage.socket.write(frame(12, new Uint8Array(12).fill(7)))
    expect((await garbage.next())?.body).toMatchObject({ _tag: "Error", code: "protocol" })
    expect(await garbage.next()).toBeUndefined()

    const old = await Raw.open(server.port)
    expect((await old.hello(undefined, PROTOCOL_VERSION + 1))?.body).toMatchObject({ _tag: "Error", code: "versionMismatch" })
    expect(await old.next()).toBeUndefined()

    const half = await Raw.open(server.port)
    await half.hello()
    half.socket.write(encode({ requestId: 3 as RequestId, body: { _tag: "StatsRequest" } }).subarray(0, 6))
    half.socket.destroy()

    const after = await connect(server.address)
    const model = await after.ensureModel({ modelId: "sshleifer/tiny-gpt2" })
    const s = await after.openSession()
    expect((await s.generate(model, [5, 6, 7], { maxNewTokens: 3 })).tokens).toHaveLength(3)
    after.close()
    await waitForStats(conn, (st) => st.connections.length === 1)
  })
})

describe("authentication", () => {
  it("a server with a token refuses clients without it", async () => {
    const guarded = await spawnServer(["--auth-token", "s3cret"], { env: process.env })
    try {
      await expect(connect(guarded.address)).rejects.toMatchObject({ code: "unauthorized" })
      await expect(connect(guarded.address, { authToken: "wrong" })).rejects.toMatchObject({ code: "unauthorized" })
      const ok = await connect(guarded.address, { authToken: "s3cret" })
      expect(ok.serverName).toMatch(/djinn/)
      ok.close()
    } finally {
      await guarded.stop()
    }
  })
})
