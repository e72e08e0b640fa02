import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { engineError } from "./errors.ts"

/** safetensors dtypes we read; all others are rejected with a typed error. */
export type StDType = "F32" | "F16" | "BF16" | "I32" | "I64" | "U8" | "I8" | "F64"
const BYTES: Record<StDType, number> = { F32: 4, F16: 2, BF16: 2, I32: 4, I64: 8, U8: 1, I8: 1, F64: 8 }

export interface TensorInfo {
  readonly name: string
  readonly dtype: StDType
  readonly shape: readonly number[]
  /** Absolute byte range in the file. */
  readonly start: number
  readonly end: number
  readonly file: string
}

export interface RawTensor {
  readonly dtype: StDType
  readonly shape: readonly number[]
  readonly bytes: Uint8Array
}

const MAX_HEADER = 100 * 1024 * 1024

/** Reads a safetensors header: 8-byte little-endian length, then JSON. Validates every entry against the file size. */
export const readHeader = (file: string): Map<string, TensorInfo> => {
  let fd: number
  try {
    fd = openSync(file, "r")
  } catch (cause) {
    throw engineError("ModelFile", `cannot open ${file}: ${(cause as Error).message}`)
  }
  try {
    const size = fstatSync(fd).size
    const head = Buffer.alloc(8)
    if (size < 8 || readSync(fd, head, 0, 8, 0) !== 8) throw engineError("ModelFile", `${file}: too short for a safetensors header`)
    const n = Number(head.readBigUInt64LE(0))
    if (n > MAX_HEADER || 8 + n > size) throw engineError("ModelFile", `${file}: header length ${n} exceeds the file (${size} bytes)`)
    const json = Buffer.alloc(n)
    readSync(fd, json, 0, n, 8)
    let parsed: unknown
    try {
      parsed = JSON.parse(json.toString("utf8"))
    } catch {
      throw engineError("ModelFile", `${file}: header is not valid JSON`)
    }
    if (typeof parsed !== "object" || parsed === null) throw engineError("ModelFile", `${file}: header is not an object`)
    const base = 8 + n
    const out = new Map<string, TensorInfo>()
    for (const [name, entry] of Object.entries(parsed as Record<string, unknown>)) {
      if (name === "__metadata__") continue
      const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown }
      if (typeof e.dtype !== "string" || !(e.dtype in BYTES)) throw engineError("ModelFile", `${file}: tensor '${name}' has unsupported dtype ${String(e.dtype)}`)
      if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) throw engineError("ModelFile", `${file}: tensor '${name}' has a bad shape`)
      if (!Array.isArray(e.data_offsets) || e.data_offsets.length !== 2) throw engineError("ModelFile", `${file}: tensor '${name}' has bad data_offsets`)
      const [s, t] = e.data_offsets as number[]
      const dtype = e.dtype as StDType
      const count = (e.shape as number[]).reduce((a, b) => a * b, 1)
      if (!(Number.isInteger(s) && Number.isInteger(t) && s >= 0 && t - s === count * BYTES[dtype] && base + t <= size)) {
        throw engineError("ModelFile", `${file}: tensor '${name}' byte range [${s}, ${t}) does not match its shape or the file`)
      }
      out.set(name, { name, dtype, shape: e.shape as number[], start: base + s, end: base + t, file })
    }
    return out
  } finally {
    closeSync(fd)
  }
}

/** A checkpoint: one `model.safetensors`, or shards listed by `model.safetensors.index.json`. Tensors read lazily. */
export class SafetensorsCheckpoint {
  readonly tensors: ReadonlyMap<string, TensorInfo>

  constructor(tensors: ReadonlyMap<string, TensorInfo>) {
    this.tensors = tensors
  }

