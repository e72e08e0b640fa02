/**
 * The perf runner's cases: the linear layers of decode (gemv) and prefill (matmul), Llama's RMSNorm and fused-QKV RoPE
 * (memory-bound, each variant), and a bandwidth probe.
 */
import { dtypeBytes, f16ToF32, type Binding, type BufferId, type DType, type GpuDevice } from "@djinn/gpu"
import { MAX_M } from "../gemv/gemv.ts"
import { activate, encode as tiled, linear, sgmat, type LinearArgs, type WLayout } from "../matmul/matmul.ts"
import { relError, tolerance } from "../testing/harness.ts"
import { settle, type PerfCase, type PerfInstance, type Validation } from "../testing/perf.ts"
import * as rmsnorm from "../rmsnorm/rmsnorm.ts"
import * as rope from "../rope/rope.ts"
import * as probe from "./bandwidth.ts"
import { fill, periodic, PERIOD, type Periodic } from "./data.ts"

export interface Shape {
  readonly M: number
  readonly N: number
  readonly K: number
}

/** Llama-7B-sized layers (4096 hidden, 11008 MLP, 32000 vocab) on a GPU; the same shapes scaled down on CPU adapters. */
export const shapes = (small: boolean): { matmul: Shape[]; gemv: Shape[]; probeBytes: number } =>
  small
    ? {
      matmul: [{ M: 256, N: 256, K: 256 }, { M: 64, N: 256, K: 256 }],
      gemv: [{ M: 1, N: 1024, K: 1024 }, { M: 1, N: 2752, K: 1024 }, { M: 1, N: 1024, K: 2752 }, { M: 1, N: 8000, K: 1024 }],
      probeBytes: 64 << 20,
    }
    : {
      matmul: [{ M: 4096, N: 4096, K: 4096 }, { M: 1024, N: 4096, K: 4096 }],
      gemv: [{ M: 1, N: 4096, K: 4096 }, { M: 1, N: 11008, K: 4096 }, { M: 1, N: 4096, K: 11008 }, { M: 1, N: 32000, K: 4096 }],
      probeBytes: 1 << 30,
    }

const SAMPLES = 96

/** Output positions to check: the corners, then a seeded spread. */
const samplePositions = ({ M, N }: Shape): [number, number][] => {
  const out: [number, number][] = [[0, 0], [M - 1, N - 1], [0, N - 1], [M - 1, 0]]
  let s = 12345
  for (let i = out.length; i < Math.min(SAMPLES, M * N); i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0
    const idx = s % (M * N)
    out.push([Math.floor(idx / N), idx % N])
  }
  return out
}

const readOutput = async (gpu: GpuDevice, y: BufferId, count: number, dtype: DType): Promise<Float32Array> => {
  const raw = await gpu.read(y, 0, count * dtypeBytes(dtype))
  if (dtype === "f32") return new Float32Array(raw.buffer, raw.byteOffset, count)
  return f16ToF32(new Uint16Array(raw.buffer, raw.byteOffset, count))
}

/**
 * Which kernel a linear case runs: what `linear` picks (gemv for M ≤ MAX_M), the tiled GEMM, or the tensor-core GEMM
 * with its own tile choice or a given tile.
 */
export type LinearPath = "linear" | "tiled" | "sgmat" | sgmat.SgTile

const encoderOf = (path: LinearPath): ((gpu: GpuDevice, args: LinearArgs) => void) =>
  path === "linear" ? linear : path === "tiled" ? tiled : path === "sgmat" ? sgmat.encode : (gpu, args) => sgmat.encode(gpu, args, path)

/** Element i of periodic data, as the GPU holds it. */
const at = (d: Periodic, i: number): number => d.block[i % PERIOD]

/** A case's buffers of `bytes`-sized elements (periodic data where given), destroyed together. */
const buffers = (gpu: GpuDevice, bytes: number) => {
  const ids: BufferId[] = []
  const size = (elements: number) => Math.ceil((elements * bytes) / 4) * 4
  return {
    make: (elements: number, data: Periodic | undefined, label: string): BufferId => {
      const id = gpu.createBuffer(size(elements), label)
      if (data !== undefined) fill(gpu, id, elements, data)
      ids.push(id)
      return id
    },
    /** Fills an output with 0x7f bytes, so that elements the kernel does not write fail the check. */
    poison: (id: BufferId, elements: number) => gpu.writeBuffer(id, 0, new Uint8Array(size(elements)).fill(0x7f)),
    dispose: () => { for (const id of ids) gpu.destroyBuffer(id) },
  }
}

