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
  /** An encoder forward over `batch` × `seq` ids (row-major), returning last_hidden_state [batch, seq, hidden]. */
  | { readonly kind: "encode"; readonly ids: ReadonlyArray<number>; readonly batch: number; readonly seq: number }
  /** A classifier forward over NCHW images drawn from `seed` (see `pixels`), returning logits [N, classes]. */
  | { readonly kind: "classify"; readonly seed: number; readonly shape: readonly [number, number, number, number] }

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
    case "synthetic_transformer": {
      const next = rng((seed ^ fnv1a(`${w.name}#${index}`)) >>> 0)
      const vocab = vocabOf(w, config)
      const ids = Array.from({ length: w.batch_size * w.params.seq_len }, () => Math.floor(next() * vocab))
      return { kind: "encode", ids, batch: w.batch_size, seq: w.params.seq_len }
    }
    case "hf_vision":
      return { kind: "classify", seed: (seed ^ fnv1a(`${w.name}#${index}`)) >>> 0, shape: [w.batch_size, w.params.channels, w.params.image_size, w.params.image_size] }
  }
}

/** The images of a classify input: values uniform in [-1, 1) (normalised pixels), the same in every process. */
export const pixels = (input: Extract<WorkInput, { kind: "classify" }>): Float32Array => {
  const next = rng(input.seed)
  const n = input.shape.reduce((a, b) => a * b, 1)
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) out[i] = 2 * next() - 1
  return out
}

/** Bytes of the input tensor a remote call ships (ids as i32, images as f32). */
export const inputTensorBytes = (input: WorkInput, images?: Float32Array): Uint8Array =>
  input.kind === "classify" ? new Uint8Array((images ?? pixels(input)).buffer) : new Uint8Array(Int32Array.from(input.ids).buffer)

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
