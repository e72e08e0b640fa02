import type { DType, Input } from "@djinn/protocol"
import { Effect } from "effect"
import { serverError, type ServerError } from "./errors.ts"
import type { Session } from "./session.ts"
import type { Skeletonizer } from "./skeletonizer.ts"

const idsFromBytes = (bytes: Uint8Array, dtype: string): number[] => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const n = bytes.byteLength / 4
  const out = new Array<number>(n)
  for (let i = 0; i < n; i++) out[i] = dtype === "u32" ? view.getUint32(4 * i, true) : view.getInt32(4 * i, true)
  return out
}

const checkShape = (shape: ReadonlyArray<number>, dtype: string): ServerError | undefined => {
  if (dtype !== "i32" && dtype !== "u32") return serverError("BadRequest", `input_ids must be i32 or u32, got ${dtype}`)
  if (shape.length === 2 && shape[0] !== 1) return serverError("Unsupported", `batch ${shape[0]}: the engine runs batch 1`)
  if (shape.length !== 1 && shape.length !== 2) return serverError("BadRequest", `input_ids must be [T] or [1, T], got [${shape.join(", ")}]`)
  return undefined
}

/** The prompt of a request: an inline `input_ids` tensor, or a ref of the session holding ids. */
export const promptOf = (session: Session, inputs: ReadonlyArray<Input>, skeletonizer: Skeletonizer["Service"]): Effect.Effect<number[], ServerError> =>
  Effect.gen(function* () {
    const input = inputs.find((i) => i.name === "input_ids") ?? (inputs.length === 1 ? inputs[0] : undefined)
    if (input === undefined) return yield* serverError("BadRequest", `expected one input named input_ids, got [${inputs.map((i) => i.name).join(", ")}]`)
    if ("tensor" in input) {
      const bad = checkShape(input.tensor.shape, input.tensor.dtype)
      if (bad !== undefined) return yield* bad
      return idsFromBytes(input.tensor.data, input.tensor.dtype)
    }
    const { ref, data } = yield* skeletonizer.fetch(session, input.ref)
    const bad = checkShape(ref.shape, ref.dtype)
    if (bad !== undefined) return yield* bad
    return idsFromBytes(data, ref.dtype)
  })

/** An input's dtype, shape and bytes, wherever it came from. */
export interface HostTensor {
  readonly dtype: DType
  readonly shape: ReadonlyArray<number>
  readonly data: Uint8Array
}

/** Every input of a request by name: inline tensors as sent, refs read from the session's GPU. */
export const namedInputs = (session: Session, inputs: ReadonlyArray<Input>, skeletonizer: Skeletonizer["Service"]): Effect.Effect<Map<string, HostTensor>, ServerError> =>
  Effect.gen(function* () {
    const out = new Map<string, HostTensor>()
    for (const input of inputs) {
      if (out.has(input.name)) return yield* serverError("BadRequest", `input ${input.name} is given twice`)
      if ("tensor" in input) {
        out.set(input.name, input.tensor)
        continue
      }
      const { ref, data } = yield* skeletonizer.fetch(session, input.ref)
      out.set(input.name, { dtype: ref.dtype, shape: ref.shape, data })
    }
    return out
  })
