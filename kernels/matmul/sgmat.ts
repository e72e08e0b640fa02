/**
 * The tensor-core GEMM (matmul_sgmat.wgsl): f16 x and W, f32 accumulation in 16×16 subgroup matrices, f16 y.
 * Only for adapters that grant `chromium-experimental-subgroup-matrix` with the f16×f16→f32 16×16×16 configuration
 * and subgroups of 32; `usable` says whether this one does.
 */
import { envPositiveInt, envVar, grid, packUniforms, type AdapterDescription, type Binding, type GpuDevice, type KernelSpec } from "@djinn/gpu"
import { wgsl } from "../source.ts"
import { deviceWorkspace } from "../workspace.ts"
import { checkShape, dtypeOf, encodeReduce, epilogueDefines, epilogueWgsl, gluRows, splitK, type LinearArgs, type Partials, type ProductArgs } from "./linear.ts"

/**
 * sgmat_matrix.wgsl with multiply_slice's body copied into multiply's INLINE_STEP loop at its `@inline` line (the
 * loop's names are the function's parameters), so the written-out step and the function share one text.
 */
const matrixWgsl = (): string => {
  const src = wgsl("matmul", "sgmat_matrix.wgsl")
  const body = /\nfn multiply_slice\(acc: [^)]*\) \{\n([\s\S]*?)\n\}\n/.exec(src)?.[1]
  const at = "    // @inline multiply_slice\n"
  if (body === undefined || src.split(at).length !== 2) throw new Error("matmul_sgmat: sgmat_matrix.wgsl has no multiply_slice to inline")
  return src.replace(at, body.replace(/^/gm, "  ") + "\n")
}

/**
 * Bindings: x, W, y (the f32 split-K workspace in SPLITK variants), then b (only in BIAS variants), then the residual
 * (only in RESIDUAL variants).
 */
export const spec: KernelSpec = {
  id: "matmul_sgmat",
  wgsl: [wgsl("matmul", "matmul_sgmat.wgsl"), matrixWgsl(), ...["sgmat_stage.wgsl", "sgmat_epilogue.wgsl"].map((f) => wgsl("matmul", f)), epilogueWgsl()].join("\n"),
  storage: ["read", "read", "read_write", "read", "read"],
  uniforms: true,
}

/**
 * Tile shapes (y rows × columns / multiplying subgroups): "128x128/8" (subgroups of 64×32, K-steps of 32),
 * "128x128/4" (64×64), "128x256/8" and "256x128/8" (64×64, K-steps of 16), "64x64/4" (32×32, for shapes with too few
 * big tiles to fill the GPU). "+ws" adds four subgroups that only stage tiles (warp specialisation), "+ws8" eight.
 * "+v" keeps the workgroup tiles as 16-byte pieces (one store per staged piece, 16-byte-aligned fragment loads).
 * "+p2" (without "+ws") fetches the tiles two K-steps ahead into registers instead of one (PREFETCH2).
 * "+s1" (without "+ws" or "+p2"; not "128x128/4", whose staging would need eight pieces a thread) keeps one stage of
 * K-steps twice as deep, with two barriers a step (SINGLE_STAGE): a step's loads have all of its matrix work to land.
 * Timing probes of "+s1" (wrong results by design, the kernel runner's `--probes`): "!nostage" multiplies the first
 * step's tiles every step without global loads or staging, "!nomma" stages every step without the matrix work.
 * Measured on the H100 and removed (session 6): "+s1+p2" (30–45% slower), "+s1n" (one stage of the shape's own depth,
 * 46% slower), "128x128/4+s1" with eight staged pieces a thread (a tie on the kernels, 2.5% slower end to end);
 * (session 7) "+d3", one stage three times as deep (a tie on the 1k shapes, slower at 512 tokens and on small ones),
 * and "+s1h", the one stage staged in two halves of K (1.4–1.9× slower: 32-deep matrix phases between barriers).
 */
