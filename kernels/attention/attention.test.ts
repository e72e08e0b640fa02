import { describe, expect, it } from "vitest"
import { bytesOf, compileMessages, dtypesOf, guardedOutput, onNullDevice, randomFloats, relError, roundF16, testDevice, tolerance, upload } from "../testing/harness.ts"
import { preprocess, type GpuDevice } from "@djinn/gpu"
import { usable as tensorCores } from "../matmul/sgmat.ts"
import { encode, flashPlan, flashSgmatSpec, plan, reference, route, type AttentionShape, type Route } from "./attention.ts"
import { parseSgmatName, parseSgmatVariant, routedSgmat, SGMAT_PROBES, SGMAT_SHAPES, sgmatDefines, sgmatName, type SgmatShape, type SgmatVariant } from "./sgmat_variants.ts"

type Layout = Omit<AttentionShape, "scale">
interface Case { name: string; shape: Layout; fused?: boolean; mask?: (b: number, s: number) => number; splits?: number; nanPadding?: boolean; kernel?: Route; sgmat?: SgmatVariant; scale?: number }

// Elements a tensor view spans: offset + last batch + last row + one row of heads.
const extent = (offset: number | undefined, batch: number, B: number, stride: number, rows: number, width: number) =>
  (offset ?? 0) + (B - 1) * batch + (rows - 1) * stride + width

const gpt2Fused = (T: number, H: number, hd: number): Layout => {
  const D = H * hd
  return { B: 1, T, S: T, H, Hkv: H, headDim: hd, qStride: 3 * D, kStride: 3 * D, vStride: 3 * D, outStride: D, kOffset: D, vOffset: 2 * D, causal: true }
}
const dense = (B: number, T: number, S: number, H: number, Hkv: number, hd: number, causal: boolean, queryPos0 = 0): Layout =>
  ({ B, T, S, H, Hkv, headDim: hd, qStride: H * hd, kStride: Hkv * hd, vStride: Hkv * hd, outStride: H * hd, causal, queryPos0 })

