import { SafetensorsCheckpoint, type StDType } from "@djinn/engine"
import type { BodyOf, DType, ModelHandle, ModelKey, TensorInfo } from "@djinn/protocol"
import { existsSync, readFileSync } from "node:fs"
import { basename, join, resolve } from "node:path"
import type { Connection } from "./connection.ts"
import { clientError, type ClientError } from "./errors.ts"
import { canonicalJson, modelFingerprint, type FingerprintTensor } from "./fingerprint.ts"
import { sumTimings, type CallTimings } from "./timings.ts"

/** A model the server holds, as this client refers to it. */
export interface RemoteModel {
  readonly handle: ModelHandle
  readonly key: ModelKey
  readonly paramBytes: number
  /** How the server came to have it: already there, loaded by id, or uploaded by this call. */
  readonly via: "found" | "loaded" | "uploaded"
  readonly timings: CallTimings
}

export interface ModelSpec {
  /** A checkpoint folder (config.json + safetensors): looked up by content fingerprint, uploaded when missing. */
  readonly modelDir?: string
  /** A known model id the server can load itself (synthetic weights of its shape); `id?seed=N` picks the seed. */
  readonly modelId?: string
  /** The name the server lists the model under (default: the folder's name). */
  readonly name?: string
}

const TO_WIRE: Partial<Record<StDType, DType>> = { F32: "f32", F16: "f16", BF16: "bf16", I32: "i32", U8: "u8", I8: "i8" }

/** A checkpoint tensor in the wire's dtypes (I64 → i32, F64 → f32), exactly as the server's preload reads it. */
const wireTensor = (name: string, dtype: StDType, shape: readonly number[], bytes: Uint8Array): FingerprintTensor => {
  const direct = TO_WIRE[dtype]
  if (direct !== undefined) return { name, dtype: direct, shape, bytes }
  const copy = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)
  if (dtype === "I64") return { name, dtype: "i32", shape, bytes: new Uint8Array(Int32Array.from(new BigInt64Array(copy), (x) => Number(x)).buffer) }
  return { name, dtype: "f32", shape, bytes: new Uint8Array(Float32Array.from(new Float64Array(copy)).buffer) }
}

/** A checkpoint folder, read lazily: config, tensor list, fingerprint. */
export class LocalModel {
  readonly dir: string
  readonly configJson: string
  readonly config: unknown
  private readonly ckpt: SafetensorsCheckpoint
  private readonly names: string[]
  private digest: string | undefined

  constructor(dir: string) {
    this.dir = resolve(dir)
    const configPath = join(this.dir, "config.json")
    if (!existsSync(configPath)) throw clientError("Input", `${configPath}: no such file`)
    this.configJson = readFileSync(configPath, "utf8")
    try {
      this.config = JSON.parse(this.configJson)
    } catch (cause) {
      throw clientError("Input", `${configPath}: not valid JSON (${(cause as Error).message})`)
    }
    this.ckpt = SafetensorsCheckpoint.open(this.dir)
    this.names = [...this.ckpt.tensors.keys()].sort()
  }

  tensor(name: string): FingerprintTensor {
    const raw = this.ckpt.read(name)
    return wireTensor(name, raw.dtype, raw.shape, raw.bytes)
  }

  *tensors(): Generator<FingerprintTensor> {
    for (const name of this.names) yield this.tensor(name)
  }

  infos(): TensorInfo[] {
    return this.names.map((name) => {
      const t = this.ckpt.tensors.get(name)!
      const dtype = TO_WIRE[t.dtype] ?? (t.dtype === "I64" ? "i32" : "f32")
      return { name, dtype, shape: [...t.shape] }
    })
  }

  fingerprint(): string {
    return (this.digest ??= modelFingerprint(this.config, this.tensors()))
  }

  canonicalConfig(): string {
    return canonicalJson(this.config)
  }
}

const CHUNK_BYTES = 8 * 1024 * 1024
/** Chunks in flight during an upload: enough to fill the pipe, few enough to bound the memory both ends hold. */
const WINDOW = 8

const info = (m: BodyOf<"ModelInfo">, via: RemoteModel["via"], timings: CallTimings): RemoteModel =>
  ({ handle: m.handle, key: m.key, paramBytes: m.paramBytes, via, timings })

/** Uploads a checkpoint: RegisterModel, every tensor in chunks (a bounded window in flight), CommitModel. */
const upload = async (conn: Connection, model: LocalModel, key: ModelKey): Promise<RemoteModel> => {
  const infos = model.infos()
  const registered = await conn.call({ _tag: "RegisterModel", key, configJson: model.configJson, tensors: infos }, ["ModelInfo"])
  const handle = registered.body.handle
  const timings: CallTimings[] = [registered.timings]
  const inFlight: Promise<unknown>[] = []
  for (const [tensorIndex, t] of infos.entries()) {
    const bytes = model.tensor(t.name).bytes
    for (let offset = 0; offset < bytes.byteLength || (offset === 0 && bytes.byteLength === 0); offset += CHUNK_BYTES) {
      if (inFlight.length >= WINDOW) await inFlight.shift()
      const data = bytes.subarray(offset, Math.min(offset + CHUNK_BYTES, bytes.byteLength))
      inFlight.push(conn.call({ _tag: "WeightChunk", modelHandle: handle, tensorIndex, offset, data }, ["Ack"]).then((r) => timings.push(r.timings)))
      if (bytes.byteLength === 0) break
    }
  }
  await Promise.all(inFlight)
  const committed = await conn.call({ _tag: "CommitModel", modelHandle: handle }, ["ModelInfo"])
  timings.push(committed.timings)
  return info(committed.body, "uploaded", sumTimings(timings))
}

/**
 * Makes sure the server holds a model and returns its handle: a known id is loaded by the server itself; a folder
 * is looked up by content fingerprint and uploaded only when the server lacks it.
 */
export const ensureModel = async (conn: Connection, spec: ModelSpec): Promise<RemoteModel> => {
  if ((spec.modelDir === undefined) === (spec.modelId === undefined)) throw clientError("Input", "a model needs exactly one of modelDir or modelId")
  if (spec.modelId !== undefined) {
    const r = await conn.call({ _tag: "LoadModel", key: { id: spec.modelId, fingerprint: "" } }, ["ModelInfo"])
    return info(r.body, "loaded", r.timings)
  }
  const local = new LocalModel(spec.modelDir!)
  const key: ModelKey = { id: spec.name ?? basename(local.dir), fingerprint: local.fingerprint() }
  try {
    const r = await conn.call({ _tag: "LookupModel", key }, ["ModelInfo"])
    return info(r.body, "found", r.timings)
  } catch (e) {
    if ((e as ClientError).code !== "notFound") throw e
  }
  return upload(conn, local, key)
}
