import { describe, expect, it } from "vitest"
import { preprocess, variantKey } from "../src/index.ts"

const src = ["alias E = f32; // @dtype", "// #if MUL", "let a = 1;", "// #else", "let a = 2;", "// #endif", "// #if !F16", "let b = 3;", "// #endif"].join("\n")

describe("WGSL preprocessing", () => {
  it("keeps the default branch and f32 by default", () => {
    expect(preprocess(src)).toBe("alias E = f32; // @dtype\nlet a = 2;\nlet b = 3;")
  })
  it("switches dtype, defines and negated defines", () => {
    expect(preprocess(src, { dtype: "f16", defines: ["MUL"] })).toBe("enable f16;\nalias E = f16; // @dtype\nlet a = 1;")
  })
  it("rejects unbalanced directives", () => {
    expect(() => preprocess("// #if A\nx")).toThrow(/unterminated/)
    expect(() => preprocess("// #endif")).toThrow(/without #if/)
    expect(() => preprocess("// #else")).toThrow(/without #if/)
  })
  it("keys variants stably regardless of order", () => {
    expect(variantKey("k", { defines: ["B", "A"], constants: { y: 2, x: 1 } })).toBe(variantKey("k", { defines: ["A", "B"], constants: { x: 1, y: 2 } }))
    expect(variantKey("k", { dtype: "f16" })).not.toBe(variantKey("k"))
  })
})
