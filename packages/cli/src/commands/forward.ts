import {
  directMemory, forwardEncoder, forwardLogits, forwardVision, loadModel, modelKind, resolveModel, SafetensorsCheckpoint, toFloat32, toInt32,
  writeSafetensors, type TensorOut,
} from "@djinn/engine"
import { Console, Effect } from "effect"
import { Command, Flag } from "effect/cli"
import { dtypeFlag, gpuFlags, modelFlags, toGpuConfig } from "../flags.ts"
import { attempt, CliFailure, pickDtype, withGpu } from "../run-engine.ts"
import { modelSpec } from "./generate.ts"

/** The input tensors a model kind reads, checked before the GPU opens. */
const readInputs = (file: string, kind: "causal-lm" | "encoder" | "vision") => {
  const inputs = SafetensorsCheckpoint.file(file)
  const need = (name: string, rank: number) => {
    if (!inputs.has(name)) throw new CliFailure({ message: `${file}: no tensor '${name}'` })
    const raw = inputs.read(name)
    if (raw.shape.length !== rank) throw new CliFailure({ message: `${file}: ${name} must have rank ${rank}, got [${raw.shape.join(", ")}]` })
    return raw
  }
  if (kind === "vision") {
    const raw = need("input", 4)
    return { shape: raw.shape, input: toFloat32(raw) }
  }
  const ids = need("input_ids", 2)
  const same = (name: string) => {
    if (!inputs.has(name)) return undefined
    const raw = need(name, 2)
    if (raw.shape[0] !== ids.shape[0] || raw.shape[1] !== ids.shape[1]) throw new CliFailure({ message: `${file}: ${name} [${raw.shape.join(", ")}] does not match input_ids [${ids.shape.join(", ")}]` })
    return toInt32(raw)
  }
  return { shape: ids.shape, ids: toInt32(ids), mask: kind === "encoder" ? same("attention_mask") : undefined, types: kind === "encoder" ? same("token_type_ids") : undefined }
}

export const forward = Command.make(
  "forward",
  {
    ...gpuFlags,
    ...modelFlags,
    inputs: Flag.File("inputs", { mustExist: true }).pipe(
      Flag.withDescription("safetensors with input_ids [B, S] (+ attention_mask, token_type_ids for encoders), or input [N, C, H, W] for vision"),
    ),
    out: Flag.String("out").pipe(Flag.withDescription("where to write the outputs (safetensors: logits, or last_hidden_state + pooler_output)")),
    dtype: dtypeFlag,
  },
  (flags) =>
    Effect.gen(function* () {
      const model = yield* attempt(() => resolveModel(modelSpec(flags)))
      const kind = modelKind(model.config.model_type)
      if (kind === undefined) return yield* new CliFailure({ message: `model_type '${model.config.model_type}' is not supported` })
      const inputs = yield* attempt(() => readInputs(flags.inputs, kind))
      const outputs = yield* withGpu(toGpuConfig(flags), async (gpu) => {
        const mem = directMemory(gpu)
        const loaded = loadModel(gpu, mem, model, pickDtype(gpu, flags.dtype))
        const out: Record<string, TensorOut> = {}
        const [B, S] = inputs.shape
        if (loaded.kind === "causal-lm") {
          const lm = loaded.model
          const all = new Float32Array(B * S * lm.vocabSize)
          for (let b = 0; b < B; b++) all.set(await forwardLogits(gpu, mem, lm, Array.from(inputs.ids!.subarray(b * S, (b + 1) * S))), b * S * lm.vocabSize)
          out.logits = { dtype: "F32", shape: [B, S, lm.vocabSize], data: all }
        } else if (loaded.kind === "encoder") {
          const bert = loaded.model
          const r = await forwardEncoder(gpu, mem, bert, { inputIds: inputs.ids!, B, S, attentionMask: inputs.mask, tokenTypeIds: inputs.types })
          out.last_hidden_state = { dtype: "F32", shape: [B, S, bert.hidden], data: r.lastHiddenState }
          if (r.poolerOutput !== undefined) out.pooler_output = { dtype: "F32", shape: [B, bert.hidden], data: r.poolerOutput }
        } else {
          const [N, C, H, W] = inputs.shape
          const logits = await forwardVision(gpu, mem, loaded.model, inputs.input!, [N, C, H, W])
          out.logits = { dtype: "F32", shape: [N, loaded.model.numClasses], data: logits }
        }
        await gpu.checkErrors()
        return out
      })
      yield* attempt(() => writeSafetensors(flags.out, outputs))
      const summary = Object.entries(outputs).map(([k, v]) => `${k} [${v.shape.join(", ")}]`).join(", ")
      yield* Console.error(`wrote ${summary} to ${flags.out} (${model.weightsSource} weights)`)
    }),
).pipe(Command.withDescription("Run a model's forward pass on input tensors and write its outputs (every model: causal LMs, BERT, ResNet)"))