/** The check's verdict: the relative error of the sampled outputs against the CPU reference, within 4× dtype's tolerance. */
const judge = (got: readonly number[], want: readonly number[], dtype: DType): Validation => {
  const error = relError(got, want)
  const tol = 4 * tolerance(dtype)
  return { ok: error < tol, error, tolerance: tol, checked: got.length }
}

/** A linear layer y = x·W + b, with a bias, no activation. */
export const linearCase = (shape: Shape, wLayout: WLayout, dtype: DType, rotateBytes: number, path: LinearPath = "linear"): PerfCase => {
  const { M, N, K } = shape
  const e = dtypeBytes(dtype)
  const weightBytes = N * K * e
  const gemv = M <= MAX_M && path === "linear"
  const run = encoderOf(path)
  return {
    kernel: gemv ? "gemv" : "matmul",
    variant: `${dtype} ${wLayout} +b${path === "linear" ? "" : ` ${path}`}`,
    shape: `${M}×${N}×${K}`,
    bytes: (N * K + M * K + N + M * N) * e,
    flops: 2 * M * N * K,
    bound: gemv ? "memory" : dtype === "f16" && path !== "tiled" ? "tensor" : "compute",
    setup: async (gpu) => {
      if (path !== "linear" && path !== "tiled" && !sgmat.usable(gpu.adapter)) throw new Error("the subgroup-matrix GEMM needs chromium-experimental-subgroup-matrix (NVIDIA, f16)")
      const limit = gpu.adapter.limits.maxStorageBufferBindingSize
      if (weightBytes > limit) throw new Error(`W of ${weightBytes} bytes exceeds maxStorageBufferBindingSize ${limit}`)
      // Weights rotate among copies (> L2 together) so that repeated gemv runs read device memory, not cache.
      const copies = gemv ? Math.max(1, Math.min(8, Math.ceil(rotateBytes / weightBytes))) : 1
      const xData = periodic(1, dtype)
      const wData = periodic(2, dtype, -0.5, 0.5)
      const bData = periodic(3, dtype)
      const bufs = buffers(gpu, e)
      const make = bufs.make
      const ws = [make(N * K, wData, "perf W")]
      for (let c = 1; c < copies; c++) {
        ws.push(make(N * K, undefined, `perf W${c}`))
        gpu.copy(ws[0], 0, ws[c], 0, Math.ceil(weightBytes / 4) * 4)
      }
      const x = make(M * K, xData, "perf x")
      const b = make(N, bData, "perf b")
      const y = make(M * N, undefined, "perf y")
      const bind = (buffer: BufferId): Binding => ({ buffer })
      const encode = (i: number) =>
        run(gpu, { x: bind(x), w: bind(ws[i % copies]), b: bind(b), y: bind(y), M, N, K, wLayout, dtype })
      const validate = async (): Promise<Validation> => {
        bufs.poison(y, M * N)
        encode(0)
        await settle(gpu)
        const out = await readOutput(gpu, y, M * N, dtype)
        await gpu.checkErrors()
        const got: number[] = []
        const want: number[] = []
        for (const [m, n] of samplePositions(shape)) {
          let s = 0
          for (let k = 0; k < K; k++) s += at(xData, m * K + k) * at(wData, wLayout === "nk" ? n * K + k : k * N + n)
          want.push(activate(s + at(bData, n)))
          got.push(out[m * N + n])
        }
        return judge(got, want, dtype)
      }
      await settle(gpu)
      const instance: PerfInstance = {
        encode,
        rotation: copies,
        validate,
        dispose: bufs.dispose,
      }
      return instance
    },
  }
}

