import { engineError, SafetensorsCheckpoint, toFloat32, type StDType, type WeightSource } from "@djinn/engine"
import type { DType } from "@djinn/protocol"
import type { FingerprintTensor } from "./fingerprint.ts"

const TO_WIRE: Partial<Record<StDType, DType>> = { F32: "f32", F16: "f16", BF16: "bf16", I32: "i32", U8: "u8", I8: "i8" }
const TO_ST: Partial<Record<DType, StDType>> = { f32: "F32", f16: "F16", bf16: "BF16", i32: "I32", u8: "U8", i8: "I8" }

/** A checkpoint tensor in the wire's dtypes: I64 becomes i32 and F64 f32 (the wire has neither). */
export const wireTensor = (name: string, dtype: StDType, shape: readonly number[], bytes: Uint8Array): FingerprintTensor => {
  const direct = TO_WIRE[dtype]
  if (direct !== undefined) return { name, dtype: direct, shape, bytes }
  const copy = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)
  if (dtype === "I64") return { name, dtype: "i32", shape, bytes: new Uint8Array(Int32Array.from(new BigInt64Array(copy), (x) => Number(x)).buffer) }
  return { name, dtype: "f32", shape, bytes: new Uint8Array(Float32Array.from(new Float64Array(copy)).buffer) }
}

/** Every tensor of a checkpoint folder in wire form (read once, for the fingerprint of a preloaded model). */
export function* checkpointTensors(dir: string): Generator<FingerprintTensor> {
  const ckpt = SafetensorsCheckpoint.open(dir)
  for (const [name] of ckpt.tensors) {
    const raw = ckpt.read(name)
    yield wireTensor(name, raw.dtype, raw.shape, raw.bytes)
  }
}

/** Uploaded tensors as the engine's weight source. */
export const uploadedWeights = (tensors: ReadonlyMap<string, FingerprintTensor>): WeightSource => ({
  kind: "checkpoint",
  has: (name) => tensors.has(name),
  get: (name, expected) => {
    const t = tensors.get(name)
    if (t === undefined) throw engineError("MissingTensor", `tensor '${name}' was not uploaded`)
    if (t.shape.length !== expected.length || t.shape.some((d, i) => d !== expected[i])) {
      throw engineError("TensorShape", `tensor '${name}' has shape [${t.shape.join(", ")}], expected [${expected.join(", ")}]`)
    }
    const st = TO_ST[t.dtype]
    if (st === undefined) throw engineError("Unsupported", `tensor '${name}': dtype ${t.dtype} is not a weight dtype`)
    return toFloat32({ dtype: st, shape: t.shape, bytes: t.bytes })
  },
})