type SgShape = "128x128/8" | "128x128/4" | "128x256/8" | "256x128/8" | "64x64/4"
export type SgTile =
  | `${SgShape}${"" | "+ws" | "+ws8"}${"" | "+v"}`
  | `${SgShape}${"" | "+v"}${"+p2" | "+s1"}`
  | `${SgShape}${"" | "+v"}+s1!${"nostage" | "nomma"}`
/** Each shape's defines, size and K-step (BK_TILE; doubled by "+s1"). */
const TILES: Record<SgShape, { defines: string[]; rows: number; cols: number; bk: number }> = {
  "128x128/8": { defines: ["TILE_128_8", "FM4"], rows: 128, cols: 128, bk: 32 },
  "128x128/4": { defines: ["TILE_128_4", "FM4", "FN4"], rows: 128, cols: 128, bk: 32 },
  "128x256/8": { defines: ["TILE_128_256", "FM4", "FN4"], rows: 128, cols: 256, bk: 16 },
  "256x128/8": { defines: ["TILE_256_128", "FM4", "FN4"], rows: 256, cols: 128, bk: 16 },
  "64x64/4": { defines: ["TILE_64"], rows: 64, cols: 64, bk: 32 },
}

/** A tile name's parts, or undefined if it names no tile. */
const parseTile = (name: string): { shape: SgShape; stagers: 0 | 4 | 8; vec: boolean; prefetch2: boolean; singleStage: boolean; probe?: "nostage" | "nomma" } | undefined => {
  const m = /^([^+!]+)(\+ws8?)?(\+v)?(\+p2|\+s1)?(?:!(nostage|nomma))?$/.exec(name)
  if (m === null || !(m[1] in TILES)) return undefined
  const prefetch2 = m[4] === "+p2"
  const singleStage = m[4] === "+s1"
  if (singleStage && m[1] === "128x128/4") return undefined
  if ((prefetch2 || singleStage) && m[2] !== undefined) return undefined
  if (m[5] !== undefined && !singleStage) return undefined
  const probe = m[5] as "nostage" | "nomma" | undefined
  return { shape: m[1] as SgShape, stagers: m[2] === undefined ? 0 : m[2] === "+ws8" ? 8 : 4, vec: m[3] !== undefined, prefetch2, singleStage, ...(probe !== undefined ? { probe } : {}) }
}

type TileParts = NonNullable<ReturnType<typeof parseTile>>
const stepOfParts = (parts: TileParts): number => TILES[parts.shape].bk * (parts.singleStage ? 2 : 1)

/** A tile's K-step: the shape's, doubled by "+s1". */
export const stepOf = (tile: SgTile): number => stepOfParts(tileParts(tile))

/** The unit split-K cuts K in: whole K-steps of the tile, and no less than 32 (the splits every tile had before "+s1"). */
const splitStepOf = (parts: TileParts): number => Math.max(32, stepOfParts(parts))

/**
 * The configuration this kernel needs is only known to hold on NVIDIA (f16 16×16×16, subgroups of 32); other vendors
 * grant subgroup matrices of other sizes (Apple 8×8), which the pipeline would reject. The adapter description does
 * not carry `subgroupMatrixConfigs`, so the vendor stands in for it.
 */
export const usable = (adapter: AdapterDescription): boolean =>
  adapter.subgroupMatrix && adapter.subgroups && adapter.f16 && /nvidia/i.test(adapter.vendor)

/** Fewer 128×128 tiles than this leaves SMs idle (an H100 has 132, one such workgroup each): take 64×64 tiles then. */
const MIN_BIG_TILES = 128
/** 256×128 tiles only when there are about as many as SMs (one workgroup each: 45 KiB of workgroup memory). */
const MIN_HUGE_TILES = 128

/**
 * DJINN_SGMAT_S1=0 (A/B runs) routes as before "+s1": "256x128/8+v" where it makes a wave, "128x128/8+v" for other
 * big shapes, "64x64/4+v" for small ones.
 */
