import { connect } from "@djinn/client"
import { describe, expect, it } from "vitest"
import { spawnServer } from "../src/index.ts"
import { fixture, golden, type Stats } from "./helpers.ts"

describe("placement over several GPUs", () => {
  it("spreads sessions over GPUs, loads a model once per GPU, and gives the same tokens on each", async () => {
    // Two devices on the one lavapipe adapter stand in for two GPUs.
    const server = await spawnServer(["--adapter", "llvmpipe,llvmpipe", "--arena-mb", "2", "--preload", fixture("gpt2-mini")], { env: process.env })
    try {
      const conn = await connect(server.address)
      const model = await conn.ensureModel({ modelDir: fixture("gpt2-mini") })
      const sessions = await Promise.all([0, 1, 2, 3].map(() => conn.openSession()))
      const prompt = golden("gpt2-mini").json.input_ids!
      const outs = await Promise.all(sessions.map((s) => s.generate(model, prompt, { maxNewTokens: 8 })))
      for (const o of outs) expect(o.tokens).toEqual(golden("gpt2-mini").json.greedy_32!.slice(0, 8))
      const stats = (await conn.stats()) as unknown as Stats
      expect(stats.sessions.map((s) => s.gpu).sort()).toEqual([0, 0, 1, 1])
      expect(stats.models[0]).toMatchObject({ loads: 2, refs: 4 })
      expect(stats.models[0].gpus).toHaveLength(2)
      expect(stats.gpus.map((g) => g.jobs)).toEqual([2, 2])
      conn.close()
    } finally {
      await server.stop()
    }
  })
})