/** Reads a buffer of `bytes` once: the device's read bandwidth, the ceiling of the memory-bound cases. */
export const probeCase = (wantBytes: number): PerfCase => ({
  kernel: "bandwidth",
  variant: "read vec4<f32>",
  shape: `${wantBytes / 2 ** 20} MiB`,
  bytes: wantBytes,
  flops: 0,
  bound: "memory",
  setup: async (gpu) => {
    const limit = Math.min(gpu.adapter.limits.maxStorageBufferBindingSize, gpu.adapter.limits.maxBufferSize)
    if (wantBytes > limit) throw new Error(`probe of ${wantBytes} bytes exceeds the binding limit ${limit}`)
    const src = gpu.createBuffer(wantBytes, "probe src")
    const sink = gpu.createBuffer(16, "probe sink")
    // Random data (never zeros): 16 MiB written once, copied on the GPU across the buffer.
    const piece = Math.min(wantBytes, 16 << 20)
    const tile = gpu.createBuffer(piece, "probe tile")
    fill(gpu, tile, piece / 4, periodic(4, "f32"))
    for (let at = 0; at < wantBytes; at += piece) gpu.copy(tile, 0, src, at, Math.min(piece, wantBytes - at))
    await settle(gpu)
    gpu.destroyBuffer(tile)
    return {
      encode: () => probe.encode(gpu, { buffer: src }, { buffer: sink }, wantBytes),
      rotation: 1,
      validate: async () => ({ ok: true, error: 0, tolerance: 0, checked: 0 }),
      dispose: () => { gpu.destroyBuffer(src); gpu.destroyBuffer(sink) },
    }
  },
})

/**
 * The tensor-core GEMM's cases: Llama-2-7B prefill of 1024 tokens (q/k/v/o, MLP up, MLP down), a square 4096³, BERT-base
 * at 128 tokens (every projection), GPT-2's "kn" weights, a shape of odd sizes for the unaligned path, and ResNet-50's
 * convolutions as GEMMs.
 */
const prefill: [Shape, WLayout][] = [
  [{ M: 1024, N: 4096, K: 4096 }, "nk"],
  [{ M: 1024, N: 11008, K: 4096 }, "nk"],
  [{ M: 1024, N: 4096, K: 11008 }, "nk"],
  [{ M: 4096, N: 4096, K: 4096 }, "nk"],
  [{ M: 128, N: 768, K: 768 }, "nk"],
  // BERT-base's other projections at 128 tokens (split-K: too few tiles for the GPU).
  [{ M: 128, N: 2304, K: 768 }, "nk"],
  [{ M: 128, N: 3072, K: 768 }, "nk"],
  [{ M: 128, N: 768, K: 3072 }, "nk"],
  [{ M: 1024, N: 4096, K: 4096 }, "kn"],
  [{ M: 1024, N: 3072, K: 768 }, "kn"],
  [{ M: 1000, N: 4100, K: 4093 }, "nk"],
  [{ M: 1000, N: 4100, K: 4093 }, "kn"],
  // ResNet-50's convolutions as GEMMs at batch 8, 224² (NHWC): the stem (K = 147 padded to 152), a 1×1 and the 3×3 of
  // stage 1 (N = 64), and the 3×3s of stages 2–4 (the last two split K).
  [{ M: 100352, N: 64, K: 152 }, "nk"],
  [{ M: 25088, N: 256, K: 64 }, "nk"],
  [{ M: 25088, N: 64, K: 576 }, "nk"],
  [{ M: 6272, N: 128, K: 1152 }, "nk"],
  [{ M: 1568, N: 256, K: 2304 }, "nk"],
  [{ M: 392, N: 512, K: 4608 }, "nk"],
]

/**
 * Tile A/B on Llama-2-7B's 1k-token prefill GEMMs (q/k/v/o, the fused gate_up's 22016 columns, down): the default
 * since session 6 ("128x128/8+v+s1") against the 64×64-per-subgroup tiles and two steps of loads in flight ("+p2"),
 * shape by shape so that drift lands on each alike; the default again last. These and the small-tile A/B below
 * are the only cases whose names hold "+v" (`--filter +v`).
 */
const TILE_AB_SHAPES: Shape[] = [{ M: 1024, N: 4096, K: 4096 }, { M: 1024, N: 22016, K: 4096 }, { M: 1024, N: 4096, K: 11008 }]
const TILE_AB: sgmat.SgTile[] = ["128x128/8+v+s1", "256x128/8+v+s1", "128x256/8+v+s1", "128x128/8+v+p2", "128x128/8+v+s1"]
/**
 * The small tile since session 6 ("64x64/4+v+s1") against "64x64/4+v+p2" on BERT-base's GEMMs at 128 tokens (QKV,
 * FFN up, FFN down: split-K) and ResNet-50's 3×3 GEMM of stage 2 at batch 8 (`--filter 64x64/4+v`).
 */
