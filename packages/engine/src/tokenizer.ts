import { decode, encode } from "gpt-tokenizer/encoding/r50k_base"
import { engineError } from "./errors.ts"

export interface Tokenizer {
  encode(text: string): number[]
  decode(ids: readonly number[]): string
}

/** GPT-2's byte-level BPE (r50k_base), from the maintained `gpt-tokenizer` package. */
export const gpt2Tokenizer: Tokenizer = {
  encode: (text) => encode(text),
  decode: (ids) => decode([...ids]),
}

export const tokenizerFor = (modelType: string): Tokenizer => {
  if (modelType === "gpt2") return gpt2Tokenizer
  throw engineError("Unsupported", `no tokenizer for model_type '${modelType}': pass token ids`)
}
