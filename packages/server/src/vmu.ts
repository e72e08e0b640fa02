import type { BufferId } from "@djinn/gpu"
import { alignUp, type Allocation, type Memory, type Segment } from "@djinn/engine"
import { Context, Effect, Layer, type Scope } from "effect"
import { BumpArena, StackArena } from "./arena.ts"
import { Settings } from "./config.ts"
import { serverError, type ServerError } from "./errors.ts"
import { Executor } from "./executor.ts"

const KB = 1024
const human = (n: number) => (n >= 1024 * KB ? `${(n / (1024 * KB)).toFixed(1)} MB` : `${(n / KB).toFixed(1)} KB`)

/** A model's weights on one GPU: one buffer per tensor, freed together. */
export interface ModelText {
  readonly memory: Memory
  readonly bytes: () => number
  readonly free: () => void
}

export interface SegmentStats {
  readonly bytes: number
  readonly used: number
}

export interface VmuStats {
  readonly gpus: ReadonlyArray<{
    readonly gpu: number
    readonly text: { readonly bytes: number; readonly allocations: number; readonly models: number }
    readonly data: { readonly bytes: number; readonly used: number; readonly arenas: number }
    readonly stack: { readonly bytes: number; readonly used: number; readonly highWater: number; readonly budget: number }
    readonly refs: { readonly bytes: number; readonly count: number }
    readonly blind: { readonly namespaces: number }
  }>
  readonly text: SegmentStats
  readonly data: SegmentStats & { readonly arenas: number }
  readonly stack: SegmentStats
  readonly refs: SegmentStats & { readonly count: number }
}

interface GpuMemory {
  readonly stack: StackArena
  readonly arenas: Set<BumpArena>
  textBytes: number
  textAllocations: number
  models: number
  refBytes: number
  refCount: number
  blindNamespaces: number
}

/**
 * The VMU: GPU memory split like a process image. text = weights (loaded once per model, shared, freed with the
 * model); data = one KV arena per session (one GPU buffer, bump-allocated, freed whole); stack = activations
 * (per GPU, all returned after every request — a pool of buffers, see StackArena). Refs (skeletonized outputs) get
 * buffers of their own.
 */