const SINGLE_STAGE = envVar("DJINN_SGMAT_S1") !== "0"
/**
 * How a step's 16-deep slices are written (same arithmetic): through multiply_slice on the big tiles, out in the loop
 * (INLINE_STEP) on "64x64/4" — on the H100 (session 7, calls 10–11) the function made the big tiles 6–7% faster
 * (1024×4096×4096 144.6 → 135.3 µs) and "64x64/4" 7% slower (BERT's QKV 9.3 → 10.0). DJINN_SGMAT_OLD_LOOP=1 writes
 * every tile's out, =0 none.
 */
const OLD_LOOP = envVar("DJINN_SGMAT_OLD_LOOP")
const INLINE_STEP: boolean | undefined = OLD_LOOP === "1" ? true : OLD_LOOP === "0" ? false : undefined

/**
 * Measured on the H100 with Dawn's robustness off (the default, see `GpuConfig.robustness`; docs/perf-notes.md,
 * "Robustness", "Tensor-core GEMM, session 4" and "One stage of deeper K-steps"): one stage of K-steps twice as deep
 * ("+s1") beats the double-buffered tiles on every shape measured — 1024×4096×4096: "256x128/8+v" 196 µs,
 * "128x128/8+v+s1" 144, "256x128/8+v+s1" 145, "128x256/8+v+s1" 141; 1024×22016×4096: 1152, 769, 836, 795;
 * 1024×4096×11008: 532, 372, 354, 352 — so "128x128/8+v+s1" takes every big aligned shape (the best sum over a Llama
 * layer, and twice the workgroups of the 256-row tile, which 512-token shapes need to fill the SMs), "64x64/4+v+s1"
 * the small ones (BERT-base's 11.9 → 9.2 µs, ResNet-50's 3×3 GEMM 20.2 → 17.0). Before "+s1": "256x128/8+v" where it
 * made a full wave of workgroups, "128x128/8+v" for other big shapes. Tiles of vec4<u32> ("+v") beat f16 ones on every
 * shape. Unaligned shapes load element by element: every subgroup stages there too ("128x128/8").
 */
export const tileOf = (M: number, N: number, aligned = true): SgTile => {
  // N ≤ 64 (ResNet's stem and first stage) would leave half of every 128-wide tile idle.
  const big = N > 64 && Math.ceil(M / 128) * Math.ceil(N / 128) >= MIN_BIG_TILES
  if (!aligned) return big ? "128x128/8" : "64x64/4"
  if (!big) return SMALL_TILE
  if (BIG_TILE !== undefined) return BIG_TILE
  if (SINGLE_STAGE) return "128x128/8+v+s1"
  return Math.ceil(M / 256) * Math.ceil(N / 128) >= MIN_HUGE_TILES ? "256x128/8+v" : "128x128/8+v"
}

const MAX_GROUPS = 65535

const tileParts = (tile: SgTile): TileParts => {
  const parts = parseTile(tile)
  if (parts === undefined) throw new Error(`matmul_sgmat: no tile '${tile}'`)
  return parts
}

/** A tile named by an environment variable (for A/B runs), else the default. */
const tileFromEnv = (name: string): SgTile | undefined => {
  const env = envVar(name)
  return env !== undefined && parseTile(env) !== undefined ? (env as SgTile) : undefined
}
/**
 * The tile of every big aligned shape when DJINN_SGMAT_BIG_TILE names one (e.g. 128x128/8, the default before
 * session 4, or 128x128/4+ws); unset, tileOf picks by shape.
 */
const BIG_TILE: SgTile | undefined = tileFromEnv("DJINN_SGMAT_BIG_TILE")
/**
 * The tile of small aligned shapes; DJINN_SGMAT_SMALL_TILE names another (64x64/4, the default before session 4;
 * 64x64/4+ws, the best with robustness on). On the H100 "+v" took ResNet-50's 3×3 GEMMs 15–20% faster (6272×128×1152:
 * 25.1 → 20.1 µs) and BERT's 5–10%.
 */
const SMALL_TILE: SgTile = tileFromEnv("DJINN_SGMAT_SMALL_TILE") ?? (SINGLE_STAGE ? "64x64/4+v+s1" : "64x64/4+v")

