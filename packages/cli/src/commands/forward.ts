import { directMemory, forwardLogits, loadCausalLM, resolveModel, SafetensorsCheckpoint, toInt32, writeSafetensors } from "@djinn/engine"
import { Console, Effect } from "effect"
import { Command, Flag } from "effect/cli"
import { dtypeFlag, gpuFlags, toGpuConfig } from "../flags.ts"
import { attempt, CliFailure, pickDtype, withGpu } from "../run-engine.ts"

export const forward = Command.make(
  "forward",
  {
    ...gpuFlags,
    modelDir: Flag.Directory("model-dir", { mustExist: true }).pipe(Flag.withDescription("checkpoint folder: config.json + model.safetensors")),
    inputs: Flag.File("inputs", { mustExist: true }).pipe(Flag.withDescription("safetensors with input_ids (+ attention_mask), or input for vision")),
    out: Flag.String("out").pipe(Flag.withDescription("where to write the outputs (safetensors)")),
    dtype: dtypeFlag,
  },
  (flags) =>
    Effect.gen(function* () {
      const model = yield* attempt(() => resolveModel({ modelDir: flags.modelDir }))
      const inputs = yield* attempt(() => SafetensorsCheckpoint.file(flags.inputs))
      if (!inputs.has("input_ids")) return yield* new CliFailure({ message: `${flags.inputs}: no tensor 'input_ids'` })
      const raw = yield* attempt(() => inputs.read("input_ids"))
      if (raw.shape.length !== 2) return yield* new CliFailure({ message: `${flags.inputs}: input_ids must be [batch, seq], got [${raw.shape.join(", ")}]` })
      const [B, T] = raw.shape
      const ids = yield* attempt(() => toInt32(raw))
      const logits = yield* withGpu(toGpuConfig(flags), async (gpu) => {
        const mem = directMemory(gpu)
        const lm = loadCausalLM(gpu, mem, model, pickDtype(gpu, flags.dtype))
        const all = new Float32Array(B * T * lm.vocabSize)
        for (let b = 0; b < B; b++) all.set(await forwardLogits(gpu, mem, lm, Array.from(ids.subarray(b * T, (b + 1) * T))), b * T * lm.vocabSize)
        await gpu.checkErrors()
        return { all, V: lm.vocabSize }
      })
      yield* attempt(() => writeSafetensors(flags.out, { logits: { dtype: "F32", shape: [B, T, logits.V], data: logits.all } }))
      yield* Console.error(`wrote logits [${B}, ${T}, ${logits.V}] to ${flags.out}`)
    }),
).pipe(Command.withDescription("Run a model's forward pass on input tensors and write its outputs"))