const SMALL_AB_SHAPES: Shape[] = [{ M: 128, N: 2304, K: 768 }, { M: 128, N: 3072, K: 768 }, { M: 128, N: 768, K: 3072 }, { M: 6272, N: 128, K: 1152 }]
const SMALL_AB: sgmat.SgTile[] = ["64x64/4+v+s1", "64x64/4+v+p2"]

/**
 * RMSNorm over `rows` rows of `cols` f16 values (Llama-2-7B: 4096), the scalar or the vector (VEC) variant (on its
 * automatic workgroup, or `wg` threads): x and the weight read once, y written once. Checked on whole rows against
 * the CPU reference.
 */
export const rmsnormCase = (rows: number, cols: number, vector: boolean, wg?: number): PerfCase => ({
  kernel: "rmsnorm",
  variant: `f16 ${vector ? "vec" : "scalar"}${wg !== undefined ? ` wg${wg}` : ""}`,
  shape: `${rows}×${cols}`,
  bytes: (2 * rows * cols + cols) * 2,
  flops: 0,
  bound: "memory",
  setup: async (gpu) => {
    const b = buffers(gpu, 2)
    const xData = periodic(7, "f16", -3, 3)
    const wData = periodic(8, "f16", 0.5, 1.5)
    const x = b.make(rows * cols, xData, "rmsnorm x"), w = b.make(cols, wData, "rmsnorm w"), y = b.make(rows * cols, undefined, "rmsnorm y")
    const args = { x: { buffer: x }, weight: { buffer: w }, y: { buffer: y }, rows, cols, eps: 1e-5, dtype: "f16" } as const
    const validate = async (): Promise<Validation> => {
      b.poison(y, rows * cols)
      rmsnorm.encode(gpu, args, vector, wg)
      const out = await readOutput(gpu, y, rows * cols, "f16")
      await gpu.checkErrors()
      const got: number[] = [], want: number[] = []
      for (const r of [0, rows >> 1, rows - 1]) {
        const xs = Float32Array.from({ length: cols }, (_, c) => at(xData, r * cols + c))
        const ref = rmsnorm.reference(xs, Float32Array.from({ length: cols }, (_, c) => at(wData, c)), 1, cols, 1e-5)
        for (let c = 0; c < cols; c++) { got.push(out[r * cols + c]); want.push(ref[c]) }
      }
      return judge(got, want, "f16")
    }
    await settle(gpu)
    return { encode: () => rmsnorm.encode(gpu, args, vector, wg), rotation: 1, validate, dispose: b.dispose }
  },
})

/**
 * RoPE on a fused q|k|v projection of T tokens (Llama-2-7B: 32 heads of 128, k and v as many), the scalar or the
 * vector variant: x read once, q, k and v written once. Checked on sampled tokens against the CPU reference.
 */
export const ropeCase = (T: number, heads: number, headDim: number, vector: boolean): PerfCase => ({
  kernel: "rope",
  variant: `f16 qkv ${vector ? "vec" : "scalar"}`,
  shape: `${T}×${heads}×${headDim}`,
  bytes: 2 * T * 3 * heads * headDim * 2,
  flops: 0,
  bound: "memory",
  setup: async (gpu) => {
    const b = buffers(gpu, 2)
    const D = heads * headDim
    const xData = periodic(9, "f16", -2, 2)
    const x = b.make(T * 3 * D, xData, "rope x")
    const outs = ["q", "k", "v"].map((n) => b.make(T * D, undefined, `rope ${n}`))
    const shape = { T, heads, kvHeads: heads, headDim, stride: 3 * D, qStride: D, kStride: D, vStride: D, pos0: 0, theta: 10000 }
    const args = { ...shape, x: { buffer: x }, q: { buffer: outs[0] }, k: { buffer: outs[1] }, v: { buffer: outs[2] }, dtype: "f16" } as const
    const validate = async (): Promise<Validation> => {
      for (const o of outs) b.poison(o, T * D)
      rope.encodeQkv(gpu, args, vector)
      const [q, k, v] = await Promise.all(outs.map((o) => readOutput(gpu, o, T * D, "f16")))
      await gpu.checkErrors()
      const got: number[] = [], want: number[] = []
      for (const t of [0, 1, T >> 1, T - 1]) {
        const row = Float32Array.from({ length: 3 * D }, (_, i) => at(xData, t * 3 * D + i))
        const ref = rope.referenceQkv(row, { ...shape, T: 1, pos0: t })
        for (let i = 0; i < D; i++) {
          got.push(q[t * D + i], k[t * D + i], v[t * D + i])
          want.push(ref.q[i], ref.k[i], ref.v[i])
        }
      }
      return judge(got, want, "f16")
    }
    await settle(gpu)
    return { encode: () => rope.encodeQkv(gpu, args, vector), rotation: 1, validate, dispose: b.dispose }
  },
})

