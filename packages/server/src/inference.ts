import {
  allocTensor, generate as runGenerate, elementBytes, modelKind, numel, type Allocation, type CausalLM, type LoadedModel, type Memory,
  type Tensor as EngineTensor,
} from "@djinn/engine"
import type { GpuDevice } from "@djinn/gpu"
import { DTYPE_BYTES, type GenerationParams, type Hints, type Input, type RefId, type RemoteRef, type Tensor, type Want } from "@djinn/protocol"
import { Context, Effect, Layer } from "effect"
import { serverError, toServerError, type ServerError } from "./errors.ts"
import { Executor, type RunOptions } from "./executor.ts"
import { namedInputs, promptOf } from "./inputs.ts"
import { Models, type ModelEntry } from "./models.ts"
import { Planner, type Plan } from "./planner.ts"
import { Profiler, profilerTimed, type RequestClock } from "./profiler.ts"
import { Qos } from "./qos.ts"
import type { Session, SessionContext } from "./session.ts"
import { Sessions } from "./sessions.ts"
import { Skeletonizer } from "./skeletonizer.ts"
import { encoderForward, rowArgmax, visionForward, type TensorOutput } from "./tensor-forward.ts"
import { Vmu } from "./vmu.ts"

export interface SemanticRequest {
  readonly session: Session
  readonly modelHandle: number
  readonly inputs: ReadonlyArray<Input>
  readonly hints: Hints
  readonly want: Want
}

/** An output's values, sent to the client ahead of the Result as RefData (ref id 0 when it was not also kept). */
export interface OutputValues {
  readonly ref: RemoteRef
  readonly data: Uint8Array
}

export interface Outcome {
  readonly tokens: number[]
  readonly lastLogits?: Tensor
  readonly refs: RemoteRef[]
  /** Encoder and vision forwards: every output's values, in the outputs' order, when `want.lastLogits` asks for values. */
  readonly values?: ReadonlyArray<OutputValues>
}

/** Receives each generated token as soon as it is read back (index counts from 0 within the request). */
export type Emit = (index: number, token: number) => void

