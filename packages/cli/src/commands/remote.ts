// Remote generation for `djinn generate --server ADDR --mode semantic|blind` (the local path stays in generate.ts).
import { ClientError, connect, type Connection } from "@djinn/client"
import { directMemory, generate as runGenerate, loadCausalLM, type ModelSpec, type ResolvedModel } from "@djinn/engine"
import { GpuError, type DType } from "@djinn/gpu"
import { Effect, Option } from "effect"
import { Flag } from "effect/cli"
import { CliFailure } from "../run-engine.ts"

export const remoteFlags = {
  server: Flag.String("server").pipe(
    Flag.withDescription("djinn server host:port (default with --mode semantic|blind: DJINN_SERVER_ADDRESS, GENIE_SERVER_ADDRESS, localhost:5556)"),
    Flag.optional,
  ),
  mode: Flag.Literals("mode", ["local", "semantic", "blind"]).pipe(
    Flag.withDescription("local GPU; semantic: one Generate request, the loop stays on the server; blind: every GPU call forwarded"),
    Flag.optional,
  ),
} as const

export type RemoteMode = "semantic" | "blind"

/** The remote mode the flags ask for: --mode, or semantic when only --server is given. */
export const remoteMode = (f: { server: Option.Option<string>; mode: Option.Option<"local" | RemoteMode> }): RemoteMode | undefined => {
  const mode = Option.getOrUndefined(f.mode)
  if (mode === "local") return undefined
  return mode ?? (Option.isSome(f.server) ? "semantic" : undefined)
}

const describe = (e: unknown): string =>
  e instanceof ClientError || e instanceof GpuError ? `${e.reason}: ${e.message}` : e instanceof Error ? e.message : String(e)

const withConnection = <A>(server: Option.Option<string>, f: (conn: Connection) => Promise<A>): Effect.Effect<A, CliFailure> =>
  Effect.acquireUseRelease(
    Effect.tryPromise({ try: () => connect(Option.getOrUndefined(server), { env: process.env }), catch: (e) => new CliFailure({ message: describe(e) }) }),
    (conn) => Effect.tryPromise({ try: () => f(conn), catch: (e) => new CliFailure({ message: describe(e) }) }),
    (conn) => Effect.sync(() => conn.close()),
  )

export interface RemoteResult {
  readonly tokens: number[]
  readonly ms: number
  readonly note: string
}

/**
 * Semantic: the model is found on the server by content (uploaded when missing) or loaded there by id, and one
 * Generate runs the loop on the server. Blind: the engine runs here on a RemoteGpu; weights go up as writeBuffers.
 */
export const generateRemote = (
  f: { server: Option.Option<string>; seed: number },
  mode: RemoteMode,
  spec: ModelSpec,
  model: ResolvedModel,
  ids: readonly number[],
  maxNewTokens: number,
  dtype: "auto" | DType,
): Effect.Effect<RemoteResult, CliFailure> =>
  withConnection(f.server, async (conn) => {
    const where = `${conn.address.host}:${conn.address.port}`
    if (mode === "semantic") {
      const remote = await conn.ensureModel(spec.modelDir !== undefined
        ? { modelDir: spec.modelDir }
        : { modelId: f.seed === 0 ? spec.modelId! : `${spec.modelId}?seed=${f.seed}` })
      const session = await conn.openSession()
      const started = performance.now()
      const out = await session.generate(remote, ids, { maxNewTokens })
      const ms = performance.now() - started
      await session.close()
      return { tokens: out.tokens, ms, note: `semantic on ${where}: model ${remote.via}, server ${out.profile.durationMs.toFixed(1)} ms, ${out.timings.bytesOut} B up / ${out.timings.bytesIn} B down` }
    }
    const gpu = await conn.remoteGpu()
    if (dtype === "f16" && !gpu.adapter.f16) throw new CliFailure({ message: `--dtype f16: the server's adapter has no shader-f16` })
    const mem = directMemory(gpu)
    const lm = loadCausalLM(gpu, mem, model, dtype === "auto" ? "f32" : dtype)
    await gpu.finish()
    const before = { ...gpu.stats }
    const started = performance.now()
    const out = await runGenerate(gpu, mem, lm, ids, { maxNewTokens })
    await gpu.checkErrors()
    const ms = performance.now() - started
    return { tokens: out.tokens, ms, note: `blind on ${where}: ${gpu.stats.submits - before.submits} submits, ${gpu.stats.roundTrips - before.roundTrips} round trips, ${gpu.stats.bytesOut - before.bytesOut} B up / ${gpu.stats.bytesIn - before.bytesIn} B down` }
  })
