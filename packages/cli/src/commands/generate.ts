import { directMemory, generate as runGenerate, loadCausalLM, resolveModel, tokenizerFor, type ModelSpec } from "@djinn/engine"
import { Console, Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { dtypeFlag, gpuFlags, modelFlags, toGpuConfig } from "../flags.ts"
import { attempt, CliFailure, parseIds, pickDtype, withGpu } from "../run-engine.ts"
import { generateRemote, remoteFlags, remoteMode } from "./remote.ts" // remote generation (server package owners)

export const modelSpec = (f: { modelDir: Option.Option<string>; model: Option.Option<string>; seed: number }): ModelSpec => {
  if (Option.isSome(f.modelDir) && Option.isSome(f.model)) throw new CliFailure({ message: "give --model-dir or --model, not both" })
  if (Option.isSome(f.modelDir)) return { modelDir: f.modelDir.value, seed: f.seed }
  if (Option.isSome(f.model)) return { modelId: f.model.value, seed: f.seed }
  throw new CliFailure({ message: "a model is needed: --model-dir DIR or --model ID" })
}

export const generate = Command.make(
  "generate",
  {
    ...gpuFlags,
    ...modelFlags,
    inputIds: Flag.String("input-ids").pipe(Flag.withDescription("prompt as comma-separated token ids"), Flag.optional),
    prompt: Flag.String("prompt").pipe(Flag.withDescription("prompt text (tokenized with the model's tokenizer)"), Flag.optional),
    maxNewTokens: Flag.Int("max-new-tokens").pipe(Flag.withDescription("tokens to generate"), Flag.withDefault(32)),
    json: Flag.Boolean("json").pipe(Flag.withDescription('print {"tokens":[...]} on stdout and nothing else'), Flag.withDefault(false)),
    dtype: dtypeFlag,
    ...remoteFlags, // --server / --mode: see remote.ts
  },
  (flags) =>
    Effect.gen(function* () {
      if (flags.maxNewTokens < 0) return yield* new CliFailure({ message: `--max-new-tokens must be ≥ 0, got ${flags.maxNewTokens}` })
      const model = yield* attempt(() => resolveModel(modelSpec(flags)))
      const ids = yield* attempt(() => {
        if (Option.isSome(flags.inputIds) === Option.isSome(flags.prompt)) throw new CliFailure({ message: "give exactly one of --input-ids or --prompt" })
        return Option.isSome(flags.inputIds) ? parseIds(flags.inputIds.value) : tokenizerFor(model.config.model_type).encode(Option.getOrThrow(flags.prompt))
      })
      // ---- remote hook (remote.ts): --server / --mode semantic|blind run on a djinn server ----
      const mode = remoteMode(flags)
      const result = mode !== undefined ? yield* generateRemote(flags, mode, modelSpec(flags), model, ids, flags.maxNewTokens, flags.dtype) : yield* withGpu(toGpuConfig(flags), async (gpu) => {
        const mem = directMemory(gpu)
        const lm = loadCausalLM(gpu, mem, model, pickDtype(gpu, flags.dtype))
        const started = performance.now()
        const out = await runGenerate(gpu, mem, lm, ids, { maxNewTokens: flags.maxNewTokens })
        await gpu.checkErrors()
        return { tokens: out.tokens, ms: performance.now() - started }
      })
      if (flags.json) {
        yield* Console.log(JSON.stringify({ tokens: result.tokens }))
      } else {
        yield* Console.log(result.tokens.join(","))
        const text = yield* Effect.option(attempt(() => tokenizerFor(model.config.model_type).decode(result.tokens)))
        if (Option.isSome(text)) yield* Console.log(JSON.stringify(text.value))
        yield* Console.error(`${result.tokens.length} tokens in ${result.ms.toFixed(1)} ms (${model.weightsSource} weights)${"note" in result ? `; ${result.note}` : ""}`)
      }
    }),
).pipe(Command.withDescription("Greedy generation on the local GPU"))
