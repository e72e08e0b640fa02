// What one run of a workload computes, as plain data every baseline can carry: the model to load, the input of run
// i (seeded), and the output the run returns. No GPU here — the native worker, the rpc server and the Python peers
// all build the same inputs from the same (seed, workload, run) and are compared on these outputs.
import { createHash } from "node:crypto"
import type { Workload } from "../config.ts"

/** Where a workload's weights come from, as a process other than the harness can load them. */
export type ModelSource =
  /** A checkpoint folder: config.json + model.safetensors (a workload's `model_dir`, or exported synthetic weights). */
  | { readonly kind: "checkpoint"; readonly dir: string }
  /** Seeded synthetic weights (the engine's `syntheticWeights(seed)`) of the shape in `config`. */
  | { readonly kind: "synthetic"; readonly id: string; readonly config: Record<string, unknown>; readonly seed: number }

/** A model as a worker loads it: where from, and the arithmetic asked for. */
export interface ModelJob {
  readonly model: ModelSource
  readonly dtype: "float16" | "float32"
}

export type WorkInput =
  /** Greedy generation of `newTokens` after `ids` (a fresh KV cache each run: no state survives a run). */
  | { readonly kind: "generate"; readonly ids: ReadonlyArray<number>; readonly newTokens: number }
  /** One forward over `ids`, returning the logits of the last position (what the next token is chosen from). */
  | { readonly kind: "forward"; readonly ids: ReadonlyArray<number> }

export type WorkOutput =
  | { readonly kind: "tokens"; readonly tokens: ReadonlyArray<number> }
  | { readonly kind: "values"; readonly shape: ReadonlyArray<number>; readonly values: Float32Array }
  /** An endpoint that returns text only (an OpenAI-compatible server without token ids): recorded, not comparable. */
  | { readonly kind: "text"; readonly text: string }

/** A fast seeded generator (mulberry32): the same (seed, stream) gives the same sequence in every process. */
export const rng = (seed: number): (() => number) => {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const fnv1a = (s: string): number => {
  let h = 2166136261
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619)
  return h >>> 0
}

const vocabOf = (w: Workload, config: Record<string, unknown> | undefined): number => {
  const v = config?.vocab_size
  return typeof v === "number" && Number.isInteger(v) && v > 0 ? v : 50257
}

/**
 * The input of run `index` of a workload: prompt ids drawn uniformly from the vocabulary with a stream seeded by
 * (experiment seed, workload name, index). Warm-up run k uses index k of the measured runs, so a repeated prompt
 * also checks that a baseline is deterministic. `config` is the model's config (for the vocabulary size).
 */
export const workInput = (w: Workload, seed: number, index: number, config: Record<string, unknown> | undefined): WorkInput => {
  switch (w.implementation) {
    case "hf_causal_lm": {
      const next = rng((seed ^ fnv1a(`${w.name}#${index}`)) >>> 0)
      const vocab = vocabOf(w, config)
      const ids = Array.from({ length: w.params.prompt_length }, () => Math.floor(next() * vocab))
      return w.params.new_tokens > 0 ? { kind: "generate", ids, newTokens: w.params.new_tokens } : { kind: "forward", ids }
    }
    default:
      throw new Error(`workload ${w.name}: implementation ${w.implementation} has no inputs yet`)
  }
}

/** sha256 over the output's canonical bytes: token ids as i32 LE, values as f32 LE with the shape. */
export const outputDigest = (o: WorkOutput): string => {
  const h = createHash("sha256")
  if (o.kind === "tokens") {
    h.update("tokens:")
    h.update(new Uint8Array(Int32Array.from(o.tokens).buffer))
  } else if (o.kind === "text") {
    h.update(`text:${o.text}`)
  } else {
    h.update(`values:${o.shape.join("x")}:`)
    h.update(new Uint8Array(o.values.buffer, o.values.byteOffset, o.values.byteLength))
  }
  return h.digest("hex")
}

/** Bytes of the payload a client gets back (token ids as i32, values as f32). */
export const outputBytes = (o: WorkOutput): number =>
  o.kind === "tokens" ? 4 * o.tokens.length : o.kind === "text" ? Buffer.byteLength(o.text) : 4 * o.values.length

/** Generated tokens of a run, for `tokens_generated`. */
export const tokensOf = (o: WorkOutput): number | null => (o.kind === "tokens" ? o.tokens.length : null)

// JSON (worker lines, Python) carries values as base64 of f32 LE.
export type WorkOutputJson =
  | { readonly kind: "tokens"; readonly tokens: ReadonlyArray<number> }
  | { readonly kind: "text"; readonly text: string }
  | { readonly kind: "values"; readonly shape: ReadonlyArray<number>; readonly values_b64: string }

export const outputToJson = (o: WorkOutput): WorkOutputJson =>
  o.kind !== "values"
    ? o
    : { kind: "values", shape: o.shape, values_b64: Buffer.from(o.values.buffer, o.values.byteOffset, o.values.byteLength).toString("base64") }

export const outputFromJson = (j: WorkOutputJson): WorkOutput => {
  if (j.kind !== "values") return j
  const b = Buffer.from(j.values_b64, "base64")
  const copy = new Uint8Array(b.byteLength)
  copy.set(b)
  return { kind: "values", shape: j.shape, values: new Float32Array(copy.buffer) }
}
