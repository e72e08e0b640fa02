import type { Variant } from "./types.ts"

/**
 * The one, small source transformation kernels get (the raw .wgsl stays valid WGSL for its default variant):
 * - `// #if NAME`, `// #else`, `// #endif` keep or drop lines by the variant's defines (nestable);
 * - a line ending in `// @dtype` has `f32` replaced by the variant's dtype;
 * - dtype f16 prepends `enable f16;`.
 */
export const preprocess = (source: string, variant: Variant = {}): string => {
  const defines = new Set(variant.defines ?? [])
  const dtype = variant.dtype ?? "f32"
  if (dtype === "f16") defines.add("F16")
  const out: string[] = []
  const stack: { active: boolean; taken: boolean }[] = []
  const active = () => stack.every((s) => s.active)
  let lineNo = 0
  for (const line of source.split("\n")) {
    lineNo++
    const directive = /^\s*\/\/\s*#(if|else|endif)\b\s*(!?\w+)?/.exec(line)
    if (directive !== null) {
      const [, kind, arg] = directive
      if (kind === "if") {
        if (arg === undefined) throw new Error(`wgsl preprocess: line ${lineNo}: #if needs a name`)
        const negated = arg.startsWith("!")
        const on = defines.has(negated ? arg.slice(1) : arg) !== negated
        stack.push({ active: on, taken: on })
      } else if (kind === "else") {
        const top = stack.at(-1)
        if (top === undefined) throw new Error(`wgsl preprocess: line ${lineNo}: #else without #if`)
        top.active = !top.taken
        top.taken = true
      } else {
        if (stack.pop() === undefined) throw new Error(`wgsl preprocess: line ${lineNo}: #endif without #if`)
      }
      continue
    }
    if (!active()) continue
    out.push(/\/\/\s*@dtype\s*$/.test(line) ? line.replace(/\bf32\b/g, dtype) : line)
  }
  if (stack.length > 0) throw new Error("wgsl preprocess: unterminated #if")
  return (dtype === "f16" ? "enable f16;\n" : "") + out.join("\n")
}

/** A stable key for a (kernel, variant) pair: the pipeline cache's key and the wire's variant key. */
export const variantKey = (kernel: string, variant: Variant = {}): string => {
  const defines = [...(variant.defines ?? [])].sort().join(",")
  const constants = Object.entries(variant.constants ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join(",")
  return `${kernel}|${variant.dtype ?? "f32"}|${defines}|${constants}`
}

/**
 * A cheaper key for a pipeline cache's hot path: the variant as written (defines and constants in the caller's order,
 * nothing sorted or copied). A kernel that spells its variant the same way every call always gets the same string,
 * and the cache maps it to the pipeline of the canonical `variantKey`. Names are length-prefixed, so no two written
 * variants share a fast key (a define "A,B" is not ["A", "B"]).
 */
export const fastVariantKey = (kernel: string, variant: Variant): string => {
  let key = kernel.length + ":" + kernel + (variant.dtype ?? "f32") + "|"
  const defines = variant.defines
  if (defines !== undefined) for (let i = 0; i < defines.length; i++) key += defines[i].length + ":" + defines[i]
  key += "|"
  const constants = variant.constants
  if (constants !== undefined) for (const name in constants) key += name.length + ":" + name + "=" + constants[name] + ";"
  return key
}