/**
 * Timing probes of the "+s1" tiles (the routed "128x128/8+v+s1", the 64×64-per-subgroup ones, "64x64/4") on the 1k
 * prefill shapes: "!nostage" (matrix work and a barrier a step on resident tiles: fragment loads and multiplies alone)
 * and "!nomma" (loads, staging and barriers alone). Their outputs are wrong by design: only with `probes` (the runner's --probes, which skips validation).
 */
const PROBE_TILES: sgmat.SgTile[] = (["128x128/8", "256x128/8", "128x256/8", "64x64/4"] as const).flatMap((shape) =>
  [`${shape}+v+s1`, `${shape}+v+s1!nostage`, `${shape}+v+s1!nomma`] as const)

export interface CaseOptions {
  readonly small: boolean
  readonly dtypes: readonly DType[]
  /** The GEMM's timing probes alone (PROBE_TILES). */
  readonly probes?: boolean
}

/** Every registered perf case, probe first. */
export const perfCases = ({ small, dtypes, probes = false }: CaseOptions): PerfCase[] => {
  const s = shapes(small)
  const rotateBytes = small ? 32 << 20 : 256 << 20
  if (probes) return TILE_AB_SHAPES.flatMap((shape) => PROBE_TILES.map((tile) => linearCase(shape, "nk", "f16", rotateBytes, tile)))
  const out: PerfCase[] = [probeCase(s.probeBytes)]
  for (const shape of s.matmul) for (const dtype of dtypes) for (const layout of ["nk", "kn"] as const) out.push(linearCase(shape, layout, dtype, rotateBytes, "tiled"))
  // Prefill shapes on tensor cores, each beside the tiled GEMM on the same shape.
  if (!small && dtypes.includes("f16")) {
    for (const [shape, layout] of prefill) {
      out.push(linearCase(shape, layout, "f16", rotateBytes, "sgmat"))
      // Eight staging subgroups instead of four, on the aligned big shapes (a candidate default).
      if (shape.K % 8 === 0 && shape.N % 8 === 0 && shape.M >= 1024) out.push(linearCase(shape, layout, "f16", rotateBytes, "128x128/4+ws8"))
      if (!s.matmul.some((m) => m.M === shape.M && m.N === shape.N && m.K === shape.K)) out.push(linearCase(shape, layout, "f16", rotateBytes, "tiled"))
    }
    for (const shape of TILE_AB_SHAPES) for (const tile of TILE_AB) out.push(linearCase(shape, "nk", "f16", rotateBytes, tile))
    for (const shape of SMALL_AB_SHAPES) for (const tile of SMALL_AB) out.push(linearCase(shape, "nk", "f16", rotateBytes, tile))
  }
  for (const shape of s.gemv) for (const dtype of dtypes) for (const layout of ["nk", "kn"] as const) out.push(linearCase(shape, layout, dtype, rotateBytes))
  // Llama-2-7B's norm and RoPE at 1k (prefill) and 512 tokens; f16 only (the vector variants are f16's).
  if (dtypes.includes("f16")) {
    const tokens = small ? [64] : [1024, 512]
    const D = small ? 512 : 4096
    for (const T of tokens) out.push(rmsnormCase(T, D, false), rmsnormCase(T, D, true), rmsnormCase(T, D, true, 256))
    for (const T of tokens) for (const vector of [false, true]) out.push(ropeCase(T, D / 128, 128, vector))
  }
  return out
}
