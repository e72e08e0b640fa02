import { connect, type Connection } from "@djinn/client"
import { f16ToF32, openGpu, type GpuDevice } from "@djinn/gpu"
import { registry } from "@djinn/kernels"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { spawnServer, type SpawnedServer } from "../src/index.ts"
import { comparableSteps, fixture, golden, Native, relError, waitForStats, type Stats } from "./helpers.ts"

let server: SpawnedServer
let conn: Connection
let gpu: GpuDevice
let native: Native

beforeAll(async () => {
  // gpt2-mini is preloaded; gpt2-tiny is uploaded by the client (RegisterModel + chunks + CommitModel).
  server = await spawnServer(["--arena-mb", "8", "--preload", fixture("gpt2-mini")], { env: process.env })
  conn = await connect(server.address)
  gpu = await openGpu(registry)
  native = new Native(gpu)
})
afterAll(async () => {
  conn?.close()
  await server?.stop()
  gpu?.destroy()
})

describe("semantic mode over TCP (server in a child process)", () => {
  for (const name of ["gpt2-tiny", "gpt2-mini"]) {
    it(`${name}: generate streams and returns native's tokens`, async () => {
      const g = golden(name)
      const prompt = g.json.input_ids!
      const model = await conn.ensureModel({ modelDir: fixture(name) })
      expect(model.via).toBe(name === "gpt2-mini" ? "found" : "uploaded")
      const session = await conn.openSession()
      const streamed: number[] = []
      const out = await session.generate(model, prompt, { maxNewTokens: 32, onToken: (t, i) => { expect(i).toBe(streamed.length); streamed.push(t) } })
      expect(out.tokens).toEqual(await native.generate(fixture(name), prompt, 32))
      expect(streamed).toEqual(out.tokens)
      const n = comparableSteps(g.json.greedy_margins!, 1e-4)
      expect(out.tokens.slice(0, n)).toEqual(g.json.greedy_32!.slice(0, n))
      // Every reply carries the server's phase times; every call the client's own.
      for (const v of Object.values(out.profile)) expect(v).toBeGreaterThanOrEqual(0)
      expect(out.profile.durationMs).toBeGreaterThanOrEqual(out.profile.executionMs)
      expect(out.timings.bytesOut).toBeGreaterThan(0)
      expect(out.timings.bytesIn).toBeGreaterThan(0)
      expect(out.timings.roundTripMs).toBeGreaterThanOrEqual(out.timings.serverMs)
      await session.close()
    })
  }

  it("a kept context continues where it stopped: 8 + 8 tokens equal 16 in one go", async () => {
    const prompt = golden("gpt2-mini").json.input_ids!
    const model = await conn.ensureModel({ modelDir: fixture("gpt2-mini") })
    const session = await conn.openSession()
    const a = await session.generate(model, prompt, { maxNewTokens: 8, keepContext: true })
    const b = await session.generate(model, [], { maxNewTokens: 8, keepContext: true })
    expect([...a.tokens, ...b.tokens]).toEqual(await native.generate(fixture("gpt2-mini"), prompt, 16))
    const stats = (await conn.stats()) as unknown as Stats
    const mine = stats.sessions.find((s) => s.id === session.id)!
    expect(mine.contexts).toEqual([{ model: model.handle, tokens: prompt.length + 16, capacity: expect.any(Number) }])
    // A request without keepContext finalizes the context: it continues it, then the context is dropped…
    const c = await session.generate(model, [], { maxNewTokens: 4 })
    expect(c.tokens).toEqual((await native.generate(fixture("gpt2-mini"), prompt, 20)).slice(16))
    const after = (await conn.stats()) as unknown as Stats
    expect(after.sessions.find((s) => s.id === session.id)!.contexts).toEqual([])
    // …so the next one stands alone.
    const d = await session.generate(model, prompt, { maxNewTokens: 4 })
    expect(d.tokens).toEqual(a.tokens.slice(0, 4))
    await session.close()
  })

  it("forward keeps the logits on the server as a ref; fetch gives native's logits; free releases it", async () => {
    const prompt = golden("gpt2-mini").json.input_ids!
    const model = await conn.ensureModel({ modelDir: fixture("gpt2-mini") })
    const session = await conn.openSession()
    const r = await session.forward(model, prompt)
    expect(r.refs).toHaveLength(1)
    const [ref] = r.refs
    expect(ref.shape).toEqual([prompt.length, 4096])
    expect(ref.byteSize).toBe(prompt.length * 4096 * 4)
    expect(r.timings.bytesIn).toBeLessThan(1024) // the logits did not travel
    const logits = await ref.fetchFloat32()
    expect(relError(logits, await native.logits(fixture("gpt2-mini"), prompt))).toBeLessThan(1e-6)
    expect(((await conn.stats()) as unknown as Stats).vmu.refs.count).toBe(1)
    await ref.free()
    expect(((await conn.stats()) as unknown as Stats).vmu.refs.count).toBe(0)
    await expect(ref.fetch()).rejects.toMatchObject({ _tag: "ClientError", code: "notFound" })
    // lastLogits inline, and the greedy token of the last position.
    const inline = await session.forward(model, prompt, { want: { refs: false, lastLogits: true, tokens: true } })
    expect(inline.refs).toEqual([])
    expect(inline.lastLogits!.shape).toEqual([1, 4096])
    expect(inline.tokens).toEqual([golden("gpt2-mini").json.greedy_32![0]])
    // Without a ref the LM head runs on the last row only: native's last row all the same.
    const t = inline.lastLogits!
    const lastRow = t.dtype === "f16" ? f16ToF32(new Uint16Array(new Uint8Array(t.data).buffer)) : new Float32Array(new Uint8Array(t.data).buffer)
    expect(relError(lastRow, logits.subarray(logits.length - 4096))).toBeLessThan(t.dtype === "f16" ? 1e-2 : 1e-6)
    await session.close()
  })

  it("generate with lastLogits returns the last step's logits (the fused decode leaves the last token per op)", async () => {
    const prompt = golden("gpt2-mini").json.input_ids!
    const model = await conn.ensureModel({ modelDir: fixture("gpt2-mini") })
    const session = await conn.openSession()
    const r = await session.generate(model, prompt, { maxNewTokens: 6, want: { tokens: true, lastLogits: true, refs: false } })
    expect(r.tokens).toEqual(await native.generate(fixture("gpt2-mini"), prompt, 6))
    // The logits that chose the 6th token: the last row of a forward over the prompt and the first five tokens.
    const all = await native.logits(fixture("gpt2-mini"), [...prompt, ...r.tokens.slice(0, 5)])
    const want = all.subarray(all.length - 4096)
    const got = r.lastLogits!
    expect(got.shape).toEqual([1, 4096])
    const values = got.dtype === "f16" ? f16ToF32(new Uint16Array(new Uint8Array(got.data).buffer)) : new Float32Array(new Uint8Array(got.data).buffer)
    expect(relError(values, want)).toBeLessThan(got.dtype === "f16" ? 1e-2 : 1e-4)
    await session.close()
  })

  it("two sessions on one model share its weights: loaded once, two references, text bytes unchanged", async () => {
    const model = await conn.ensureModel({ modelDir: fixture("gpt2-mini") })
    const before = (await conn.stats()) as unknown as Stats
    const [s1, s2] = await Promise.all([conn.openSession(), conn.openSession()])
    const prompt = golden("gpt2-mini").json.input_ids!
    const [a, b] = await Promise.all([
      s1.generate(model, prompt, { maxNewTokens: 6 }),
      s2.generate(model, prompt, { maxNewTokens: 6 }),
    ])
    expect(a.tokens).toEqual(b.tokens)
    const during = (await conn.stats()) as unknown as Stats
    const entry = during.models.find((m) => m.handle === model.handle)!
    expect(entry.loads).toBe(1)
    expect(entry.refs).toBe(2)
    expect(during.vmu.text.bytes).toBe(before.vmu.text.bytes)
    expect(during.vmu.data.arenas).toBe(before.vmu.data.arenas + 2)
    // Uploading the same content from another connection finds it: nothing is sent, nothing loaded.
    const other = await connect(server.address)
    const again = await other.ensureModel({ modelDir: fixture("gpt2-mini"), name: "another-name" })
    expect(again.via).toBe("found")
    expect(again.handle).toBe(model.handle)
    other.close()
    await s1.close()
    await s2.close()
    const after = await waitForStats(conn, (s) => s.models.find((m) => m.handle === model.handle)!.refs === 0)
    expect(after.vmu.data.arenas).toBe(before.vmu.data.arenas)
  })
})
