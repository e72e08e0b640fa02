/**
 * Inputs for perf cases, too large to draw element by element in JavaScript: a buffer of n elements holds
 * `block[i % PERIOD]` for one seeded random block, written in large chunks. The CPU reference reads the same
 * function of i, so outputs can be checked at sampled positions.
 */
import { f32ToF16, type BufferId, type DType, type GpuDevice } from "@djinn/gpu"
import { randomFloats, roundF16 } from "../testing/harness.ts"

/** Even (f16 chunks stay 4-byte aligned) and no multiple of the row lengths the cases use. */
export const PERIOD = 1_048_582

export interface Periodic {
  readonly dtype: DType
  /** One period, as the GPU sees it (rounded through f16 for f16). */
  readonly block: Float32Array
  /** A few periods as bytes of the dtype, for writing. */
  readonly chunk: Uint8Array
}

export const periodic = (seed: number, dtype: DType, lo = -1, hi = 1): Periodic => {
  let block = randomFloats(PERIOD, seed, lo, hi)
  if (dtype === "f16") block = roundF16(block)
  const one = dtype === "f16" ? new Uint8Array(f32ToF16(block).buffer) : new Uint8Array(block.buffer)
  const chunk = new Uint8Array(one.byteLength * 4)
  for (let r = 0; r < 4; r++) chunk.set(one, r * one.byteLength)
  return { dtype, block, chunk }
}

/** Writes `elements` elements of the periodic data into `buffer` from its start. */
export const fill = (gpu: GpuDevice, buffer: BufferId, elements: number, data: Periodic): void => {
  const size = elements * (data.dtype === "f16" ? 2 : 4)
  for (let offset = 0; offset < size; offset += data.chunk.byteLength) {
    gpu.writeBuffer(buffer, offset, data.chunk.subarray(0, Math.min(data.chunk.byteLength, size - offset)))
  }
}
