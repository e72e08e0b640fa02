// Same computation or not: every baseline's outputs are compared with the reference baseline's (native) run by run
// — each measured run i of every baseline gets the same input, so their outputs must agree. Tokens must be identical;
// values (logits, hidden states) within the caller's tolerance and with the same argmax (run.ts: a few ULPs for our
// own systems, a looser bound for PyTorch).
import type { WorkOutput } from "../engine/work.ts"
import type { RunOutcome } from "./baseline.ts"

export interface Verdict {
  /** null = not checked (no reference outputs, no successful run). */
  readonly match: boolean | null
  readonly detail: string | null
}

export interface Tolerance {
  /** Max ‖got − ref‖∞ / ‖ref‖∞ for values; 0 = bit-exact. */
  readonly relative: number
}

export const EXACT: Tolerance = { relative: 0 }

/** Compares one output with the reference's; `null` when equal (within tolerance), else what differs. */
export const compareOutput = (ref: WorkOutput, got: WorkOutput, tol: Tolerance): { readonly differs: string | null; readonly note?: string } => {
  if (got.kind === "text" && ref.kind === "text") return { differs: got.text === ref.text ? null : "texts differ" }
  if (ref.kind !== got.kind) return { differs: `got ${got.kind}, reference has ${ref.kind}` }
  if (ref.kind === "tokens" && got.kind === "tokens") {
    if (ref.tokens.length !== got.tokens.length) return { differs: `${got.tokens.length} tokens, reference has ${ref.tokens.length}` }
    const i = ref.tokens.findIndex((t, k) => t !== got.tokens[k])
    return { differs: i < 0 ? null : `token ${i} is ${got.tokens[i]}, reference ${ref.tokens[i]} (first ${i} equal)` }
  }
  if (ref.kind === "values" && got.kind === "values") {
    if (ref.values.length !== got.values.length) return { differs: `${got.values.length} values, reference has ${ref.values.length}` }
    let maxErr = 0, maxRef = 0
    for (let k = 0; k < ref.values.length; k++) {
      maxErr = Math.max(maxErr, Math.abs(ref.values[k] - got.values[k]))
      maxRef = Math.max(maxRef, Math.abs(ref.values[k]))
    }
    const rel = maxRef === 0 ? maxErr : maxErr / maxRef
    if (Number.isNaN(rel) || rel > tol.relative) return { differs: `relative error ${rel.toExponential(2)} > ${tol.relative}` }
    // Per row (the last dimension: a classifier's top-1 per image, a logits row's next token) the argmax can only
    // differ where the reference's top two are within twice the error of each other — a near-tie the tolerance
    // already allows. Such flips are reported in the note, not as a difference.
    const n = ref.shape.at(-1) ?? ref.values.length
    const flips: string[] = []
    for (let row = 0; row * n < ref.values.length; row++) {
      let a1 = row * n, g1 = row * n
      for (let k = row * n; k < (row + 1) * n; k++) {
        if (ref.values[k] > ref.values[a1]) a1 = k
        if (got.values[k] > got.values[g1]) g1 = k
      }
      if (g1 !== a1) flips.push(`row ${row}: ${g1 - row * n} for ${a1 - row * n} (${(ref.values[a1] - ref.values[g1]).toExponential(1)} apart)`)
    }
    if (flips.length > 0) return { differs: null, note: `relative error ${rel.toExponential(2)}; argmax near-ties ${flips.slice(0, 3).join(", ")}` }
    return { differs: null, ...(rel > 0 ? { note: `relative error ${rel.toExponential(2)}` } : {}) }
  }
  return { differs: "incomparable outputs" }
}

const errorOf = (note: string): number => Number(/relative error (\S+?);?(\s|$)/.exec(note)?.[1] ?? 0)
const worst = (notes: ReadonlyArray<string>) => notes.reduce((a, b) => (errorOf(b) > errorOf(a) ? b : a))

const byIndex = (outcomes: ReadonlyArray<RunOutcome>) => {
  const m = new Map<number, WorkOutput>()
  for (const o of outcomes) if (o.record.ok && o.output !== null) m.set(o.record.run, o.output)
  return m
}

/** A baseline's measured runs against the reference's measured runs, index by index. */
export const judge = (reference: ReadonlyArray<RunOutcome> | null, runs: ReadonlyArray<RunOutcome>, tol: Tolerance, refName: string): Verdict => {
  if (reference === null) return { match: null, detail: `no ${refName} outputs to compare with` }
  const ref = byIndex(reference)
  const got = byIndex(runs)
  const pairs = [...got.keys()].filter((i) => ref.has(i)).sort((a, b) => a - b)
  if (pairs.length === 0) return { match: null, detail: `no run with outputs on both sides` }
  if (pairs.some((i) => got.get(i)!.kind === "text" && ref.get(i)!.kind !== "text")) {
    return { match: null, detail: `the endpoint returned text without token ids: not comparable with ${refName}'s tokens` }
  }
  const notes: Array<string> = []
  for (const i of pairs) {
    const c = compareOutput(ref.get(i)!, got.get(i)!, tol)
    if (c.differs !== null) return { match: false, detail: `run ${i}: ${c.differs}` }
    if (c.note) notes.push(c.note)
  }
  const how = notes.length === 0 ? "identical" : `equal within ${tol.relative}`
  return { match: true, detail: `${pairs.length} runs ${how} to ${refName}${notes.length > 0 ? `; worst ${worst(notes)}` : ""}` }
}

/**
 * The reference against itself: warm-up k and measured run k had the same input, so equal outputs show the reference
 * is deterministic (the precondition for comparing anyone with it). Without warm-up runs nothing is checked.
 */
export const judgeReference = (warmups: ReadonlyArray<RunOutcome>, runs: ReadonlyArray<RunOutcome>): Verdict => {
  const w = byIndex(warmups)
  const r = byIndex(runs)
  const pairs = [...w.keys()].filter((i) => r.has(i))
  if (pairs.length === 0) return { match: null, detail: "reference baseline (no repeated input to check determinism)" }
  for (const i of pairs) {
    const c = compareOutput(w.get(i)!, r.get(i)!, EXACT)
    if (c.differs !== null) return { match: false, detail: `reference is not deterministic: run ${i} vs its warm-up: ${c.differs}` }
  }
  return { match: true, detail: `reference baseline; deterministic (${pairs.length} repeated inputs identical)` }
}
