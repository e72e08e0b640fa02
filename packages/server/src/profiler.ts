import type { Profile } from "@djinn/protocol"
import { Context, Effect, Layer } from "effect"

const PHASES = ["queueMs", "planMs", "placementMs", "executionMs", "skeletonizationMs", "cleanupMs", "durationMs"] as const
type Phase = (typeof PHASES)[number]

/** One request's phase times, from the moment its message was decoded. Every reply carries it as its Profile. */
export class RequestClock {
  readonly receivedAt: number
  queueMs = 0
  planMs = 0
  placementMs = 0
  executionMs = 0
  /** Wall time of the execution phase (executionMs is GPU time when timestamps are available). */
  executionWallMs = 0
  skeletonizationMs = 0
  cleanupMs = 0
  /** performance.now() at the executor job's start and when its work resolved (request traces). */
  execStartedAt = 0
  workEndedAt = 0

  constructor(receivedAt: number = performance.now()) {
    this.receivedAt = receivedAt
  }

  /** Runs `f` and adds its wall time to a phase. */
  time<A>(phase: "planMs" | "placementMs" | "skeletonizationMs" | "cleanupMs", f: () => A): A {
    const t = performance.now()
    try {
      return f()
    } finally {
      this[phase] += performance.now() - t
    }
  }

  profile(): Profile {
    return {
      queueMs: this.queueMs,
      planMs: this.planMs,
      placementMs: this.placementMs,
      executionMs: this.executionMs,
      skeletonizationMs: this.skeletonizationMs,
      cleanupMs: this.cleanupMs,
      durationMs: performance.now() - this.receivedAt,
    }
  }
}

export interface KindStats {
  readonly count: number
  readonly failed: number
  readonly meanMs: Readonly<Record<Phase, number>>
  readonly executionWallMeanMs: number
}

/** The profiler: per request kind, counts and mean phase times (for server stats; each reply has its own). */
export class Profiler extends Context.Service<Profiler, {
  readonly record: (kind: string, profile: Profile, executionWallMs: number) => void
  readonly failed: (kind: string) => void
  readonly stats: () => Readonly<Record<string, KindStats>>
}>()("djinn/server/Profiler") {
  static readonly layer = Layer.sync(Profiler, () => {
    const kinds = new Map<string, { count: number; failed: number; sums: Record<Phase, number>; wall: number }>()
    const of = (kind: string) => {
      let k = kinds.get(kind)
      if (k === undefined) {
        k = { count: 0, failed: 0, sums: Object.fromEntries(PHASES.map((p) => [p, 0])) as Record<Phase, number>, wall: 0 }
        kinds.set(kind, k)
      }
      return k
    }
    return Profiler.of({
      record: (kind, profile, executionWallMs) => {
        const k = of(kind)
        k.count++
        for (const p of PHASES) k.sums[p] += profile[p]
        k.wall += executionWallMs
      },
      failed: (kind) => { of(kind).failed++ },
      stats: () => Object.fromEntries([...kinds].map(([kind, k]) => [kind, {
        count: k.count,
        failed: k.failed,
        meanMs: Object.fromEntries(PHASES.map((p) => [p, k.count === 0 ? 0 : k.sums[p] / k.count])) as Record<Phase, number>,
        executionWallMeanMs: k.count === 0 ? 0 : k.wall / k.count,
      }])),
    })
  })
}

export const profilerTimed = <A, E, R>(clock: RequestClock, phase: "planMs" | "placementMs" | "skeletonizationMs" | "cleanupMs", effect: Effect.Effect<A, E, R>) =>
  Effect.suspend(() => {
    const t = performance.now()
    return effect.pipe(Effect.ensuring(Effect.sync(() => { clock[phase] += performance.now() - t })))
  })
