// The tensor-core attention alone, per launch shape and timing probe (sgmat_variants.ts), at Llama-2-7B's prefill
// shapes (32 heads, head_dim 128, causal, f16) of 1024 and 512 tokens: GPU timestamps around runs of one layer's
// attention. Skipped unless DJINN_FLASH_BENCH is set (it needs subgroup matrices: the H100); on the GPU host, from the
// bundle: DJINN_FLASH_BENCH=1 node test-flash_bench.mjs. DJINN_FLASH_BENCH_VARIANTS picks variants ("q64,q64+nostage,
// q128,q128:old" — ":old" for the old softmax; default: the 64-row kernel, each probe, each other shape, the 64-row kernel again); with OUT set, the
// medians also go to $OUT/flash-bench.json.
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { envVar, openGpu, type GpuDevice } from "@djinn/gpu"
import { registry } from "../index.ts"
import { usable as tensorCores } from "../matmul/sgmat.ts"
import { randomFloats, upload } from "../testing/harness.ts"
import { measure, median } from "../testing/perf.ts"
import { encode, type AttentionArgs } from "./attention.ts"
import { parseSgmatName, SGMAT_PROBES, SGMAT_SHAPES, sgmatName, type SgmatShape, type SgmatVariant } from "./sgmat_variants.ts"

const ON = (envVar("DJINN_FLASH_BENCH") ?? "0") !== "0"
const LAYERS = 32

const variants = (): SgmatVariant[] => {
  const named = envVar("DJINN_FLASH_BENCH_VARIANTS")
  if (named !== undefined && named !== "") {
    return named.split(",").map(parseSgmatName)
  }
  const q64: SgmatVariant = { shape: "q64", probes: [] }
  const others = (Object.keys(SGMAT_SHAPES) as SgmatShape[]).filter((s) => s !== "q64").map((shape) => ({ shape, probes: [] }))
  return [q64, ...SGMAT_PROBES.map((x) => ({ shape: "q64" as const, probes: [x] })), ...others, q64]
}

/** One layer's attention at T tokens, Llama-2-7B's layout (q and the cache as the model holds them). */
const layer = (gpu: GpuDevice, T: number) => {
  const H = 32, hd = 128, D = H * hd
  const q = upload(gpu, randomFloats(T * D, 1), "f16")
  const k = upload(gpu, randomFloats(T * D, 2), "f16")
  const v = upload(gpu, randomFloats(T * D, 3), "f16")
  const out = { buffer: gpu.createBuffer(T * D * 2) }
  return (sgmat: SgmatVariant): AttentionArgs => ({
    q, k, v, out, B: 1, T, S: T, H, Hkv: H, headDim: hd, qStride: D, kStride: D, vStride: D, outStride: D,
    causal: true, queryPos0: 0, scale: 1 / Math.sqrt(hd), dtype: "f16", kernel: "flash_sgmat", sgmat,
  })
}

describe("flash_sgmat bench", async () => {
  const gpu = ON ? await openGpu(registry, { profiling: true }) : undefined
  it.skipIf(gpu === undefined || !tensorCores(gpu.adapter))("times every variant at 1024 and 512 tokens (µs a layer, ms over 32 layers)", async () => {
    const g = gpu!
    const shapes = [1024, 512].map((T) => ({ T, args: layer(g, T) }))
    const rows: { variant: string; T: number; us?: number; samples?: readonly number[]; error?: string }[] = []
    for (const variant of variants()) {
      const cells: string[] = []
      for (const { T, args } of shapes) {
        try {
          const a = args(variant)
          const timing = await measure(g, { encode: () => encode(g, a), rotation: 1, validate: () => Promise.reject(new Error("unused")), dispose: () => {} }, {
            warmup: 2, reps: 7, minSampleUs: 20000, maxInner: 64, warmupMs: 150,
          })
          const us = median(timing.samplesUs)
          rows.push({ variant: sgmatName(variant), T, us, samples: timing.samplesUs })
          cells.push(`${T}: ${us.toFixed(1).padStart(7)} µs (x${LAYERS} = ${((us * LAYERS) / 1000).toFixed(2).padStart(6)} ms)`)
        } catch (e) {
          const error = String(e instanceof Error ? e.message : e).split("\n")[0]
          rows.push({ variant: sgmatName(variant), T, error })
          cells.push(`${T}: failed (${error})`)
        }
      }
      console.log(`[flash-bench] ${sgmatName(variant).padEnd(16)} ${cells.join("   ")}`)
    }
    const out = envVar("OUT")
    if (out !== undefined) writeFileSync(join(out, "flash-bench.json"), JSON.stringify({ adapter: g.adapter.description, rows }, null, 1))
    expect(rows.some((r) => r.us !== undefined)).toBe(true)
  })
})
