import { describe, expect, it } from "vitest"
import { preprocess } from "@djinn/gpu"
import { compileMessages, onNullDevice } from "../testing/harness.ts"
import { sgmat } from "./matmul.ts"

// No CI adapter runs subgroup matrices, but Dawn's null backend grants the feature: there Tint parses and resolves
// every variant's WGSL, so syntax and type errors (and the const_asserts that rule combinations out) show up without
// a GPU. The numeric cases are in sgmat.test.ts.

const TILES = [["TILE_128_8", "FM4"], ["TILE_128_4", "FM4", "FN4"], ["TILE_128_256", "FM4", "FN4"], ["TILE_256_128", "FM4", "FN4"], ["TILE_64"]]
/** The tiles that take SINGLE_STAGE ("128x128/4" would need eight staged pieces a thread). */
const SINGLE_STAGE_TILES = TILES.filter((t) => t[0] !== "TILE_128_4")

/** Tint's messages for the GEMM's WGSL with these defines, each prefixed with them. */
const compile = (device: GPUDevice, defines: string[]): Promise<string[]> =>
  compileMessages(device, preprocess(sgmat.spec.wgsl, { dtype: "f16", defines }), `${defines.join(",")}: `)

describe("matmul_sgmat's WGSL (Dawn null backend)", () => {
  it("a Tint check fails on SWIGLU with split-K or a residual, on PREFETCH2 or SINGLE_STAGE with SPLIT, and on SINGLE_STAGE with PREFETCH2 (the const_asserts hold)", async () => {
    const messages = await onNullDevice(async (device) => {
      const bad = [
        ...[["SPLITK"], ["RESIDUAL"]].map((extra) => ["W_NK", "SWIGLU", "GLU_BLOCKS", "ALIGNED", "TILE_256_128", "FM4", "FN4", "VEC_TILES", ...extra]),
        ...[["PREFETCH2"], ["PREFETCH2", "SWIGLU", "GLU_BLOCKS"], ["SINGLE_STAGE"]].map((extra) => ["W_NK", "ALIGNED", "TILE_256_128", "FM4", "FN4", "VEC_TILES", "SPLIT", ...extra]),
        ["W_NK", "ALIGNED", "TILE_128_8", "FM4", "VEC_TILES", "SINGLE_STAGE", "PREFETCH2"],
      ]
      const out: number[] = []
      for (const defines of bad) out.push((await compile(device, defines)).length)
      return out
    })
    if (messages === undefined) return
    expect(messages.every((n) => n > 0)).toBe(true)
  })

  it("every variant's WGSL passes Tint's validation", async () => {
    const messages = await onNullDevice(async (device) => {
      const out: string[] = []
      for (const layout of [[], ["W_NK"]]) {
        for (const aligned of [[], ["ALIGNED"]]) {
          for (const tile of TILES) {
            for (const epilogue of [[], ["BIAS", "GELU_TANH"], ["BIAS", "GELU_ERF"], ["BIAS", "RELU", "RESIDUAL", "RESIDUAL_PRE"], ["RESIDUAL"], ["RELU", "RESIDUAL", "RESIDUAL_PRE"]]) {
              for (const split of [[], ["SPLIT"], ["SPLIT", "STAGE8"], ["SPLITK"], ["SPLIT", "SPLITK"]]) {
                for (const vec of [[], ["VEC_TILES"]]) out.push(...await compile(device, [...layout, ...aligned, ...tile, ...epilogue, ...split, ...vec]))
              }
            }
          }
          // Loads two K-steps ahead (every tile), or one stage of deeper steps (the tiles that take it); never with
          // staging subgroups; with and without vec4 tiles and split-K.
          for (const [schedule, tiles] of [["PREFETCH2", TILES], ["SINGLE_STAGE", SINGLE_STAGE_TILES]] as const) {
            for (const tile of tiles) {
              for (const epilogue of [[], ["BIAS", "GELU_TANH"], ["BIAS", "RELU", "RESIDUAL", "RESIDUAL_PRE"]]) {
                for (const rest of [[], ["VEC_TILES"], ["SPLITK"], ["SPLITK", "VEC_TILES"]]) out.push(...await compile(device, [...layout, ...aligned, ...tile, ...epilogue, ...rest, schedule]))
              }
            }
          }
        }
      }
      // Every tile with its step's slices written out in the loop (the default of "64x64/4" only).
      for (const tile of SINGLE_STAGE_TILES) out.push(...await compile(device, ["W_NK", "ALIGNED", "BIAS", "VEC_TILES", "SINGLE_STAGE", "INLINE_STEP", ...tile]))
      out.push(...await compile(device, ["W_NK", "ALIGNED", "TILE_128_8", "FM4", "VEC_TILES", "SPLIT", "INLINE_STEP"]))
      // The single-stage loop's timing probes (the kernel runner's --probes).
      for (const tile of SINGLE_STAGE_TILES) {
        for (const probe of ["PROBE_NOSTAGE", "PROBE_NOMMA"]) out.push(...await compile(device, ["W_NK", "ALIGNED", "BIAS", "VEC_TILES", "SINGLE_STAGE", probe, ...tile]))
      }
      // SwiGLU's epilogue ("nk" W in blocks of gate and up rows; never with split-K or a residual).
      for (const aligned of [[], ["ALIGNED"]]) {
        for (const tile of TILES) {
          for (const bias of [[], ["BIAS"]]) {
            for (const split of [[], ["SPLIT"], ["SPLIT", "STAGE8"]]) {
              for (const vec of [[], ["VEC_TILES"]]) out.push(...await compile(device, ["W_NK", "SWIGLU", "GLU_BLOCKS", ...aligned, ...tile, ...bias, ...split, ...vec]))
            }
          }
          for (const vec of [[], ["VEC_TILES"]]) {
            for (const schedule of SINGLE_STAGE_TILES.includes(tile) ? ["PREFETCH2", "SINGLE_STAGE"] : ["PREFETCH2"]) {
              out.push(...await compile(device, ["W_NK", "SWIGLU", "GLU_BLOCKS", "BIAS", schedule, ...aligned, ...tile, ...vec]))
            }
          }
        }
      }
      for (const epilogue of [[], ["BIAS"], ["BIAS", "GELU_ERF"], ["GELU_TANH"], ["BIAS", "RELU", "RESIDUAL", "RESIDUAL_PRE"], ["RESIDUAL"], ["RELU", "RESIDUAL", "RESIDUAL_PRE"]]) {
        out.push(...await compileMessages(device, preprocess(sgmat.reduceSpec.wgsl, { dtype: "f16", defines: epilogue }), `reduce ${epilogue.join(",")}: `))
      }
      return out
    })
    if (messages === undefined) return
    expect(messages).toEqual([])
  })
})
