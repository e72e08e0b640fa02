// `native`: the engine on the local GPU in a dedicated child process (harness/src/workers/native-worker.ts), no
// network. The worker times the engine call itself, so the JSON-lines hop over stdio is not part of the latency.
import { programPath } from "../../programs.ts"
import { Effect, Layer } from "effect"
import type { HostInfo } from "../../engine/host.ts"
import { outputFromJson, type WorkOutputJson } from "../../engine/work.ts"
import { adapterEnvironment } from "../adapter.ts"
import { Baseline, type Job, makeBaseline } from "../baseline.ts"
import { spawnChild } from "../child.ts"
import { baselineError } from "../errors.ts"
import type { Baseline as BaselineConfig } from "../../config.ts"

type Reply = { ok: true; info?: HostInfo; ms?: number; output?: WorkOutputJson } | { ok: false; error: string }

const expectOk = (label: string) => (reply: unknown) =>
  (reply as Reply).ok === true
    ? Effect.succeed(reply as Extract<Reply, { ok: true }>)
    : Effect.fail(baselineError("Run", `${label}: ${(reply as { error?: string }).error ?? JSON.stringify(reply)}`))

export const workerPath = (job: Job) => programPath(job.repoRoot, "native-worker")

export const makeNative = (config: BaselineConfig, job: Job) =>
  makeBaseline(
    config.name,
    job,
    Effect.gen(function*() {
      if (config.type === "native" && config.engine === "tfjs") {
        return yield* baselineError("Unavailable", "engine tfjs: the TensorFlow.js path is not built in this repository yet")
      }
      const worker = yield* spawnChild({
        label: `${config.name} worker`,
        command: job.node,
        args: [workerPath(job)],
        cwd: job.repoRoot,
        env: { DJINN_SWEEP_ID: job.sweepId },
      })
      const reply = yield* worker.request({ op: "setup", job: job.model }, 300_000).pipe(
        Effect.flatMap(expectOk(`${config.name} setup`)),
        Effect.mapError((e) => baselineError(/Unsupported/.test(e.message) ? "Unavailable" : "Setup", e.message)),
      )
      const info = reply.info!
      return { state: worker, info: { environment: adapterEnvironment(info.adapter, { "engine.dtype": info.dtype }) } }
    }),
    (worker, request) =>
      worker.request({ op: "run", input: request.input }).pipe(
        Effect.flatMap(expectOk(config.name)),
        Effect.map((r) => ({ latencyMs: r.ms!, inputBytes: null, outputBytes: null, output: outputFromJson(r.output!) })),
      ),
  )

export const nativeLayer = (config: BaselineConfig, job: Job) => Layer.effect(Baseline, makeNative(config, job))
