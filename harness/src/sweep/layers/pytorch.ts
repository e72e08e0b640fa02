// `native_pytorch` and `pytorch_rpc`: the real PyTorch peers (harness/python/*.py), run where `python -c "import
// torch, transformers"` works and skipped with the import error otherwise. They load the same checkpoint the engine
// runs — for synthetic weights, the tensors the engine's `syntheticWeights(seed)` gives, exported once to a folder —
// so their tokens are compared with native's (values within a tolerance): causal LMs, BERT (`BertModel`) and ResNet
// (`ResNetForImageClassification`; the export writes HF names). A model too large to export is built from its config
// with torch's seeded init; its outputs are then recorded as not comparable.
import { execFile } from "node:child_process"
import { Effect, Layer, Result, type Scope } from "effect"
import type { Baseline as BaselineConfig } from "../../config.ts"
import { outputFromJson, type WorkOutputJson } from "../../engine/work.ts"
import { Baseline, type Job, makeBaseline, type Measured, type SetupInfo } from "../baseline.ts"
import { type Child, spawnChild } from "../child.ts"
import { baselineError, type BaselineError } from "../errors.ts"

type PyConfig = Extract<BaselineConfig, { type: "native_pytorch" | "pytorch_rpc" }>

/** Whether this Python has torch and transformers; the error line when it has not. */
const probe = (python: string) =>
  Effect.callback<Record<string, string>, BaselineError>((resume) => {
    const code = "import json, sys, torch, transformers; print(json.dumps({'python': sys.version.split()[0], 'torch': torch.__version__, 'transformers': transformers.__version__, 'cuda': str(torch.cuda.is_available())}))"
    const child = execFile(python, ["-c", code], { timeout: 120_000 }, (err, stdout, stderr) => {
      if (err === null) return resume(Effect.succeed(JSON.parse(stdout.trim().split("\n").at(-1)!) as Record<string, string>))
      const why = stderr.trim().split("\n").filter((l) => l.trim() !== "").at(-1) ?? err.message
      resume(Effect.fail(baselineError("Unavailable", `${python} cannot import torch and transformers here (${why})`)))
    })
    return Effect.sync(() => void child.kill("SIGKILL")) // interrupted (Ctrl-C): the probe goes too
  })

type Reply = { ok: true; info?: Record<string, unknown>; ms?: number; output?: WorkOutputJson; server_ms?: number; engine_ms?: number; bytes_out?: number; bytes_in?: number } | { ok: false; error: string }

interface State {
  readonly worker: Child
  readonly comparable: boolean
}

const setup = (config: PyConfig, job: Job): Effect.Effect<{ readonly state: State; readonly info: SetupInfo }, BaselineError, Scope.Scope> =>
  Effect.gen(function*() {
    const versions = yield* probe(config.python)
    const dir = yield* Effect.result(job.checkpointDir)
    const source = job.model.model
    const spec = Result.isSuccess(dir)
      ? { dir: dir.success, seed: job.experiment.seed, dtype: job.model.dtype, device: config.device }
      : source.kind === "synthetic"
      ? { config: source.config, seed: source.seed, dtype: job.model.dtype, device: config.device }
      : yield* dir.failure
    const script = `${job.repoRoot}/harness/python/${config.type}.py`
    const args = config.type === "pytorch_rpc" ? [script, "--master-addr", config.master_addr, "--master-port", String(config.master_port)] : [script]
    const worker = yield* spawnChild({ label: `${config.name} (python)`, command: config.python, args, cwd: job.repoRoot, env: { DJINN_SWEEP_ID: job.sweepId, PYTHONUNBUFFERED: "1" }, graceMs: 5000 })
    const reply = (yield* worker.request({ op: "setup", spec }, 1_800_000)) as Reply
    if (!reply.ok) return yield* baselineError("Setup", `${config.name}: ${reply.error}`)
    const info = reply.info ?? {}
    const packages = { ...versions, ...Object.fromEntries(Object.entries(info).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)])) }
    const comparable = Result.isSuccess(dir)
    const model_id = job.workload.model_id
    const weights_source = source.kind === "checkpoint" ? { kind: "checkpoint" as const, model_id, dir: source.dir } : { kind: "synthetic" as const, model_id, seed: job.experiment.seed }
    return {
      state: { worker, comparable },
      info: {
        environment: { packages, weights_source },
        ...(comparable ? {} : { notComparable: `built from the config with torch's own seeded init (${Result.isFailure(dir) ? dir.failure.message : ""})` }),
      },
    }
  })

const run = (config: PyConfig, state: State, input: unknown) =>
  Effect.gen(function*() {
    const reply = (yield* state.worker.request({ op: "run", input })) as Reply
    if (!reply.ok) return yield* baselineError("Run", `${config.name}: ${reply.error}`)
    const output = outputFromJson(reply.output!)
    if (config.type === "native_pytorch") {
      return { latencyMs: reply.ms!, inputBytes: null, outputBytes: null, output } satisfies Measured
    }
    const network = Math.max(0, reply.ms! - (reply.server_ms ?? 0))
    return {
      latencyMs: reply.ms!,
      inputBytes: reply.bytes_out ?? null,
      outputBytes: reply.bytes_in ?? null,
      breakdown: {
        client_network_c2s_ms: network / 2,
        client_network_s2c_ms: network / 2,
        ...(reply.server_ms !== undefined ? { server_duration_ms: reply.server_ms } : {}),
        ...(reply.engine_ms !== undefined ? { server_execution_ms: reply.engine_ms } : {}),
      },
      roundTrips: 1,
      output,
    } satisfies Measured
  })

export const pytorchLayer = (config: PyConfig, job: Job) =>
  Layer.effect(Baseline, makeBaseline(config.name, job, setup(config, job), (state, request) => run(config, state, request.input)))
