import { connect, type Connection, type RemoteGpu } from "@djinn/client"
import { directMemory, generate, loadCausalLM, resolveModel } from "@djinn/engine"
import { openGpu, type GpuDevice } from "@djinn/gpu"
import { registry } from "@djinn/kernels"
import { spawnServer, type SpawnedServer } from "@djinn/server"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { comparableSteps, fixture, golden } from "../../engine/test/fixtures.ts"

let server: SpawnedServer
let conn: Connection
let remote: RemoteGpu
let local: GpuDevice

beforeAll(async () => {
  server = await spawnServer(["--arena-mb", "4"], { env: process.env })
  conn = await connect(server.address)
  remote = await conn.remoteGpu()
  local = await openGpu(registry)
})
afterAll(async () => {
  conn?.close()
  await server?.stop()
  local?.destroy()
})

const run = async (gpu: GpuDevice, name: string, prompt: readonly number[], maxNewTokens: number, fused = true, streamEvery?: number) => {
  const mem = directMemory(gpu)
  const lm = loadCausalLM(gpu, mem, resolveModel({ modelDir: fixture(name) }), "f32")
  const streamed: number[] = []
  const out = await generate(gpu, mem, lm, prompt, { maxNewTokens, fused, ...(streamEvery !== undefined ? { streamEvery, onTokens: (t: readonly number[]) => streamed.push(...t) } : {}) })
  return { tokens: out.tokens, streamed }
}

describe("blind mode: the unchanged engine on a RemoteGpu", () => {
  it("mirrors the server's adapter", () => {
    expect(remote.adapter.limits.maxBufferSize).toBeGreaterThan(0)
    expect(typeof remote.adapter.f16).toBe("boolean")
  })

  for (const name of ["gpt2-tiny", "gpt2-mini"]) {
    it(`${name}: generation gives exactly the local tokens`, async () => {
      const g = golden(name)
      const prompt = g.json.input_ids!
      const before = { ...remote.stats }
      const blind = await run(remote, name, prompt, 32)
      const native = await run(local, name, prompt, 32)
      expect(blind.tokens).toEqual(native.tokens)
      const n = comparableSteps(g.json.greedy_margins!, 1e-4)
      expect(blind.tokens.slice(0, n)).toEqual(g.json.greedy_32!.slice(0, n))
      // Weights went over the wire; the prefill and the fused decode (one dispatch for 31 tokens) were GpuSubmits.
      expect(remote.stats.bytesOut - before.bytesOut).toBeGreaterThan(100_000)
      expect(remote.stats.submits - before.submits).toBeGreaterThanOrEqual(2)
      // One step per token: every step a GpuSubmit, the same tokens.
      const mid = { ...remote.stats }
      const stepwise = await run(remote, name, prompt, 32, false)
      expect(stepwise.tokens).toEqual(native.tokens)
      expect(remote.stats.submits - mid.submits).toBeGreaterThanOrEqual(32)
    })
  }

  it("streaming reads (a round trip each) give the same tokens", async () => {
    const prompt = golden("gpt2-mini").json.input_ids!
    const roundTrips = remote.stats.roundTrips
    const blind = await run(remote, "gpt2-mini", prompt, 12, true, 4)
    expect(blind.streamed).toEqual(blind.tokens)
    expect(blind.tokens).toEqual((await run(local, "gpt2-mini", prompt, 12)).tokens)
    expect(remote.stats.roundTrips - roundTrips).toBeGreaterThanOrEqual(4)
  })

  it("finish() reports the GPU time and raises errors of earlier submits", async () => {
    const timing = await remote.finish()
    expect(timing.gpuMs).toBeGreaterThanOrEqual(0)
    const b = remote.createBuffer(64)
    remote.writeBuffer(b, 0, new Uint8Array(64).fill(9))
    expect(Array.from(await remote.read(b, 8, 8))).toEqual([9, 9, 9, 9, 9, 9, 9, 9])
    remote.pipeline("no-such-kernel")
    remote.submit()
    await expect(remote.finish()).rejects.toMatchObject({ _tag: "GpuError" })
    // The namespace still works after the error.
    expect(Array.from(await remote.read(b, 0, 4))).toEqual([9, 9, 9, 9])
    remote.destroyBuffer(b)
  })

  it("a connection's blind namespace is freed when it closes", async () => {
    const other = await connect(server.address)
    const gpu = await other.remoteGpu()
    const b = gpu.createBuffer(1 << 20)
    gpu.writeBuffer(b, 0, new Uint8Array(1 << 20).fill(1))
    await gpu.finish()
    const stats = await conn.stats() as unknown as { vmu: { gpus: Array<{ blind: { namespaces: number } }> } }
    expect(stats.vmu.gpus[0].blind.namespaces).toBe(2)
    other.close()
    for (let i = 0; i < 100; i++) {
      const s = await conn.stats() as unknown as { vmu: { gpus: Array<{ blind: { namespaces: number } }> } }
      if (s.vmu.gpus[0].blind.namespaces === 1) return
      await new Promise((r) => setTimeout(r, 50))
    }
    throw new Error("the closed connection's namespace was not freed")
  })
})
