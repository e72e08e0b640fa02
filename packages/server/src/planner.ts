import type { Hints, Want } from "@djinn/protocol"
import { Context, Effect, Layer } from "effect"
import { Executor } from "./executor.ts"
import { Vmu } from "./vmu.ts"

export interface PlanInput {
  /** generate / forward: a causal LM; encode: an encoder (BERT); classify: a vision model (ResNet). */
  readonly kind: "generate" | "forward" | "encode" | "classify"
  readonly model: number
  /** encode / classify: the shape of the main input ([B, S] ids, [N, C, H, W] images). */
  readonly shape?: ReadonlyArray<number>
  readonly promptTokens: number
  readonly maxNewTokens: number
  readonly stream: boolean
  readonly hints: Hints
  readonly want: Want
  /** Tokens already in the session's context for this model (0 = none). */
  readonly contextTokens: number
}

/** How a request runs: which phase, how its KV cache is sized and kept, how tokens stream, what comes back. */
export interface Plan {
  readonly key: string
  readonly phase: "prefill" | "decode" | "prefill+decode" | "encode" | "vision"
  /** Keep the context (KV cache, last token) for the session's next request; otherwise reset the arena after. */
  readonly keepContext: boolean
  /** A new context is sized to this request ("exact") or to what the arena holds ("arena", for later turns). */
  readonly kvPolicy: "exact" | "arena"
  /** KV positions this request needs beyond the context it continues. */
  readonly kvTokens: number
  /** Read tokens back every this many steps (0 = once at the end). */
  readonly streamEvery: number
  /** Read outputs back into the reply: the last logits row (causal LMs), or every output's values (encode, classify). */
  readonly readLastLogits: boolean
  /** Keep outputs on the GPU as refs: all logits (causal LMs), or every output (encode, classify). */
  readonly keepLogits: boolean
}

export interface PlannerStats {
  readonly cached: number
  readonly hits: number
  readonly misses: number
}

const MAX_CACHED_PLANS = 4096

/**
 * The semantic planner: phase-aware (a forward is a prefill that fills the session's KV cache; a generate that
 * continues a context is mostly decode; an encoder or vision forward is one pass with no KV cache), with a plan cache keyed by model, shapes and parameters, and the placement
 * of sessions on GPUs (least reserved KV memory first).
 */
export class Planner extends Context.Service<Planner, {
  readonly plan: (input: PlanInput) => Plan
  readonly place: (hints: Hints) => number
  readonly stats: () => PlannerStats
}>()("djinn/server/Planner") {
  static readonly layer = Layer.effect(
    Planner,
    Effect.gen(function* () {
      const executor = yield* Executor
      const vmu = yield* Vmu
      const cache = new Map<string, Plan>()
      let hits = 0
      let misses = 0

      const build = (input: PlanInput, key: string): Plan => {
        const { kind, hints, want, stream, promptTokens, maxNewTokens, contextTokens } = input
        const keepContext = !hints.finalize
        if (kind === "encode" || kind === "classify") {
          return {
            key, phase: kind === "encode" ? "encode" : "vision", keepContext, kvPolicy: "exact", kvTokens: 0, streamEvery: 0,
            // A classifier's tokens are its top-1 classes, read from the logits.
            readLastLogits: want.lastLogits || (kind === "classify" && want.tokens),
            keepLogits: want.refs,
          }
        }
        const phase = kind === "forward" ? "prefill" : contextTokens > 0 && promptTokens <= 1 ? "decode" : "prefill+decode"
        // Streaming cadence per class: realtime and interactive clients see every token as it is made; batch
        // clients get them in groups of 8, which costs fewer readbacks.
        const streamEvery = kind === "generate" && stream ? (hints.priority === "batch" ? 8 : 1) : 0
        const kvTokens = kind === "forward" ? promptTokens : promptTokens + Math.max(maxNewTokens, 1)
        return {
          key,
          phase,
          keepContext,
          kvPolicy: keepContext ? "arena" : "exact",
          kvTokens: Math.max(kvTokens, hints.expectedTokens),
          streamEvery,
          readLastLogits: want.lastLogits || (kind === "forward" && want.tokens),
          keepLogits: want.refs,
        }
      }

      const plan = (input: PlanInput): Plan => {
        const { kind, model, promptTokens, maxNewTokens, stream, hints, want, contextTokens } = input
        const key = `${kind}|${model}|${input.shape?.join("x") ?? ""}|${promptTokens}|${maxNewTokens}|${stream ? 1 : 0}|${hints.priority}|${hints.finalize ? 1 : 0}|${hints.expectedTokens}|${contextTokens > 0 ? 1 : 0}|${want.tokens ? 1 : 0}${want.lastLogits ? 1 : 0}${want.refs ? 1 : 0}`
        const cached = cache.get(key)
        if (cached !== undefined) {
          hits++
          return cached
        }
        misses++
        const fresh = build(input, key)
        if (cache.size >= MAX_CACHED_PLANS) cache.delete(cache.keys().next().value!)
        cache.set(key, fresh)
        return fresh
      }

      const place = (_hints: Hints): number => {
        if (executor.slots.length === 1) return 0
        const reserved = vmu.stats().gpus.map((g) => g.data.bytes)
        let best = 0
        for (let i = 1; i < reserved.length; i++) if (reserved[i] < reserved[best]) best = i
        return best
      }

      return Planner.of({ plan, place, stats: () => ({ cached: cache.size, hits, misses }) })
    }),
  )
}