/** A call's arguments, y optional (`encodePartials` writes none). */
type MaybeY = Omit<LinearArgs, "y"> & Partial<Pick<LinearArgs, "y">>

/** 16-byte loads and stores need rows (K; N too for y, the residual and "kn" W) and every offset in whole 8-half pieces. */
export const alignedOf = (args: MaybeY): boolean =>
  args.K % 8 === 0 && args.N % 8 === 0 && (args.xOffset ?? 0) % 8 === 0 && (args.yOffset ?? 0) % 8 === 0 && (args.residualOffset ?? 0) % 8 === 0

export { encodeReduce, reduceSpec } from "./linear.ts"

/** DJINN_SGMAT_SPLITK=0 turns split-K off (A/B runs). */
const SPLITK_OFF = envVar("DJINN_SGMAT_SPLITK") === "0"
/**
 * Shapes with at least this many tiles are not split (DJINN_SGMAT_SPLITK_TILES for A/B runs). 64: on the H100
 * (session 5, call 7, two rounds each) BERT-base's GPU time was 1.70 ms with 132 (the SM count: its QKV, 72 tiles,
 * and FFN up, 96, split 3 ways plus a reduce dispatch each), 1.54 with 80, 1.49 with 64; ResNet-50 b8's 1.90, 1.82,
 * 1.82. Unsplit, those GEMMs run their bias and activation in the epilogue and 24 reduce dispatches go.
 */
const SPLITK_MAX_TILES = envPositiveInt("DJINN_SGMAT_SPLITK_TILES", 64)
/** Tiles that fill an H100 (132 SMs) about twice over (DJINN_SGMAT_FILL for A/B runs): split-K aims at this many. */
const FILL_TILES = envPositiveInt("DJINN_SGMAT_FILL", 264)
/** The least k a split takes (eight K-steps of 32, four of 64). */
const MIN_SPLIT_K = 256

/**
 * K-splits for a shape: 1 unless it has few tiles (under SPLITK_MAX_TILES) and K is long (BERT-base at 128 tokens: its
 * 128×768×3072 down projection has 24 tiles of 64×64, each 96 K-steps deep, on 132 SMs).
 */
export const splitsOf = (M: number, N: number, K: number, tile: SgTile): number => {
  if (SPLITK_OFF) return 1
  const shape = TILES[tileParts(tile).shape]
  const tiles = Math.ceil(M / shape.rows) * Math.ceil(N / shape.cols)
  // Only the small tiles of small shapes: at 128×128 (Llama-2-7B at 512 tokens, 128 tiles) the f32 partials' round
  // trip cost more than the idle SMs (H100: 87.0 → 93.8 ms of GEMMs for a 512-token prefill with 3 splits).
  if (shape.rows > 64 || tiles >= SPLITK_MAX_TILES || K < 2 * MIN_SPLIT_K) return 1
  return Math.max(1, Math.min(Math.floor(K / MIN_SPLIT_K), Math.ceil(FILL_TILES / tiles), 16))
}

/** The split-K partials. */
const workspace = deviceWorkspace("sgmat split-K partials")

/** The GEMM's columns: W's rows ("nk"), gate and up with swiglu. */
const columnsOf = (args: MaybeY): number => (args.swiglu === undefined ? args.N : gluRows(args.N, args.swiglu))

/**
 * y[M,N] = act(x[M,K] · W + b) (+ residual, or act(x·W + b + residual)) on tensor cores; any M, N, K. f16 only. With
 * `swiglu` ("blocks"), y[M,N] = silu(gate) · up from a fused gate_up W of gluRows(N) rows, without split-K.
 */
export const encode = (
  gpu: GpuDevice, args: LinearArgs, tile: SgTile = tileOf(args.M, columnsOf(args), alignedOf(args)),
  splits = args.swiglu !== undefined ? 1 : splitsOf(args.M, args.N, args.K, tile),
): void => {
  const part = record(gpu, args, tile, splits)
  if (part === undefined) return
  encodeReduce(gpu, {
    part: part.part, y: args.y, b: args.b, M: args.M, N: args.N, splits: part.splits, yOffset: args.yOffset, activation: args.activation,
    residual: args.residual, residualOffset: args.residualOffset, residualBeforeActivation: args.residualBeforeActivation,
  })
}

