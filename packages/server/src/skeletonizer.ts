import type { DType as GpuDType, GpuDevice } from "@djinn/gpu"
import { DTYPE_BYTES, shapeElements, type DType, type RefId, type RemoteRef } from "@djinn/protocol"
import { Context, Effect, Layer } from "effect"
import { serverError, toServerError, type ServerError } from "./errors.ts"
import { Executor } from "./executor.ts"
import type { Session } from "./session.ts"
import { Vmu } from "./vmu.ts"

export interface DeviceRange {
  readonly buffer: number
  readonly offset: number
}

/**
 * The skeletonizer: a request's outputs stay on the GPU as remote references {id, shape, dtype, byteSize}; their
 * bytes cross the network only when the client fetches them. Refs belong to a session and die with it.
 */
export class Skeletonizer extends Context.Service<Skeletonizer, {
  /** Records a copy of a tensor into a ref buffer (runs with the job's next submit). */
  readonly keep: (session: Session, device: GpuDevice, src: DeviceRange, shape: ReadonlyArray<number>, dtype: GpuDType | "i32") => RemoteRef
  readonly fetch: (session: Session, id: number) => Effect.Effect<{ readonly ref: RemoteRef; readonly data: Uint8Array }, ServerError>
  readonly free: (session: Session, ids: ReadonlyArray<number>) => Effect.Effect<void, ServerError>
  readonly freeAll: (session: Session) => void
}>()("djinn/server/Skeletonizer") {
  static readonly layer = Layer.effect(
    Skeletonizer,
    Effect.gen(function* () {
      const executor = yield* Executor
      const vmu = yield* Vmu
      let nextRef = 1

      const keep = (session: Session, device: GpuDevice, src: DeviceRange, shape: ReadonlyArray<number>, dtype: DType): RemoteRef => {
        const byteSize = (shapeElements(shape) ?? 0) * DTYPE_BYTES[dtype]
        const buffer = vmu.allocRef(session.gpu, byteSize)
        device.copy(src.buffer, src.offset, buffer, 0, Math.ceil(byteSize / 4) * 4)
        const ref = { id: nextRef++ as RefId, dtype, shape: [...shape], byteSize }
        session.refs.set(ref.id, { ref, buffer, gpu: session.gpu })
        return ref
      }

      const entry = (session: Session, id: number) => {
        const e = session.refs.get(id)
        return e === undefined ? Effect.fail(serverError("NotFound", `session ${session.id} has no ref ${id}`)) : Effect.succeed(e)
      }

      const fetch = Effect.fn("Skeletonizer.fetch")(function* (session: Session, id: number) {
        const e = yield* entry(session, id)
        // A ref is complete once its request has replied, so reading it needs no executor turn.
        const data = yield* Effect.tryPromise({
          try: () => executor.slots[e.gpu].device.read(e.buffer, 0, Math.ceil(e.ref.byteSize / 4) * 4),
          catch: toServerError,
        })
        return { ref: e.ref, data: data.byteLength === e.ref.byteSize ? data : data.subarray(0, e.ref.byteSize) }
      })

      const release = (session: Session, id: number) => {
        const e = session.refs.get(id)
        if (e === undefined) return false
        session.refs.delete(id)
        vmu.freeRef(e.gpu, e.buffer, e.ref.byteSize)
        return true
      }

      const free = Effect.fn("Skeletonizer.free")(function* (session: Session, ids: ReadonlyArray<number>) {
        const unknown = ids.filter((id) => !release(session, id))
        if (unknown.length > 0) return yield* serverError("NotFound", `session ${session.id} has no refs ${unknown.join(", ")}`)
      })

      return Skeletonizer.of({
        keep,
        fetch,
        free,
        freeAll: (session) => { for (const id of [...session.refs.keys()]) release(session, id) },
      })
    }),
  )
}