export class Vmu extends Context.Service<Vmu, {
  readonly openArena: (gpu: number, bytes: number, owner: string) => Effect.Effect<BumpArena, ServerError, Scope.Scope>
  readonly modelText: (gpu: number, label: string) => ModelText
  /** The Memory a request runs with: data from the session's arena, stack from the GPU's stack, no text. */
  readonly requestMemory: (gpu: number, arena: BumpArena | undefined, owner: string) => Memory
  readonly resetStack: (gpu: number) => void
  readonly allocRef: (gpu: number, bytes: number) => BufferId
  readonly freeRef: (gpu: number, buffer: BufferId, bytes: number) => void
  readonly blindNamespace: (gpu: number, delta: 1 | -1) => void
  readonly stats: () => VmuStats
}>()("djinn/server/Vmu") {
  static readonly layer = Layer.effect(
    Vmu,
    Effect.gen(function* () {
      const settings = yield* Settings
      const executor = yield* Executor
      const gpus: GpuMemory[] = []
      for (const slot of executor.slots) {
        const stack = yield* Effect.acquireRelease(
          Effect.sync(() => new StackArena(slot.device, settings.stackBytes)),
          (s) => Effect.sync(() => s.destroy()),
        )
        gpus.push({ stack, arenas: new Set(), textBytes: 0, textAllocations: 0, models: 0, refBytes: 0, refCount: 0, blindNamespaces: 0 })
      }
      const device = (gpu: number) => executor.slots[gpu].device

      const openArena = (gpu: number, bytes: number, owner: string) =>
        Effect.acquireRelease(
          Effect.suspend(() => {
            const max = executor.slots[gpu].adapter.limits.maxBufferSize
            if (bytes > max) return Effect.fail(serverError("OutOfMemory", `${owner}: an arena of ${human(bytes)} exceeds the GPU's maxBufferSize (${human(max)})`))
            const arena = new BumpArena(device(gpu), bytes, `arena:${owner}`, (need, free, capacity) =>
              serverError("ArenaExhausted", `${owner}: needs ${human(need)} more, the KV arena has ${human(free)} free of ${human(capacity)}`))
            gpus[gpu].arenas.add(arena)
            return Effect.succeed(arena)
          }),
          (arena) => Effect.sync(() => {
            gpus[gpu].arenas.delete(arena)
            arena.destroy()
          }),
        )

      const modelText = (gpu: number, label: string): ModelText => {
        const buffers: Allocation[] = []
        const mem = gpus[gpu]
        mem.models++
        let freed = false
        return {
          memory: {
            alloc: (bytes: number, segment: Segment, name?: string) => {
              if (segment !== "text") throw serverError("Internal", `${label}: loading asked for ${segment} memory`)
              const size = alignUp(Math.max(bytes, 4))
              const a = { buffer: device(gpu).createBuffer(size, `${label}:${name ?? "w"}`), offset: 0, size }
              buffers.push(a)
              mem.textBytes += size
              mem.textAllocations++
              return a
            },
            release: () => {},
          },
          bytes: () => buffers.reduce((n, a) => n + a.size, 0),
          free: () => {
            if (freed) return
            freed = true
            mem.models--
            for (const a of buffers) {
              device(gpu).destroyBuffer(a.buffer)
              mem.textBytes -= a.size
              mem.textAllocations--
            }
          },
        }
      }

      const requestMemory = (gpu: number, arena: BumpArena | undefined, owner: string): Memory => ({
        alloc: (bytes, segment, label) => {
          if (segment === "stack") return gpus[gpu].stack.alloc(bytes, label)
          if (segment === "data") {
            if (arena === undefined) throw serverError("Internal", `${owner}: no KV arena`)
            return arena.alloc(bytes)
          }
          throw serverError("Internal", `${owner}: a request asked for text memory`)
        },
        release: () => {},
      })

      const allocRef = (gpu: number, bytes: number): BufferId => {
        const size = alignUp(Math.max(bytes, 4))
        const buffer = device(gpu).createBuffer(size, "ref")
        gpus[gpu].refBytes += size
        gpus[gpu].refCount++
        return buffer
      }
      const freeRef = (gpu: number, buffer: BufferId, bytes: number) => {
        device(gpu).destroyBuffer(buffer)
        gpus[gpu].refBytes -= alignUp(Math.max(bytes, 4))
        gpus[gpu].refCount--
      }

      const stats = (): VmuStats => {
        const per = gpus.map((m, gpu) => {
          let bytes = 0
          let used = 0
          for (const a of m.arenas) { bytes += a.capacity; used += a.used }
          return {
            gpu,
            text: { bytes: m.textBytes, allocations: m.textAllocations, models: m.models },
            data: { bytes, used, arenas: m.arenas.size },
            stack: { bytes: m.stack.held, used: m.stack.used, highWater: m.stack.highWater, budget: m.stack.capacity },
            refs: { bytes: m.refBytes, count: m.refCount },
            blind: { namespaces: m.blindNamespaces },
          }
        })
        const sum = (f: (p: (typeof per)[number]) => number) => per.reduce((n, p) => n + f(p), 0)
        return {
          gpus: per,
          text: { bytes: sum((p) => p.text.bytes), used: sum((p) => p.text.bytes) },
          data: { bytes: sum((p) => p.data.bytes), used: sum((p) => p.data.used), arenas: sum((p) => p.data.arenas) },
          stack: { bytes: sum((p) => p.stack.bytes), used: sum((p) => p.stack.used) },
          refs: { bytes: sum((p) => p.refs.bytes), used: sum((p) => p.refs.bytes), count: sum((p) => p.refs.count) },
        }
      }

      return Vmu.of({
        openArena,
        modelText,
        requestMemory,
        resetStack: (gpu) => gpus[gpu].stack.reset(),
        allocRef,
        freeRef,
        blindNamespace: (gpu, delta) => { gpus[gpu].blindNamespaces += delta },
        stats,
      })
    }),
  )
}
