import type { Hints, SessionId } from "@djinn/protocol"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { Settings } from "./config.ts"
import { serverError, type ServerError } from "./errors.ts"
import { makeLane } from "./lane.ts"
import { Models, type ModelEntry } from "./models.ts"
import { Planner } from "./planner.ts"
import type { Session } from "./session.ts"
import { Skeletonizer } from "./skeletonizer.ts"
import { Vmu } from "./vmu.ts"

export interface SessionStats {
  readonly id: number
  readonly owner: string
  readonly priority: string
  readonly gpu: number
  readonly arenaBytes: number
  readonly arenaUsed: number
  readonly arenaHighWater: number
  readonly contexts: ReadonlyArray<{ readonly model: number; readonly tokens: number; readonly capacity: number }>
  readonly models: ReadonlyArray<number>
  readonly refs: number
  readonly requests: number
  readonly tokens: number
  readonly queued: number
  readonly ageMs: number
}

/**
 * The session registry. A session lives in a scope under its owner's (a connection, or one HTTP request): closing
 * it — CloseSession, or the connection dropping — waits for its running request, then frees its refs, its model
 * references and its KV arena, in that order.
 */
export class Sessions extends Context.Service<Sessions, {
  readonly open: (owner: string, parent: Scope.Scope, hints: Hints) => Effect.Effect<Session, ServerError>
  readonly get: (owner: string, id: number) => Effect.Effect<Session, ServerError>
  readonly find: (owner: string, id: number) => Session | undefined
  readonly owned: (owner: string) => ReadonlyArray<Session>
  readonly close: (owner: string, id: number) => Effect.Effect<void, ServerError>
  /** The session holds a reference on a model it has used (released at close). */
  readonly useModel: (session: Session, model: ModelEntry) => void
  /** Drops every context of the session and empties its arena (a finalized request). */
  readonly reset: (session: Session) => void
  readonly list: () => ReadonlyArray<SessionStats>
  readonly count: () => number
}>()("djinn/server/Sessions") {
  static readonly layer = Layer.effect(
    Sessions,
    Effect.gen(function* () {
      const settings = yield* Settings
      const vmu = yield* Vmu
      const models = yield* Models
      const planner = yield* Planner
      const skeletonizer = yield* Skeletonizer
      const sessions = new Map<number, Session>()
      let nextId = 1

      const open = Effect.fn("Sessions.open")(function* (owner: string, parent: Scope.Scope, hints: Hints) {
        const id = nextId++ as SessionId
        const scope = yield* Scope.fork(parent)
        const build = Effect.gen(function* () {
          const gpu = planner.place(hints)
          const arena = yield* vmu.openArena(gpu, hints.kvBudgetBytes > 0 ? hints.kvBudgetBytes : settings.arenaBytes, `session ${id}`)
          let session: Session | undefined
          yield* Effect.addFinalizer(() => Effect.sync(() => {
            sessions.delete(id)
            if (session === undefined) return
            skeletonizer.freeAll(session)
            for (const m of session.models) models.release(m)
            session.models.clear()
            session.contexts.clear()
          }))
          const lane = yield* makeLane
          session = {
            id, owner, hints, gpu, arena, lane, scope,
            contexts: new Map(), models: new Set(), refs: new Map(),
            openedAt: performance.now(), requests: 0, tokens: 0, closing: false,
          }
          sessions.set(id, session)
          return session
        })
        return yield* build.pipe(
          Scope.provide(scope),
          Effect.onError((cause) => Scope.close(scope, Exit.failCause(cause))),
        )
      })

      const find = (owner: string, id: number): Session | undefined => {
        const s = sessions.get(id)
        return s === undefined || s.owner !== owner || s.closing ? undefined : s
      }
      const get = (owner: string, id: number) => Effect.suspend(() => {
        const s = find(owner, id)
        return s === undefined ? Effect.fail(serverError("NotFound", `no open session ${id} on this connection`)) : Effect.succeed(s)
      })

      const close = Effect.fn("Sessions.close")(function* (owner: string, id: number) {
        const s = yield* get(owner, id)
        s.closing = true
        yield* Scope.close(s.scope, Exit.void)
      })

      const stats = (s: Session): SessionStats => ({
        id: s.id,
        owner: s.owner,
        priority: s.hints.priority,
        gpu: s.gpu,
        arenaBytes: s.arena.capacity,
        arenaUsed: s.arena.used,
        arenaHighWater: s.arena.highWater,
        contexts: [...s.contexts].map(([model, c]) => ({ model, tokens: c.cache.length + (c.pending === undefined ? 0 : 1), capacity: c.cache.capacity })),
        models: [...s.models].map((m) => m.handle),
        refs: s.refs.size,
        requests: s.requests,
        tokens: s.tokens,
        queued: s.lane.pending(),
        ageMs: Math.round(performance.now() - s.openedAt),
      })

      return Sessions.of({
        open,
        get,
        find,
        owned: (owner) => [...sessions.values()].filter((s) => s.owner === owner),
        close,
        useModel: (session, model) => {
          if (session.models.has(model)) return
          session.models.add(model)
          models.retain(model)
        },
        reset: (session) => {
          session.contexts.clear()
          session.arena.reset()
        },
        list: () => [...sessions.values()].map(stats),
        count: () => sessions.size,
      })
    }),
  )
}
