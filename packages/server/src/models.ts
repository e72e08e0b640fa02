import { findKnownModel, loadModel, resolveModel, type LoadedModel, type ResolvedModel } from "@djinn/engine"
import type { DType as GpuDType } from "@djinn/gpu"
import { DTYPE_BYTES, shapeElements, type ModelHandle, type ModelKey, type TensorInfo } from "@djinn/protocol"
import { Context, Effect, Layer } from "effect"
import { existsSync, readFileSync, statSync } from "node:fs"
import { basename, join } from "node:path"
import { Settings } from "./config.ts"
import { serverError, toServerError, type ServerError } from "./errors.ts"
import { Executor } from "./executor.ts"
import { modelFingerprint, type FingerprintTensor } from "./fingerprint.ts"
import { Vmu, type ModelText } from "./vmu.ts"
import { checkpointTensors, uploadedWeights } from "./weights.ts"

interface OnGpu {
  readonly model: LoadedModel
  readonly text: ModelText
  readonly loadMs: number
}

/** A model the server knows: content key, config, where its weights come from, and where they are resident. */
export interface ModelEntry {
  readonly handle: ModelHandle
  readonly key: ModelKey
  readonly source: "preload" | "known" | "registered"
  readonly resolved: ResolvedModel
  readonly onGpu: Map<number, OnGpu>
  /** Sessions holding the model; a pinned (preloaded) model stays resident at 0. */
  refs: number
  readonly pinned: boolean
  loads: number
  paramBytes: number
}

interface Upload {
  readonly handle: ModelHandle
  readonly owner: string
  readonly key: ModelKey
  /** The config JSON as sent (the fingerprint covers it), and as the engine reads it. */
  readonly raw: unknown
  readonly config: Record<string, unknown> & { model_type: string }
  readonly tensors: ReadonlyArray<TensorInfo>
  readonly sizes: ReadonlyArray<number>
  readonly data: Array<Uint8Array | undefined>
  readonly filled: number[]
}

export interface ModelStats {
  readonly handle: number
  readonly id: string
  readonly fingerprint: string
  readonly source: string
  readonly modelType: string
  readonly paramBytes: number
  readonly refs: number
  readonly pinned: boolean
  readonly loads: number
  readonly gpus: ReadonlyArray<{ readonly gpu: number; readonly textBytes: number; readonly loadMs: number }>
}

/** Host bytes one client may stage for an upload (weights are staged until CommitModel). */
const MAX_UPLOAD_BYTES = 64 * 1024 ** 3

/** `owner/name` or `owner/name?seed=7`: a known model with seeded synthetic weights. */
const parseKnownId = (id: string): { modelId: string; seed: number } => {
  const [modelId, query] = id.split("?")
  const seed = /(?:^|&)seed=(\d+)/.exec(query ?? "")
  return { modelId, seed: seed === null ? 0 : Number(seed[1]) }
}

type ModelConfig = Record<string, unknown> & { model_type: string }

/**
 * A config as the engine reads it. torchvision checkpoints come with a small descriptor
 * (`architecture: torchvision.models.resnet50`) instead of an HF config: it is a ResNet (as the engine's loader says).
 */
const engineConfig = (parsed: unknown): ModelConfig | undefined => {
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return undefined
  const c = parsed as Record<string, unknown>
  if (typeof c.model_type === "string") return c as ModelConfig
  if (typeof c.architecture === "string" && /^torchvision\.models\.resnet\d+$/.test(c.architecture)) return { ...c, model_type: "resnet" }
  return undefined
}

const parseConfig = (json: string): { raw: unknown; config: ModelConfig } => {
  let parsed: unknown
  try {
    parsed = JSON.parse(json)
  } catch (cause) {
    throw serverError("BadRequest", `config JSON does not parse: ${(cause as Error).message}`)
  }
  const config = engineConfig(parsed)
  if (config === undefined) throw serverError("BadRequest", "config JSON has no model_type (nor a torchvision architecture)")
  return { raw: parsed, config }
}

/**
 * A checkpoint folder's fingerprint over its config.json as stored (not the engine's reading of it): what a client
 * computes before uploading the same folder.
 */
const fingerprintFolder = (dir: string): string =>
  modelFingerprint(JSON.parse(readFileSync(join(dir, "config.json"), "utf8")), checkpointTensors(dir))

/**
 * Models: preloaded at start, loaded by known id, or registered by clients (RegisterModel, WeightChunk…, CommitModel).
 * Weights live in the VMU's text segment, loaded once per content fingerprint and shared by every session.
 */