const cases: Case[] = [
  { name: "decode from a KV cache, S=300, hd=64 (3 splits)", shape: dense(1, 1, 300, 4, 4, 64, true, 299) },
  { name: "decode from a KV cache, S=300, hd=64, unsplit", shape: dense(1, 1, 300, 4, 4, 64, true, 299), splits: 1 },
  {
    name: "batched GQA 8/2 decode, S=600, hd=128, left padding holding NaN",
    shape: dense(2, 1, 600, 8, 2, 128, true, 599),
    mask: (b, s) => (b === 1 && s < 37 ? 0 : 1),
    nanPadding: true,
  },
  { name: "causal prefill T=S=300 in 3 forced splits (late splits empty for early queries), hd=8", shape: dense(1, 300, 300, 2, 2, 8, true), splits: 3 },
  { name: "decode S=1, hd=8", shape: dense(1, 1, 1, 2, 2, 8, true, 0) },
  { name: "GPT-2 prefill from fused qkv, hd=8", shape: gpt2Fused(13, 3, 8), fused: true },
  { name: "tiny-gpt2 prefill, hd=1", shape: gpt2Fused(7, 2, 1), fused: true },
  { name: "BERT non-causal, B=2 padding mask, hd=64", shape: dense(2, 17, 17, 2, 2, 64, false), mask: (b, s) => (b === 1 && s >= 12 ? 0 : 1) },
  { name: "GQA 4/2 chunked prefill after 32 tokens, hd=128", shape: dense(1, 5, 37, 4, 2, 128, true, 32) },
  {
    name: "batched decode, left padding, a fully masked batch, KV capacity 24",
    shape: { ...dense(2, 1, 20, 2, 1, 8, true, 19), kvBatchStride: 24 * 8 },
    mask: (b, s) => (b === 0 && s >= 4 ? 1 : 0),
  },
  {
    name: "unaligned offsets, gapped out rows, explicit batch strides",
    shape: { ...dense(2, 3, 5, 2, 2, 8, false), qOffset: 3, kOffset: 5, vOffset: 7, outOffset: 9, outStride: 20, qBatchStride: 50, kvBatchStride: 90, outBatchStride: 70 },
  },
  { name: "causal prefill, 130 keys (two blocks), hd=128", shape: dense(1, 130, 130, 1, 1, 128, true) },
  { name: "short prompt (streaming kernel) after 290 tokens in 2 forced splits, hd=64", shape: dense(1, 10, 300, 2, 2, 64, true, 290), splits: 2 },
  // Query-tiled (flash.wgsl) shapes: T ≥ 16.
  { name: "flash: Llama-like causal prefill T=S=77 (tile remainder), hd=128", shape: dense(1, 77, 77, 2, 2, 128, true) },
  { name: "flash: GQA 8/2 prompt appended to a cache, T=40, S=100, queryPos0=60, hd=64", shape: dense(1, 40, 100, 8, 2, 64, true, 60) },
  { name: "flash: GQA 8/2 appended prompt in 3 forced splits, hd=64", shape: dense(1, 40, 100, 8, 2, 64, true, 60), splits: 3 },
  { name: "flash: hd=40 (a partial head-dim chunk), non-causal T=S=50", shape: dense(1, 50, 50, 3, 3, 40, false) },
  { name: "flash: hd=37 (element loads), causal T=33, S=45, queryPos0=12", shape: dense(1, 33, 45, 2, 1, 37, true, 12) },
  { name: "flash: hd=37 in 2 forced splits", shape: dense(1, 33, 45, 2, 1, 37, true, 12), splits: 2 },
  { name: "flash: hd=72 (3 head-dim chunks), causal T=S=40", shape: dense(1, 40, 40, 2, 2, 72, true) },
  { name: "flash: BERT-base-like fused qkv, hd=64", shape: { ...gpt2Fused(70, 3, 64), causal: false }, fused: true },
  {
    name: "flash: B=2 padding mask holding NaN, a query with no key, GQA 4/1, hd=64",
    shape: dense(2, 24, 24, 4, 1, 64, true),
    mask: (b, s) => (b === 1 && s < 9 ? 0 : 1),
    nanPadding: true,
  },
  {
    name: "flash: a fully masked batch comes out as zeros, split keys",
    shape: dense(2, 20, 70, 2, 2, 16, true, 50),
    mask: (b, s) => (b === 0 && s >= 4 ? 1 : 0),
    splits: 2,
  },
  {
    name: "flash: unaligned offsets, gapped out rows, explicit batch strides, B=2",
    shape: { ...dense(2, 19, 23, 2, 2, 8, false), qOffset: 3, kOffset: 5, vOffset: 7, outOffset: 9, outStride: 20, qBatchStride: 400, kvBatchStride: 400, outBatchStride: 390 },
  },
  {
    name: "flash: aligned batch strides with KV capacity, B=2, causal, hd=128",
    shape: { ...dense(2, 18, 30, 2, 2, 128, true, 12), kvBatchStride: 40 * 256, qBatchStride: 20 * 256, outBatchStride: 19 * 256 },
  },
  { name: "flash: 64-row tiles (many heads), GQA 256/64, queryPos0=30, hd=8", shape: dense(1, 100, 130, 256, 64, 8, true, 30) },
  { name: "flash: 64-row tiles, hd=128, non-causal", shape: dense(1, 64, 40, 400, 400, 128, false) },
  // Tensor cores (flash_sgmat.wgsl): f16 only, where the adapter has subgroup matrices (the H100), forced here.
  { name: "flash_sgmat: Llama-like causal prefill T=S=77 (tile and block remainders), hd=128", shape: dense(1, 77, 77, 2, 2, 128, true), kernel: "flash_sgmat" },
  { name: "flash_sgmat: GQA 8/2 prompt appended to a cache, T=40, S=100, queryPos0=60, hd=64", shape: dense(1, 40, 100, 8, 2, 64, true, 60), kernel: "flash_sgmat" },
  { name: "flash_sgmat: non-causal, fewer keys than queries T=64, S=40, hd=128", shape: dense(1, 64, 40, 4, 4, 128, false), kernel: "flash_sgmat" },
  { name: "flash_sgmat: BERT-base-like fused qkv, hd=64, non-causal", shape: { ...gpt2Fused(70, 3, 64), causal: false }, fused: true, kernel: "flash_sgmat" },
  {
    name: "flash_sgmat: B=2, KV capacity past S holding NaN, offsets and batch strides, causal, hd=128",
    shape: { ...dense(2, 33, 33, 2, 1, 128, true), kvBatchStride: 48 * 128, qOffset: 8, outOffset: 16, outStride: 2 * 128 + 8 },
    kernel: "flash_sgmat",
  },
  { name: "flash_sgmat: Llama-2-7B-like 512-token prefill, 32 heads, hd=128", shape: dense(1, 512, 512, 32, 32, 128, true), kernel: "flash_sgmat" },
  // The new softmax takes the scale's sign into q at staging.
  { name: "flash_sgmat: negative scale, causal T=S=96, hd=64", shape: dense(1, 96, 96, 4, 2, 64, true), kernel: "flash_sgmat", scale: -0.2 },
]
// The tensor-core kernel's other launch shapes (sgmat_variants.ts), on the same cases.
const sgmatCases = cases.filter((c) => c.kernel === "flash_sgmat")
for (const shape of Object.keys(SGMAT_SHAPES) as SgmatShape[]) {
  if (shape !== "q64") for (const c of sgmatCases) cases.push({ ...c, name: `${c.name} [${shape}]`, sgmat: { shape, probes: [] } })
}
// And the old softmax (DJINN_FLASH_SOFTMAX=old, kept for A/B) in every shape.
for (const shape of Object.keys(SGMAT_SHAPES) as SgmatShape[]) {
  for (const c of sgmatCases) cases.push({ ...c, name: `${c.name} [${shape}:old]`, sgmat: { shape, probes: [], softmax: "old" } })
}

