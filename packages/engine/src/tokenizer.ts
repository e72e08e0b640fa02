import { decode, encode } from "gpt-tokenizer/encoding/r50k_base"
import llama from "llama-tokenizer-js"
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

/**
 * Llama / Llama-2's SentencePiece BPE (32000 pieces), from the maintained `llama-tokenizer-js` package, which ships the
 * vocabulary inside it (no download). Encoding adds BOS and the leading space, as HF's LlamaTokenizer does; decoding
 * drops BOS and the leading space SentencePiece puts before the first word.
 */
export const llamaTokenizer: Tokenizer = {
  encode: (text) => llama.encode(text, true, true),
  decode: (ids) => llama.decode(ids.filter((id) => id !== 1), false, true),
}

export const tokenizerFor = (modelType: string): Tokenizer => {
  if (modelType === "gpt2") return gpt2Tokenizer
  if (modelType === "llama") return llamaTokenizer
  throw engineError("Unsupported", `no tokenizer for model_type '${modelType}': pass token ids`)
}
