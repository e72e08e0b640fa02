import type { DType, TensorInfo } from "./domain/common.ts"
import { createHash } from "node:crypto"

/**
 * A model's content fingerprint: sha256 over the canonical config JSON (keys sorted) and every tensor in name order
 * (name, dtype, shape, bytes in wire form). The client computes the same digest before uploading, so a server that
 * already holds the content is found by LookupModel and nothing is sent; the server recomputes it from the bytes it
 * received and never trusts the client's claim. Client and server both use this one function.
 */
export const canonicalJson = (value: unknown): string => {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value).sort()
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(",")}}`
  }
  return JSON.stringify(value) ?? "null"
}

export interface FingerprintTensor {
  readonly name: string
  readonly dtype: DType
  readonly shape: ReadonlyArray<number>
  readonly bytes: Uint8Array
}

export const modelFingerprint = (config: unknown, tensors: Iterable<FingerprintTensor>, synthetic?: { seed: number }): string => {
  const h = createHash("sha256")
  h.update("djinn-model-v1\0")
  h.update(canonicalJson(config))
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  for (const t of sorted) {
    h.update(`\0${t.name}\0${t.dtype}\0${t.shape.join(",")}\0${t.bytes.byteLength}\0`)
    h.update(t.bytes)
  }
  if (synthetic !== undefined) h.update(`\0synthetic\0${synthetic.seed}`)
  return h.digest("hex")
}

export const tensorInfoOf = (t: FingerprintTensor): TensorInfo => ({ name: t.name, dtype: t.dtype, shape: [...t.shape] })