describe("attention", async () => {
  const gpu = await testDevice()
  for (const dtype of dtypesOf(gpu)) {
    for (const c of cases) {
      const skip = c.kernel === "flash_sgmat" && (dtype !== "f16" || !tensorCores(gpu.adapter))
      it.skipIf(skip)(`${dtype} ${c.name}${c.kernel === "flash_sgmat" ? " (skipped without subgroup matrices)" : ""}`, async () => {
        const s = { ...c.shape, scale: c.scale ?? 1 / Math.sqrt(c.shape.headDim) }
        const qBatch = s.qBatchStride ?? s.T * s.qStride
        const kBatch = s.kvBatchStride ?? s.S * s.kStride
        const vBatch = s.kvBatchStride ?? s.S * s.vStride
        const oBatch = s.outBatchStride ?? s.T * s.outStride
        const kvWidth = s.Hkv * s.headDim
        const round = (x: Float32Array) => (dtype === "f16" ? roundF16(x) : x)
        let q: Float32Array, k: Float32Array, v: Float32Array
        let qb, kb, vb
        if (c.fused) {
          q = k = v = round(randomFloats(s.T * s.qStride, s.T * s.headDim))
          qb = kb = vb = upload(gpu, q, dtype)
        } else {
          q = round(randomFloats(extent(s.qOffset, qBatch, s.B, s.qStride, s.T, s.H * s.headDim), 1))
          k = round(randomFloats(extent(s.kOffset, kBatch, s.B, s.kStride, s.S, kvWidth), 2))
          v = round(randomFloats(extent(s.vOffset, vBatch, s.B, s.vStride, s.S, kvWidth), 3))
          // Masked cache rows may hold anything: their weight is 0 and must not turn NaN into the output.
          // KV capacity past S may hold anything too (an unwritten cache).
          if (s.kvBatchStride !== undefined && c.kernel === "flash_sgmat") for (let b = 0; b + 1 < s.B; b++) v.fill(NaN, (s.vOffset ?? 0) + b * vBatch + s.S * s.vStride, (s.vOffset ?? 0) + (b + 1) * vBatch)
          if (c.nanPadding) for (let b = 0; b < s.B; b++) for (let j = 0; j < s.S; j++) if (c.mask!(b, j) === 0) v.fill(NaN, (s.vOffset ?? 0) + b * vBatch + j * s.vStride, (s.vOffset ?? 0) + b * vBatch + j * s.vStride + kvWidth)
          qb = upload(gpu, q, dtype); kb = upload(gpu, k, dtype); vb = upload(gpu, v, dtype)
        }
        const before = round(randomFloats(extent(s.outOffset, oBatch, s.B, s.outStride, s.T, s.H * s.headDim), 4))
        const out = guardedOutput(gpu, before.length, dtype)
        gpu.writeBuffer(out.binding.buffer, out.binding.offset!, bytesOf(before, dtype))
        const mask = c.mask && Int32Array.from({ length: s.B * s.S }, (_, i) => c.mask!(Math.floor(i / s.S), i % s.S))
        encode(gpu, { ...s, q: qb, k: kb, v: vb, out: out.binding, dtype, splits: c.splits, kernel: c.kernel, sgmat: c.sgmat, ...(mask ? { mask: upload(gpu, mask, "i32") } : {}) })
        const got = await out.read()
        const ref = reference(q, k, v, before, { ...s, mask })
        expect(relError(got, ref)).toBeLessThan(tolerance(dtype))
        if (c.mask && s.causal && !c.nanPadding) {
          // The fully masked batch (b = 1) comes out as zeros.
          const row = got.slice((s.outOffset ?? 0) + oBatch, (s.outOffset ?? 0) + oBatch + s.H * s.headDim)
          expect(row.every((x) => x === 0)).toBe(true)
        }
      })
    }
  }
  it("splits decode-shaped calls over keys, not prefill", () => {
    // Pieces of 64 keys: 300 keys → 5 splits; Llama-2-7B at context 513 → 9 per head; 4096 keys over 32 heads → 32.
    expect(plan({ ...dense(1, 1, 300, 4, 4, 64, true, 299), scale: 1 }).splits).toBe(5)
    expect(plan({ ...dense(1, 1, 513, 32, 32, 128, true, 512), scale: 1 })).toMatchObject({ splits: 9, chunk: 64 })
    expect(plan({ ...dense(1, 1, 4096, 32, 8, 128, true, 4095), scale: 1 }).splits).toBe(32)
    expect(plan({ ...dense(1, 512, 512, 12, 12, 64, true), scale: 1 }).splits).toBe(1)
  })
  it("routes large f16 prefills to the tensor-core kernel where the adapter has subgroup matrices", () => {
    const nvidia = { ...gpu.adapter, vendor: "nvidia", subgroupMatrix: true, subgroups: true, f16: true }
    const llama = { ...dense(1, 1024, 1024, 32, 32, 128, true), scale: 1, dtype: "f16" as const }
    expect(route(llama, 49152, nvidia)).toBe("flash_sgmat")
    expect(route({ ...llama, T: 512, S: 512 }, 49152, nvidia)).toBe("flash_sgmat")
    expect(route({ ...llama, dtype: "f32" }, 49152, nvidia)).toBe("flash")
    expect(route(llama, 49152)).toBe("flash") // no adapter said
    expect(route(llama, 40000, nvidia)).toBe("flash") // not enough workgroup memory
    expect(route({ ...llama, mask: 1 }, 49152, nvidia)).toBe("flash")
    expect(route({ ...llama, headDim: 96, qStride: 32 * 96, kStride: 32 * 96, vStride: 32 * 96, outStride: 32 * 96 }, 49152, nvidia)).toBe("flash")
    expect(route({ ...llama, qOffset: 4 }, 49152, nvidia)).toBe("flash")
    // BERT-base at 128 tokens: 24 tiles of 64 rows, too few for the GPU without key splits.
    expect(route({ ...gpt2Fused(128, 12, 64), causal: false, scale: 1, dtype: "f16" as const }, 49152, nvidia)).toBe("flash")
  })
  // No CI adapter runs subgroup matrices, but Dawn's null backend grants the feature: Tint validates the kernel there.
  it("the tensor-core kernel's WGSL passes Tint's validation in every shape and probe (Dawn null backend)", async () => {
    const variants: SgmatVariant[] = [
      ...(Object.keys(SGMAT_SHAPES) as SgmatShape[]).map((shape) => ({ shape, probes: [] })),
      ...(Object.keys(SGMAT_SHAPES) as SgmatShape[]).map((shape) => ({ shape, probes: [], softmax: "old" as const })),
      ...SGMAT_PROBES.map((x) => ({ shape: "q64" as const, probes: [x] })),
      { shape: "q64", probes: ["nostage", "nomatrix"] },
    ]
    const messages = await onNullDevice(async (device, adapter) => {
      const out: string[] = []
      for (const v of variants) {
        const code = preprocess(flashSgmatSpec.wgsl, { dtype: "f16", defines: sgmatDefines(v) })
        out.push(...(await compileMessages(device, code, `${sgmatName(v)}: `)))
        // Pipelines (the HD override) where the null adapter offers the workgroup memory and threads (it offers 16 KB, 256).
        const module = device.createShaderModule({ code })
        const fits = adapter.limits.maxComputeWorkgroupStorageSize >= SGMAT_SHAPES[v.shape].shared &&
          adapter.limits.maxComputeInvocationsPerWorkgroup >= 32 * SGMAT_SHAPES[v.shape].subgroups
        for (const hd of fits ? [64, 128] : []) {
          device.pushErrorScope("validation")
          device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main", constants: { HD: hd } } })
          const e = await device.popErrorScope()
          if (e !== null) out.push(`${sgmatName(v)} HD=${hd}: ${e.message}`)
        }
      }
      return out
    })
    if (messages === undefined) return
    expect(messages).toEqual([])
  })
  it("names the tensor-core kernel's shapes and probes, and rejects unknown or unsupported ones", () => {
    expect(parseSgmatVariant(undefined, undefined)).toEqual({ shape: "q64", probes: [] })
    expect(sgmatDefines(parseSgmatVariant("", "nostage, nomma"))).toEqual(["PROBE_NOSTAGE", "PROBE_NOMMA", "PROBE_MATRIX", "SOFTMAX_OLD"])
    expect(sgmatDefines(parseSgmatVariant("q128sg16", ""))).toEqual(["Q128", "PAIRED"])
    expect(sgmatDefines(parseSgmatName("sg8:old"))).toEqual(["PAIRED", "SOFTMAX_OLD"])
    expect(sgmatName(parseSgmatName("q128:old"))).toBe("q128:old")
    expect(parseSgmatName("q64+nostage")).toEqual({ shape: "q64", probes: ["nostage"] })
    expect(() => parseSgmatName("q128:older")).toThrow(/no softmax/)
    expect(() => parseSgmatVariant("q256", undefined)).toThrow(/no shape/)
    expect(() => parseSgmatVariant(undefined, "nothing")).toThrow(/no probe/)
    expect(() => parseSgmatVariant("q128", "nostage")).toThrow(/q64 only/)
    expect(() => parseSgmatVariant(undefined, "nomma,nofrag")).toThrow(/at most one/)
  })
  it("routes the tensor-core kernel to 128-row tiles only where they make about two workgroups an SM", () => {
    // Llama-2-7B: 32 heads at 1k tokens make 8 × 32 = 256 workgroups of 128 rows; at 512, 128 (sg8 then).
    expect(routedSgmat(1024, 32).shape).toBe("q128")
    expect(routedSgmat(512, 32).shape).toBe("sg8")
    expect(routedSgmat(77, 1).shape).toBe("sg8")
  })
  it("routes prefill shapes to the query-tiled kernel, decode to the streaming one", () => {
    const llama = { ...dense(1, 1024, 1024, 32, 32, 128, true), scale: 1 }
    expect(route(llama)).toBe("flash")
    expect(flashPlan(llama)).toMatchObject({ bq: 64, nc: 4, tiles: 16, splits: 1, aligned: true })
    expect(flashPlan({ ...llama, T: 512, S: 512 })).toMatchObject({ bq: 32, tiles: 16, splits: 1 })
    // BERT-base: too few tiles for the GPU, so keys are split.
    const bert = { ...gpt2Fused(128, 12, 64), causal: false, scale: 1 }
    expect(route(bert)).toBe("flash")
    expect(flashPlan(bert)).toMatchObject({ bq: 32, nc: 2, tiles: 4, splits: 4, chunk: 32 })
    expect(route({ ...dense(1, 1, 4096, 32, 8, 128, true, 4095), scale: 1 })).toBe("stream")
    expect(route({ ...dense(1, 15, 15, 4, 4, 64, true), scale: 1 })).toBe("stream")
    expect(route({ ...dense(1, 64, 64, 2, 2, 256, true), scale: 1 })).toBe("stream")
    // Without the workgroup memory for 64-row tiles, 32; without that either, the streaming kernel.
    expect(flashPlan(llama, 20000).bq).toBe(32)
    expect(route(llama, 16384)).toBe("stream")
    expect(flashPlan({ ...dense(1, 300, 300, 2, 2, 40, true), qOffset: 2, scale: 1 }).aligned).toBe(false)
  })
  it("dispatches flash.wgsl for prefill and attention.wgsl for decode", async () => {
    const used: string[] = []
    const spy = new Proxy(gpu, {
      get: (target, key) => {
        if (key === "pipeline") return (id: string, variant?: object) => { used.push(id); return target.pipeline(id, variant) }
        const value = Reflect.get(target, key) as unknown
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value
      },
    }) as GpuDevice
    const x = upload(gpu, randomFloats(64 * 64, 1))
    const out = gpu.createBuffer(64 * 64 * 4)
    const args = { q: x, k: x, v: x, out: { buffer: out }, ...dense(1, 64, 64, 1, 1, 64, true), scale: 0.125, splits: 1 }
    encode(spy, args)
    expect(used).toEqual(["attention_flash"])
    used.length = 0
    encode(spy, { ...args, T: 1, queryPos0: 63 })
    expect(used).toEqual(["attention"])
    await gpu.read(out, 0, 4)
  })
  it("rejects H not a multiple of Hkv and oversized heads", () => {
    const b = { buffer: 0 }
    const base = { q: b, k: b, v: b, out: b, ...dense(1, 1, 1, 3, 2, 8, false), scale: 1 }
    expect(() => encode(gpu, base)).toThrow(/multiple of Hkv/)
    expect(() => encode(gpu, { ...base, Hkv: 3, headDim: 512 })).toThrow(/headDim/)
  })
})