const human = (n: number) => (n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MB` : `${(n / 1024).toFixed(1)} KB`)

/** Allocations a model's `newCache` makes per position-independent tensor, found by a dry run (no GPU calls). */
const cacheAllocations = (lm: CausalLM): number => {
  let n = 0
  const probe: Memory = { alloc: (bytes) => (n++, { buffer: -1, offset: 0, size: bytes }), release: () => {} }
  lm.newCache(probe, 1)
  return n
}

const pending = (c: SessionContext | undefined): number => (c?.pending === undefined ? 0 : 1)

const argmaxOf = (t: Tensor): number => {
  const view = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength)
  const n = t.shape[t.shape.length - 1]
  let best = 0
  let bestValue = -Infinity
  for (let i = 0; i < n; i++) {
    const v = t.dtype === "f16" ? halfAt(view, i) : view.getFloat32(4 * i, true)
    if (v > bestValue) { bestValue = v; best = i }
  }
  return best
}
const halfAt = (view: DataView, i: number): number => {
  const h = view.getUint16(2 * i, true)
  const e = (h >>> 10) & 0x1f
  const m = h & 0x3ff
  const s = h & 0x8000 ? -1 : 1
  return e === 0 ? s * m * 2 ** -24 : e === 0x1f ? (m ? NaN : s * Infinity) : s * (1 + m / 1024) * 2 ** (e - 15)
}

/**
 * The semantic pipeline of one request: plan → QoS queue (a turn on the session's GPU) → placement (model resident,
 * KV context in the session arena) → execution (the engine's GPU-resident loop) → skeletonization (outputs as refs)
 * → cleanup (stack reset, finalized contexts dropped). Each phase is timed into the request's Profile.
 */
export class Inference extends Context.Service<Inference, {
  readonly generate: (req: SemanticRequest, params: GenerationParams, clock: RequestClock, emit: Emit) => Effect.Effect<Outcome, ServerError>
  readonly forward: (req: SemanticRequest, clock: RequestClock) => Effect.Effect<Outcome, ServerError>
}>()("djinn/server/Inference") {
  static readonly layer = Layer.effect(
    Inference,
    Effect.gen(function* () {
      const models = yield* Models
      const planner = yield* Planner
      const qos = yield* Qos
      const executor = yield* Executor
      const vmu = yield* Vmu
      const sessions = yield* Sessions
      const skeletonizer = yield* Skeletonizer
      const profiler = yield* Profiler
      // cacheAllocations once per model: a session that finalizes every request places a fresh context each time.
      const allocationCounts = new WeakMap<CausalLM, number>()
      const allocationsOf = (lm: CausalLM): number => {
        let n = allocationCounts.get(lm)
        if (n === undefined) allocationCounts.set(lm, (n = cacheAllocations(lm)))
        return n
      }

      /** The session's context for a model, created in its arena when there is none (the placement of its KV cache). */
      const contextFor = (session: Session, model: ModelEntry, lm: CausalLM, plan: Plan, extra: number): SessionContext => {
        const existing = session.contexts.get(model.handle)
        if (existing !== undefined) {
          if (existing.cache.length + extra > existing.cache.capacity) {
            throw serverError("ArenaExhausted", `session ${session.id}: the context holds ${existing.cache.length} of ${existing.cache.capacity} positions, this request needs ${extra} more (finalize the context, or open a session with a larger kvBudgetBytes)`)
          }
          return existing
        }
        const perToken = lm.kvBytesPerToken()
        const slack = allocationsOf(lm) * 256
        const fits = Math.floor((session.arena.free - slack) / perToken)
        const least = Math.max(extra, plan.kvTokens)
        const wanted = plan.kvPolicy === "exact" ? least : Math.max(least, Math.min(lm.maxPositions, fits))
        const capacity = Math.min(lm.maxPositions, wanted)
        if (capacity * perToken + slack > session.arena.free) {
          throw serverError("ArenaExhausted", `session ${session.id}: a KV cache of ${capacity} positions needs ${human(capacity * perToken + slack)}, the KV arena has ${human(session.arena.free)} free of ${human(session.arena.capacity)}`)
        }
        const mark = session.arena.mark()
        try {
          const cache = lm.newCache(vmu.requestMemory(session.gpu, session.arena, `session ${session.id}`), capacity)
          const context: SessionContext = { cache, pending: undefined }
          session.contexts.set(model.handle, context)
          return context
        } catch (cause) {
          session.arena.rewind(mark)
          throw cause
        }
      }

      /** Memory for one request; remembers the engine's logits buffer (for lastLogits / refs of a generate). */
      const requestMemory = (session: Session) => {
        const base = vmu.requestMemory(session.gpu, session.arena, `session ${session.id}`)
        let logits: Allocation | undefined
        const memory: Memory = {
          alloc: (bytes, segment, label) => {
            const a = base.alloc(bytes, segment, label)
            if (label === "logits") logits = a
            return a
          },
          release: () => {},
        }
        return { memory, logits: () => logits }
      }

      /** Outputs of a finished step: the last row read back, and/or all logits kept as a ref. */
      const skeletonize = async (session: Session, device: GpuDevice, lm: CausalLM, plan: Plan, logits: EngineTensor | undefined, rows: number) => {
        const refs: RemoteRef[] = []
        let lastLogits: Tensor | undefined
        if (logits === undefined) return { refs, lastLogits }
        const V = lm.vocabSize
        const rowBytes = V * elementBytes(lm.dtype)
        if (plan.keepLogits) {
          refs.push(skeletonizer.keep(session, device, { buffer: logits.buffer, offset: logits.offset }, [rows, V], lm.dtype))
          device.submit()
        }
        if (plan.readLastLogits) {
          const data = await device.read(logits.buffer, logits.offset + (rows - 1) * rowBytes, Math.ceil(rowBytes / 4) * 4)
          lastLogits = { dtype: lm.dtype, shape: [1, V], data: data.subarray(0, rowBytes) }
        }
        return { refs, lastLogits }
      }

      /** A causal LM's placement: the model, and the session's context for it (KV cache in the session arena). */
      const causal = (session: Session, model: ModelEntry, plan: Plan, extra: number) => (loaded: LoadedModel) => {
        if (loaded.kind !== "causal-lm") throw serverError("Unsupported", `model ${model.key.id} (${loaded.kind}) is not a causal LM`)
        return { lm: loaded.model, context: contextFor(session, model, loaded.model, plan, extra) }
      }

      /**
       * Runs a request's GPU part holding its turn: placement (the model resident on the session's GPU, then `place`),
       * execution, skeletonization, then cleanup.
       */
      const onGpu = <P, A>(session: Session, model: ModelEntry, plan: Plan, clock: RequestClock, place: (loaded: LoadedModel) => P,
        work: (device: GpuDevice, placed: P) => Promise<A & { skeletonMs: number }>, options?: RunOptions) =>
        Effect.gen(function* () {
          let failed = true
          const placed = yield* profilerTimed(clock, "placementMs", Effect.gen(function* () {
            const loaded = yield* models.onGpu(model, session.gpu)
            sessions.useModel(session, model)
            return yield* Effect.try({ try: () => place(loaded), catch: toServerError })
          }))
          const cleanup = profilerTimed(clock, "cleanupMs", Effect.sync(() => {
            vmu.resetStack(session.gpu)
            if (!plan.keepContext) sessions.reset(session)
            else if (failed) session.contexts.delete(model.handle) // a context a failed request touched is not to be trusted
          }))
          const exec = yield* executor.run(session.gpu, (device) => work(device, placed), undefined, options).pipe(
            Effect.tap(() => Effect.sync(() => { failed = false })),
            Effect.ensuring(cleanup),
          )
          clock.skeletonizationMs += exec.value.skeletonMs
          clock.executionWallMs = exec.wallMs - exec.value.skeletonMs
          clock.executionMs = exec.gpuMs ?? clock.executionWallMs
          clock.execStartedAt = exec.startedAt
          clock.workEndedAt = exec.workEndedAt
          return exec.value
        })

      // The per-request entry points are untraced: Effect.fn would capture a stack and open a span on every request.
      const generate = Effect.fnUntraced(function* (req: SemanticRequest, params: GenerationParams, clock: RequestClock, emit: Emit) {
        const { session, hints, want } = req
        const model = yield* models.get(req.modelHandle)
        const kind = modelKind(model.resolved.config.model_type)
        if (kind !== "causal-lm") return yield* serverError("Unsupported", `model ${model.key.id} (${kind ?? model.resolved.config.model_type}) is not a causal LM: it has no Generate (use Forward)`)
        if (params.temperature > 0) return yield* serverError("Unsupported", `temperature ${params.temperature}: the engine decodes greedily (temperature 0) only`)
        const prompt = yield* promptOf(session, req.inputs, skeletonizer)
        const N = params.maxNewTokens
        const existing = session.contexts.get(model.handle)
        const plan = clock.time("planMs", () => planner.plan({
          kind: "generate", model: model.handle, promptTokens: prompt.length, maxNewTokens: N, stream: params.stream, hints, want,
          contextTokens: existing === undefined ? 0 : existing.cache.length + pending(existing),
        }))
        const stops = new Set(params.stopTokens)
        const { value, queueMs } = yield* qos.run(hints.priority, session.gpu, onGpu(session, model, plan, clock, causal(session, model, plan, prompt.length + pending(existing) + Math.max(N, 1)), async (device, { lm, context }) => {
          const full = context.pending === undefined ? prompt : [context.pending, ...prompt]
          const start = context.cache.length
          const mem = requestMemory(session)
          let emitted = 0
          let stopped = false
          const out = await runGenerate(device, mem.memory, lm, full, {
            maxNewTokens: N,
            cache: context.cache,
            // Logits asked for (values or a ref): the last step's must be in the logits tensor.
            lastLogits: plan.readLastLogits || plan.keepLogits,
            streamEvery: plan.streamEvery,
            onTokens: params.stream ? (tokens) => {
              for (const t of tokens) {
                if (stopped) return
                emit(emitted++, t)
                if (stops.has(t)) stopped = true
              }
            } : undefined,
          })
          const t = performance.now()
          const stopAt = out.tokens.findIndex((x) => stops.has(x))
          const tokens = stopAt === -1 ? out.tokens : out.tokens.slice(0, stopAt + 1)
          // The cache holds the prompt and all but the last generated token; keep only what the reply hands out.
          if (tokens.length > 0) {
            context.cache.length = start + full.length + tokens.length - 1
            context.pending = tokens[tokens.length - 1]
          } else {
            context.pending = undefined
          }
          const logits = mem.logits()
          const outputs = await skeletonize(session, device, lm, plan,
            logits === undefined ? undefined : { buffer: logits.buffer, offset: logits.offset, shape: [1, lm.vocabSize], dtype: lm.dtype }, 1)
          return { tokens, ...outputs, skeletonMs: performance.now() - t }
        }))
        clock.queueMs = queueMs
        session.requests++
        session.tokens += value.tokens.length
        const outcome: Outcome = { tokens: want.tokens ? value.tokens : [], refs: value.refs, ...(value.lastLogits !== undefined ? { lastLogits: value.lastLogits } : {}) }
        profiler.record("generate", clock.profile(), clock.executionWallMs)
        return outcome
      }, Effect.tapError(() => Effect.sync(() => profiler.failed("generate"))))

      /** The values of an output (model dtype), under its ref, or a ref of id 0 when it was not kept. */
      const readOutput = async (device: GpuDevice, o: TensorOutput, ref: RemoteRef | undefined): Promise<OutputValues> => {
        const dtype = o.tensor.dtype
        const byteSize = numel(o.tensor.shape) * DTYPE_BYTES[dtype]
        const data = await device.read(o.tensor.buffer, o.tensor.offset, Math.ceil(byteSize / 4) * 4)
        return { ref: ref ?? { id: 0 as RefId, dtype, shape: [...o.tensor.shape], byteSize }, data: data.subarray(0, byteSize) }
      }

      /** Encoder / vision forward: one pass, no KV cache; outputs kept as refs and/or read back as values. */
      const tensorForward = Effect.fnUntraced(function* (req: SemanticRequest, clock: RequestClock, model: ModelEntry, kind: "encoder" | "vision") {
        const { session, hints, want } = req
        const inputs = yield* namedInputs(session, req.inputs, skeletonizer)
        const request = yield* Effect.try({ try: () => (kind === "encoder" ? encoderForward : visionForward)(inputs), catch: toServerError })
        const plan = clock.time("planMs", () => planner.plan({
          kind: request.kind, model: model.handle, shape: request.shape, promptTokens: 0, maxNewTokens: 0, stream: false, hints, want, contextTokens: 0,
        }))
        const { value, queueMs } = yield* qos.run(hints.priority, session.gpu, onGpu(session, model, plan, clock, (loaded) => loaded, async (device, loaded) => {
          const outputs = request.record(device, vmu.requestMemory(session.gpu, session.arena, `session ${session.id}`), loaded)
          device.submit()
          const t = performance.now()
          const refs = plan.keepLogits ? outputs.map((o) => skeletonizer.keep(session, device, o.tensor, o.tensor.shape, o.tensor.dtype)) : []
          if (refs.length > 0) device.submit()
          // The readbacks submit their copies at once; the error check then waits on the same poll of the device.
          const reads = plan.readLastLogits ? outputs.map((o, i) => readOutput(device, o, refs[i])) : []
          const [values] = await Promise.all([Promise.all(reads), device.checkErrors()])
          return { refs, values, skeletonMs: performance.now() - t }
        }, { errorsChecked: true }))
        clock.queueMs = queueMs
        session.requests++
        const tokens = want.tokens && request.kind === "classify" ? rowArgmax({ ...value.values[0].ref, data: value.values[0].data }) : []
        profiler.record(request.kind, clock.profile(), clock.executionWallMs)
        return { tokens, refs: value.refs, values: want.lastLogits ? value.values : [] } satisfies Outcome
      }, (effect, _req, _clock, _model, kind) => Effect.tapError(effect, () => Effect.sync(() => profiler.failed(kind === "encoder" ? "encode" : "classify"))))

      const causalForward = Effect.fnUntraced(function* (req: SemanticRequest, clock: RequestClock, model: ModelEntry) {
        const { session, hints, want } = req
        const prompt = yield* promptOf(session, req.inputs, skeletonizer)
        if (prompt.length === 0) return yield* serverError("BadRequest", "the input is empty")
        const existing = session.contexts.get(model.handle)
        const plan = clock.time("planMs", () => planner.plan({
          kind: "forward", model: model.handle, promptTokens: prompt.length, maxNewTokens: 0, stream: false, hints, want,
          contextTokens: existing === undefined ? 0 : existing.cache.length + pending(existing),
        }))
        const { value, queueMs } = yield* qos.run(hints.priority, session.gpu, onGpu(session, model, plan, clock, causal(session, model, plan, prompt.length + pending(existing)), async (device, { lm, context }) => {
          const full = context.pending === undefined ? prompt : [context.pending, ...prompt]
          for (const id of full) {
            if (!Number.isInteger(id) || id < 0 || id >= lm.vocabSize) throw serverError("Engine", `Input: token id ${id} is outside the vocabulary [0, ${lm.vocabSize})`)
          }
          const T = full.length
          if (context.cache.length + T > context.cache.capacity) throw serverError("ArenaExhausted", `session ${session.id}: ${T} tokens do not fit the context (${context.cache.length} of ${context.cache.capacity} positions used)`)
          const mem = requestMemory(session).memory
          const ids = allocTensor(mem, [T], "i32", "stack", "ids")
          const scratch = lm.newScratch(mem, T)
          // Every position's logits only when they are kept as a ref; for the last position's alone (values, a token)
          // the LM head runs on the last row (Llama-2-7B at 1k tokens: a 1024×32000×4096 GEMM, ~1 ms, and 65 MB
          // of logits saved).
          const rows = plan.keepLogits ? T : 1
          const logits = allocTensor(mem, [rows, lm.vocabSize], lm.dtype, "stack", "logits")
          device.writeBuffer(ids.buffer, ids.offset, new Uint8Array(Int32Array.from(full).buffer))
          lm.step({ ids, idsOffset: 0, T, cache: context.cache, scratch, logits, allLogits: plan.keepLogits })
          context.pending = undefined
          device.submit()
          const t = performance.now()
          const outputs = await skeletonize(session, device, lm, plan, logits, rows)
          const tokens = want.tokens && outputs.lastLogits !== undefined ? [argmaxOf(outputs.lastLogits)] : []
          return { tokens, refs: outputs.refs, lastLogits: want.lastLogits ? outputs.lastLogits : undefined, skeletonMs: performance.now() - t }
        }))
        clock.queueMs = queueMs
        session.requests++
        profiler.record("forward", clock.profile(), clock.executionWallMs)
        return { tokens: value.tokens, refs: value.refs, ...(value.lastLogits !== undefined ? { lastLogits: value.lastLogits } : {}) } satisfies Outcome
      }, Effect.tapError(() => Effect.sync(() => profiler.failed("forward"))))

      const forward = Effect.fnUntraced(function* (req: SemanticRequest, clock: RequestClock) {
        const model = yield* models.get(req.modelHandle).pipe(Effect.tapError(() => Effect.sync(() => profiler.failed("forward"))))
        const kind = modelKind(model.resolved.config.model_type)
        return yield* (kind === "encoder" || kind === "vision" ? tensorForward(req, clock, model, kind) : causalForward(req, clock, model))
      })

      return Inference.of({ generate, forward })
    }),
  )
}