export class Models extends Context.Service<Models, {
  readonly lookup: (key: ModelKey) => ModelEntry | undefined
  readonly get: (handle: number) => Effect.Effect<ModelEntry, ServerError>
  readonly load: (key: ModelKey) => Effect.Effect<ModelEntry, ServerError>
  readonly preload: (spec: string) => Effect.Effect<ModelEntry, ServerError>
  readonly register: (owner: string, key: ModelKey, configJson: string, tensors: ReadonlyArray<TensorInfo>) => Effect.Effect<ModelHandle, ServerError>
  readonly chunk: (owner: string, handle: number, tensorIndex: number, offset: number, data: Uint8Array) => Effect.Effect<void, ServerError>
  readonly commit: (owner: string, handle: number) => Effect.Effect<ModelEntry, ServerError>
  readonly dropUploads: (owner: string) => void
  /** The model on a GPU (a causal LM, an encoder or a vision model), loaded there on first use. */
  readonly onGpu: (entry: ModelEntry, gpu: number) => Effect.Effect<LoadedModel, ServerError>
  readonly retain: (entry: ModelEntry) => void
  readonly release: (entry: ModelEntry) => void
  readonly list: () => ReadonlyArray<ModelEntry>
  readonly stats: () => ReadonlyArray<ModelStats>
}>()("djinn/server/Models") {
  static readonly layer = Layer.effect(
    Models,
    Effect.gen(function* () {
      const settings = yield* Settings
      const executor = yield* Executor
      const vmu = yield* Vmu
      const models = new Map<number, ModelEntry>()
      const uploads = new Map<number, Upload>()
      let nextHandle = 1

      yield* Effect.addFinalizer(() => Effect.sync(() => {
        for (const m of models.values()) for (const g of m.onGpu.values()) g.text.free()
      }))

      const byFingerprint = (fp: string) => [...models.values()].find((m) => m.key.fingerprint === fp)
      const lookup = (key: ModelKey): ModelEntry | undefined => {
        if (key.fingerprint !== "") return byFingerprint(key.fingerprint)
        const all = [...models.values()]
        return all.find((m) => m.key.id === key.id) ?? all.find((m) => basename(m.key.id) === key.id)
      }

      const get = (handle: number) => Effect.suspend(() => {
        const m = models.get(handle)
        return m === undefined ? Effect.fail(serverError("NotFound", `no model with handle ${handle}`)) : Effect.succeed(m)
      })

      const dtypeFor = (gpu: number): GpuDType => {
        if (settings.dtype === "f16") {
          if (!executor.slots[gpu].adapter.f16) throw serverError("Unsupported", `--dtype f16: ${executor.slots[gpu].name} has no shader-f16`)
          return "f16"
        }
        return "f32"
      }

      const onGpu = (entry: ModelEntry, gpu: number) => Effect.try({
        try: () => {
          const loaded = entry.onGpu.get(gpu)
          if (loaded !== undefined) return loaded.model
          const started = performance.now()
          const text = vmu.modelText(gpu, `${entry.handle}`)
          try {
            const model = loadModel(executor.slots[gpu].device, text.memory, entry.resolved, dtypeFor(gpu))
            entry.onGpu.set(gpu, { model, text, loadMs: performance.now() - started })
            entry.loads++
            entry.paramBytes = model.model.weightBytes
            return model
          } catch (cause) {
            text.free()
            throw cause
          }
        },
        catch: toServerError,
      })

      const add = (key: ModelKey, source: ModelEntry["source"], resolved: ResolvedModel, pinned: boolean, handle = nextHandle++) =>
        Effect.gen(function* () {
          const entry: ModelEntry = { handle: handle as ModelHandle, key, source, resolved, onGpu: new Map(), refs: 0, pinned, loads: 0, paramBytes: 0 }
          // Loaded on the first GPU now, so a bad model fails at registration rather than at its first request.
          yield* onGpu(entry, 0)
          models.set(entry.handle, entry)
          return entry
        })

      const resolveKnown = (id: string) => Effect.try({
        try: () => {
          const { modelId, seed } = parseKnownId(id)
          const resolved = resolveModel({ modelId, seed })
          const fingerprint = resolved.weightsSource === "synthetic"
            ? modelFingerprint(resolved.config, [], { seed })
            : fingerprintFolder(findKnownModel(modelId) ?? modelId)
          return { resolved: { ...resolved, id }, fingerprint }
        },
        catch: (cause) => {
          const e = toServerError(cause)
          return e.message.includes("unknown model id") ? serverError("NotFound", e.message) : e
        },
      })

      const load = Effect.fn("Models.load")(function* (key: ModelKey) {
        const found = lookup(key)
        if (found !== undefined) return found
        if (key.id === "") return yield* serverError("NotFound", `no model with fingerprint ${key.fingerprint}`)
        const { resolved, fingerprint } = yield* resolveKnown(key.id)
        if (key.fingerprint !== "" && key.fingerprint !== fingerprint) {
          return yield* serverError("NotFound", `${key.id}: the server's copy has fingerprint ${fingerprint}, not ${key.fingerprint}`)
        }
        return byFingerprint(fingerprint) ?? (yield* add({ id: key.id, fingerprint }, "known", resolved, false))
      })

      const preload = Effect.fn("Models.preload")(function* (spec: string) {
        const isDir = existsSync(spec) && statSync(spec).isDirectory()
        if (!isDir) {
          const entry = yield* load({ id: spec, fingerprint: "" })
          ;(entry as { pinned: boolean }).pinned = true
          return entry
        }
        const { resolved, fingerprint } = yield* Effect.try({
          try: () => {
            const resolved = resolveModel({ modelDir: spec })
            return { resolved, fingerprint: fingerprintFolder(spec) }
          },
          catch: toServerError,
        })
        return byFingerprint(fingerprint) ?? (yield* add({ id: spec, fingerprint }, "preload", resolved, true))
      })

      const register = Effect.fn("Models.register")(function* (owner: string, key: ModelKey, configJson: string, tensors: ReadonlyArray<TensorInfo>) {
        const { raw, config } = yield* Effect.try({ try: () => parseConfig(configJson), catch: toServerError })
        const sizes = tensors.map((t) => (shapeElements(t.shape) ?? Infinity) * DTYPE_BYTES[t.dtype])
        const total = sizes.reduce((a, b) => a + b, 0)
        const staged = [...uploads.values()].filter((u) => u.owner === owner).reduce((n, u) => n + u.sizes.reduce((a, b) => a + b, 0), 0)
        if (!Number.isFinite(total) || staged + total > MAX_UPLOAD_BYTES) {
          return yield* serverError("BadRequest", `an upload of ${total} bytes exceeds the ${MAX_UPLOAD_BYTES}-byte staging limit`)
        }
        if (new Set(tensors.map((t) => t.name)).size !== tensors.length) return yield* serverError("BadRequest", "tensor names repeat")
        const handle = nextHandle++ as ModelHandle
        uploads.set(handle, { handle, owner, key, raw, config, tensors, sizes, data: tensors.map(() => undefined), filled: tensors.map(() => 0) })
        return handle
      })

      const upload = (owner: string, handle: number) => Effect.suspend(() => {
        const u = uploads.get(handle)
        return u === undefined || u.owner !== owner ? Effect.fail(serverError("NotFound", `no upload in progress with handle ${handle}`)) : Effect.succeed(u)
      })

      const chunk = Effect.fnUntraced(function* (owner: string, handle: number, tensorIndex: number, offset: number, data: Uint8Array) {
        const u = yield* upload(owner, handle)
        if (tensorIndex >= u.tensors.length) return yield* serverError("BadRequest", `tensor index ${tensorIndex} ≥ ${u.tensors.length}`)
        // Chunks of a tensor arrive in order; anything else is a client bug we name rather than paper over.
        if (offset !== u.filled[tensorIndex]) return yield* serverError("BadRequest", `tensor ${u.tensors[tensorIndex].name}: chunk at ${offset}, expected ${u.filled[tensorIndex]}`)
        const size = u.sizes[tensorIndex]
        if (offset + data.byteLength > size) return yield* serverError("BadRequest", `tensor ${u.tensors[tensorIndex].name}: chunk ends at ${offset + data.byteLength}, past ${size} bytes`)
        const buf = (u.data[tensorIndex] ??= new Uint8Array(size))
        buf.set(data, offset)
        u.filled[tensorIndex] += data.byteLength
      })

      const commit = Effect.fn("Models.commit")(function* (owner: string, handle: number) {
        const u = yield* upload(owner, handle)
        const missing = u.tensors.findIndex((_, i) => u.filled[i] !== u.sizes[i])
        if (missing !== -1) return yield* serverError("BadRequest", `tensor ${u.tensors[missing].name}: ${u.filled[missing]} of ${u.sizes[missing]} bytes received`)
        uploads.delete(handle)
        const tensors = new Map<string, FingerprintTensor>(u.tensors.map((t, i) => [t.name, { name: t.name, dtype: t.dtype, shape: t.shape, bytes: u.data[i] ?? new Uint8Array(0) }]))
        const fingerprint = modelFingerprint(u.raw, tensors.values())
        const existing = byFingerprint(fingerprint)
        if (existing !== undefined) return existing
        const resolved: ResolvedModel = { id: u.key.id, config: u.config, weights: uploadedWeights(tensors), weightsSource: "checkpoint" }
        return yield* add({ id: u.key.id, fingerprint }, "registered", resolved, false, handle)
      })

      const stats = (): ReadonlyArray<ModelStats> => [...models.values()].map((m) => ({
        handle: m.handle,
        id: m.key.id,
        fingerprint: m.key.fingerprint,
        source: m.source,
        modelType: m.resolved.config.model_type,
        paramBytes: m.paramBytes,
        refs: m.refs,
        pinned: m.pinned,
        loads: m.loads,
        gpus: [...m.onGpu].map(([gpu, g]) => ({ gpu, textBytes: g.text.bytes(), loadMs: g.loadMs })),
      }))

      return Models.of({
        lookup,
        get,
        load,
        preload,
        register,
        chunk,
        commit,
        dropUploads: (owner) => { for (const [h, u] of uploads) if (u.owner === owner) uploads.delete(h) },
        onGpu,
        retain: (m) => { m.refs++ },
        release: (m) => { m.refs = Math.max(0, m.refs - 1) },
        list: () => [...models.values()],
        stats,
      })
    }),
  )
}
