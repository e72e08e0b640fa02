// Where the remote baselines find a Djinn server: at the address the config or environment names, or one the harness
// starts for the baseline (`node packages/server/src/main.ts --port 0 --preload <model>`) and stops after it.
import { programPath } from "../programs.ts"
import { findKnownModel, resolveModel } from "@djinn/engine"
import { Effect, Result, Scope } from "effect"
import { type Baseline as BaselineConfig, resolveServerAddress } from "../config.ts"
import type { Job } from "./baseline.ts"
import { spawnChild } from "./child.ts"
import { baselineError, type BaselineError } from "./errors.ts"

/** The model as a Djinn server and client name it: a checkpoint folder, or a known id with its seed. */
export type DjinnModel = { readonly modelDir: string } | { readonly modelId: string }

export interface DjinnEndpoint {
  readonly host: string
  readonly port: number
  /** The OpenAI-compatible HTTP port, when the server was started with one. */
  readonly httpPort: number | undefined
  /** The model the server holds for us (null for blind clients, which upload their own weights). */
  readonly model: DjinnModel | null
  /** Started by the harness (true) or found at a configured address. */
  readonly launched: boolean
}

/** A synthetic model's config agrees with a known model's when every key it sets has the known value. */
const sameShape = (mine: Record<string, unknown>, known: Record<string, unknown>) =>
  Object.entries(mine).every(([k, v]) => JSON.stringify(known[k]) === JSON.stringify(v))

/**
 * The model for a Djinn server: a checkpoint folder (the workload's, or synthetic weights exported once), else — when
 * the model is too large to export — the engine's known id with the seed, if its config is the workload's shape.
 */
export const djinnModel = (job: Job): Effect.Effect<DjinnModel, BaselineError> =>
  Effect.gen(function*() {
    const exported = yield* Effect.result(job.checkpointDir)
    if (Result.isSuccess(exported)) return { modelDir: exported.success }
    const source = job.model.model
    if (source.kind === "synthetic" && findKnownModel(source.id) !== undefined) {
      const known = resolveModel({ modelId: source.id, seed: source.seed })
      if (sameShape(source.config, known.config)) return { modelId: `${source.id}?seed=${source.seed}` }
    }
    return yield* exported.failure
  })

const LISTENING = /djinn server listening on (\S+):(\d+)(?: \(http \S+:(\d+)\))?/

/** The server for a remote baseline: the configured address if one is set, else a fresh server of our own. */
export const djinnServer = (
  config: BaselineConfig,
  job: Job,
  options: { readonly http: boolean; readonly preload: boolean },
): Effect.Effect<DjinnEndpoint, BaselineError, Scope.Scope> =>
  Effect.gen(function*() {
    const model = options.preload ? yield* djinnModel(job) : null
    const address = yield* resolveServerAddress(job.loaded, job.env, config).pipe(Effect.mapError((e) => baselineError("Setup", e.message)))
    if (address.source !== "default" && !options.http) {
      return { host: address.host, port: address.port, httpPort: undefined, model, launched: false }
    }
    const preload = model === null ? [] : ["--preload", "modelDir" in model ? model.modelDir : model.modelId]
    const server = yield* spawnChild({
      label: `${config.name}: djinn server`,
      command: job.node,
      args: [
        "--import", programPath(job.repoRoot, "exit-with-parent"),
        programPath(job.repoRoot, "server"),
        "--host", "127.0.0.1",
        "--port", "0",
        ...(options.http ? ["--http-port", "0"] : []),
        ...preload,
        "--dtype", job.model.dtype === "float16" ? "f16" : "f32",
        ...(job.workload.session_arena_mb === undefined ? [] : ["--arena-mb", String(job.workload.session_arena_mb)]),
      ],
      cwd: job.repoRoot,
      env: { DJINN_SWEEP_ID: job.sweepId },
    })
    const m = yield* server.waitForLine(LISTENING, 300_000)
    return { host: m[1], port: Number(m[2]), httpPort: m[3] === undefined ? undefined : Number(m[3]), model, launched: true }
  })