  static open(dir: string): SafetensorsCheckpoint {
    const index = join(dir, "model.safetensors.index.json")
    if (existsSync(index)) {
      let map: Record<string, string>
      try {
        map = (JSON.parse(readFileSync(index, "utf8")) as { weight_map: Record<string, string> }).weight_map
      } catch (cause) {
        throw engineError("ModelFile", `${index}: ${(cause as Error).message}`)
      }
      if (typeof map !== "object" || map === null) throw engineError("ModelFile", `${index}: no weight_map`)
      const all = new Map<string, TensorInfo>()
      for (const shard of new Set(Object.values(map))) for (const [k, v] of readHeader(join(dir, shard))) all.set(k, v)
      return new SafetensorsCheckpoint(all)
    }
    const single = join(dir, "model.safetensors")
    if (!existsSync(single)) throw engineError("ModelFile", `${dir}: no model.safetensors or model.safetensors.index.json`)
    return new SafetensorsCheckpoint(readHeader(single))
  }

  static file(path: string): SafetensorsCheckpoint {
    return new SafetensorsCheckpoint(readHeader(path))
  }

  has(name: string): boolean {
    return this.tensors.has(name)
  }

  read(name: string): RawTensor {
    const info = this.tensors.get(name)
    if (info === undefined) throw engineError("MissingTensor", `tensor '${name}' is not in the checkpoint`)
    const fd = openSync(info.file, "r")
    try {
      const bytes = new Uint8Array(info.end - info.start)
      let done = 0
      while (done < bytes.byteLength) {
        const n = readSync(fd, bytes, done, Math.min(bytes.byteLength - done, 1 << 30), info.start + done)
        if (n <= 0) throw engineError("ModelFile", `${info.file}: short read of '${name}'`)
        done += n
      }
      return { dtype: info.dtype, shape: info.shape, bytes }
    } finally {
      closeSync(fd)
    }
  }
}

/** Converts a raw tensor to f32 values (ints convert exactly up to 2^24). */
export const toFloat32 = (t: RawTensor): Float32Array => {
  const { bytes } = t
  const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)
  switch (t.dtype) {
    case "F32": return new Float32Array(buf)
    case "F64": return Float32Array.from(new Float64Array(buf))
    case "I32": return Float32Array.from(new Int32Array(buf))
    case "I64": return Float32Array.from(new BigInt64Array(buf), (x) => Number(x))
    case "U8": return Float32Array.from(new Uint8Array(buf))
    case "I8": return Float32Array.from(new Int8Array(buf))
    case "F16": {
      const h = new Uint16Array(buf)
      const out = new Float32Array(h.length)
      for (let i = 0; i < h.length; i++) out[i] = halfToFloat(h[i])
      return out
    }
    case "BF16": {
      const h = new Uint16Array(buf)
      const u = new Uint32Array(h.length)
      for (let i = 0; i < h.length; i++) u[i] = h[i] << 16
      return new Float32Array(u.buffer)
    }
  }
}

export const toInt32 = (t: RawTensor): Int32Array => {
  const buf = t.bytes.buffer.slice(t.bytes.byteOffset, t.bytes.byteOffset + t.bytes.byteLength)
  if (t.dtype === "I32") return new Int32Array(buf)
  if (t.dtype === "I64") return Int32Array.from(new BigInt64Array(buf), (x) => Number(x))
  return Int32Array.from(toFloat32(t))
}

const halfToFloat = (h: number): number => {
  const sign = h & 0x8000 ? -1 : 1
  const exp = (h >>> 10) & 0x1f
  const mant = h & 0x3ff
  if (exp === 0) return sign * mant * 2 ** -24
  if (exp === 0x1f) return mant !== 0 ? NaN : sign * Infinity
  return sign * (1 + mant / 1024) * 2 ** (exp - 15)
}

export interface TensorOut {
  readonly dtype: "F32" | "I32"
  readonly shape: readonly number[]
  readonly data: Float32Array | Int32Array
}

/** Writes tensors as one safetensors file (8-byte aligned data, as the reference writer does). */
export const writeSafetensors = (path: string, tensors: Record<string, TensorOut>): void => {
  const header: Record<string, unknown> = {}
  let offset = 0
  const parts: Uint8Array[] = []
  for (const [name, t] of Object.entries(tensors)) {
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes.byteLength] }
    parts.push(bytes)
    offset += bytes.byteLength
  }
  let json = JSON.stringify(header)
  json += " ".repeat((8 - ((json.length + 8) % 8)) % 8)
  const head = Buffer.alloc(8)
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)))
  writeFileSync(path, Buffer.concat([head, Buffer.from(json), ...parts]))
}
