import type { Connection } from "@djinn/client"
import { directMemory, forwardLogits, generate, loadCausalLM, resolveModel, type CausalLM } from "@djinn/engine"
import type { GpuDevice } from "@djinn/gpu"

export { comparableSteps, fixture, golden, relError } from "../../engine/test/fixtures.ts"

/** Polls the server's stats until `done` holds (or fails with the last stats after `timeoutMs`). */
export const waitForStats = async (conn: Connection, done: (s: Stats) => boolean, timeoutMs = 30_000): Promise<Stats> => {
  const until = Date.now() + timeoutMs
  for (;;) {
    const s = (await conn.stats()) as unknown as Stats
    if (done(s)) return s
    if (Date.now() > until) throw new Error(`stats never satisfied the condition: ${JSON.stringify(s, null, 1).slice(0, 4000)}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

export interface Stats {
  sessions: Array<{ id: number; owner: string; gpu: number; arenaBytes: number; contexts: Array<{ model: number; tokens: number }>; refs: number }>
  gpus: Array<{ index: number; name: string; jobs: number }>
  vmu: {
    sessions: number
    models: number
    text: { bytes: number }
    data: { bytes: number; used: number; arenas: number }
    stack: { bytes: number; used: number }
    refs: { bytes: number; count: number }
    gpus: Array<{ blind: { namespaces: number } }>
  }
  models: Array<{ handle: number; id: string; fingerprint: string; refs: number; loads: number; paramBytes: number; source: string; gpus: Array<{ gpu: number }> }>
  connections: Array<{ id: string; sessions: number; blind: boolean }>
  planner: { hits: number; misses: number }
}

/** The engine in this process: the reference every remote mode must match token for token. */
export class Native {
  private readonly models = new Map<string, CausalLM>()
  private readonly gpu: GpuDevice
  constructor(gpu: GpuDevice) {
    this.gpu = gpu
  }
  private lm(dir: string): CausalLM {
    let lm = this.models.get(dir)
    if (lm === undefined) this.models.set(dir, (lm = loadCausalLM(this.gpu, directMemory(this.gpu), resolveModel({ modelDir: dir }), "f32")))
    return lm
  }
  async generate(dir: string, prompt: readonly number[], maxNewTokens: number): Promise<number[]> {
    return (await generate(this.gpu, directMemory(this.gpu), this.lm(dir), prompt, { maxNewTokens })).tokens
  }
  async logits(dir: string, prompt: readonly number[]): Promise<Float32Array> {
    return forwardLogits(this.gpu, directMemory(this.gpu), this.lm(dir), prompt)
  }
}
