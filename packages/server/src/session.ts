import type { BufferId } from "@djinn/gpu"
import type { KvCache } from "@djinn/engine"
import type { Hints, RemoteRef, SessionId } from "@djinn/protocol"
import type { Scope } from "effect"
import type { BumpArena } from "./arena.ts"
import type { Lane } from "./lane.ts"
import type { ModelEntry } from "./models.ts"

/** A session's running context for one model: its KV cache (in the session arena) and the token not yet in it. */
export interface SessionContext {
  readonly cache: KvCache
  /** The last generated token: computed, but not yet fed through the model (the next request starts with it). */
  pending: number | undefined
}

/** A skeletonized output: kept on the GPU in a buffer of its own until fetched and freed, or the session ends. */
export interface RefEntry {
  readonly ref: RemoteRef
  readonly buffer: BufferId
  readonly gpu: number
}

/** One client session: placed on a GPU, with a private KV arena, per-model contexts, refs and a request lane. */
export interface Session {
  readonly id: SessionId
  readonly owner: string
  readonly hints: Hints
  readonly gpu: number
  readonly arena: BumpArena
  readonly contexts: Map<number, SessionContext>
  readonly models: Set<ModelEntry>
  readonly refs: Map<number, RefEntry>
  /** Requests of a session run in order (its KV cache grows request after request). */
  readonly lane: Lane
  readonly scope: Scope.Closeable
  readonly openedAt: number
  requests: number
  tokens: number
  closing: boolean
}
