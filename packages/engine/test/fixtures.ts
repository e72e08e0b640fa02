import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { SafetensorsCheckpoint, toFloat32, toInt32 } from "../src/index.ts"

/** ../shared/fixtures beside the repository (CI has it at the same relative path); DJINN_FIXTURES elsewhere (a bundle on the GPU host). */
export const fixturesDir = process.env.DJINN_FIXTURES !== undefined
  ? `${process.env.DJINN_FIXTURES.replace(/\/$/, "")}/`
  : fileURLToPath(new URL("../../../../shared/fixtures/", import.meta.url))
export const fixture = (name: string): string => `${fixturesDir}${name}`

export interface Golden {
  readonly inputIds: Int32Array
  readonly inputShape: readonly number[]
  readonly outputs: Map<string, { shape: readonly number[]; data: Float32Array }>
  readonly json: { input_ids?: number[]; greedy_32?: number[]; greedy_margins?: number[] }
}

export const golden = (name: string): Golden => {
  const ckpt = SafetensorsCheckpoint.file(fixture(`${name}/golden.safetensors`))
  const outputs = new Map<string, { shape: readonly number[]; data: Float32Array }>()
  for (const [k] of ckpt.tensors) {
    if (k === "input_ids" || k === "attention_mask" || k === "token_type_ids") continue
    const raw = ckpt.read(k)
    outputs.set(k, { shape: raw.shape, data: toFloat32(raw) })
  }
  const ids = ckpt.has("input_ids") ? ckpt.read("input_ids") : undefined
  return {
    inputIds: ids === undefined ? new Int32Array() : toInt32(ids),
    inputShape: ids?.shape ?? [],
    outputs,
    json: JSON.parse(readFileSync(fixture(`${name}/golden.json`), "utf8")),
  }
}

export const relError = (out: ArrayLike<number>, ref: ArrayLike<number>): number => {
  let num = 0
  let den = 0
  for (let i = 0; i < ref.length; i++) {
    const d = out[i] - ref[i]
    if (Number.isNaN(d)) return Infinity
    num += d * d
    den += ref[i] * ref[i]
  }
  return Math.sqrt(num / den)
}

/** Greedy tokens must agree up to the first step whose margin is within the path's numeric error. */
export const comparableSteps = (margins: readonly number[], minMargin: number): number => {
  const i = margins.findIndex((m) => m < minMargin)
  return i === -1 ? margins.length : i
}