/**
 * The split-K GEMM's first pass alone (x·W as f32 partials [splits, M, N], no epilogue), for a consumer that fuses the
 * reduce; undefined, with nothing recorded, where the shape would not split (the caller then runs `encode`).
 */
export const encodePartials = (
  gpu: GpuDevice, args: ProductArgs, tile: SgTile = tileOf(args.M, args.N, alignedOf(args)),
  splits = splitsOf(args.M, args.N, args.K, tile),
): Partials | undefined => {
  if (splitK(args.K, splits, splitStepOf(tileParts(tile))).splits === 1) return undefined
  return record(gpu, args, tile, splits)
}

/** Records the GEMM; with more than one split, into the workspace's partials, which it returns. */
const record = (gpu: GpuDevice, args: MaybeY, tile: SgTile, splits: number): Partials | undefined => {
  checkShape("matmul_sgmat", args, { residual: true, residualBeforeActivation: true, swiglu: ["blocks"] })
  if (dtypeOf(args) !== "f16") throw new Error("matmul_sgmat: f16 only")
  if (args.swiglu !== undefined && splits !== 1) throw new Error("matmul_sgmat: swiglu without split-K")
  const N = columnsOf(args)
  const parts = tileParts(tile)
  // k per split, a whole number of the tile's K-steps.
  const { kc, splits: nSplits } = splitK(args.K, splits, splitStepOf(parts))
  const defines = nSplits > 1 ? ["SPLITK"] : epilogueDefines(args)
  if (args.wLayout === "nk") defines.push("W_NK")
  if (alignedOf(args)) defines.push("ALIGNED")
  const shape = TILES[parts.shape]
  defines.push(...shape.defines)
  if (parts.stagers > 0) defines.push("SPLIT")
  if (parts.stagers === 8) defines.push("STAGE8")
  if (parts.vec) defines.push("VEC_TILES")
  if (parts.prefetch2) defines.push("PREFETCH2")
  if (parts.singleStage) defines.push("SINGLE_STAGE")
  if (INLINE_STEP ?? parts.shape === "64x64/4") defines.push("INLINE_STEP")
  if (parts.probe === "nostage") defines.push("PROBE_NOSTAGE")
  if (parts.probe === "nomma") defines.push("PROBE_NOMMA")
  // x runs over row tiles, y over column tiles (see main in the WGSL).
  const gx = Math.ceil(args.M / shape.rows)
  const gy = Math.ceil(N / shape.cols)
  if (gx > MAX_GROUPS || gy > MAX_GROUPS) throw new Error(`matmul_sgmat: ${args.M}×${N} needs more than ${MAX_GROUPS} tiles per dimension`)
  const MN = args.M * args.N
  const part = nSplits > 1 ? workspace(gpu, nSplits * MN * 4) : undefined
  if (part === undefined && args.y === undefined) throw new Error("matmul_sgmat: no y for an unsplit GEMM")
  const bindings = part !== undefined ? [args.x, args.w, part] : [args.x, args.w, args.y!]
  if (part === undefined && args.b !== undefined) bindings.push(args.b)
  if (part === undefined && args.residual !== undefined) bindings.push(args.residual)
  gpu.dispatch({
    pipeline: gpu.pipeline(spec.id, { dtype: "f16", defines }),
    bindings,
    uniforms: packUniforms([["u32", args.M], ["u32", N], ["u32", args.K], ["u32", args.xOffset ?? 0], ["u32", args.yOffset ?? 0], ["u32", kc], ["u32", args.residualOffset ?? 0], ["u32", args.N]]),
    workgroups: [gx, gy, nSplits],
  })
  return part === undefined ? undefined : { part, splits: nSplits }
}
