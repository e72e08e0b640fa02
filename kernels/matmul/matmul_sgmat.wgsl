// Tensor-core GEMM through subgroup matrices: y[M,N] = act(x[M,K] · W + b[N]), f16 operands, f32 accumulation.
// W is [K,N] row-major ("kn", GPT-2's Conv1D) or, with W_NK, [N,K] row-major ("nk", nn.Linear).
// A workgroup computes a BM×BN tile of y in steps of BK along K. Each step's x and W tiles are fetched into registers
// (16-byte loads) one step ahead, then stored to one of two workgroup-memory stages, so that one barrier per step
// suffices and global latency hides behind the previous step's matrix work. Subgroups form an SG_M×SG_N grid; each
// owns FM×FN 16×16 f32 accumulators. The W tile keeps W's own layout: "nk" rows are n (k contiguous) and load as a
// column-major right matrix, "kn" rows are k and load row-major. Rows are padded by 8 halves (16 bytes) so that the
// matrix loads' eight 16-byte rows land in distinct banks. Epilogue: each accumulator goes through workgroup memory
// (f32), gets the bias and activation, and is written as f16.
// Any M, N, K: staging loads outside the matrix read 0, stores outside y are skipped. ALIGNED (K, N, x and y offsets
// all multiples of 8) reads and writes 8 halves as one vec4<u32>; otherwise element by element.
// The matrix work is in sgmat_matrix.wgsl, staging (global memory → registers → the workgroup tiles) in
// sgmat_stage.wgsl and the epilogue in sgmat_epilogue.wgsl, all appended by the spec.
// Accumulators, fragments and staging registers are named values, never arrays indexed in loops: an array of subgroup
// matrices may live in local memory, and the driver need not unroll the loops that would let it stay in registers.
// Assumes subgroups of 32 (NVIDIA): the epilogue maps 32 lanes onto a 16×16 accumulator, 8 columns each.
// SPLIT adds four subgroups that only stage tiles while the others only multiply (see main).
// PREFETCH2 (not with SPLIT) fetches two steps ahead instead of one: at step s the registers hold step s + 1 (fetched
// during step s - 1) while step s + 2's loads are issued before the multiplies; after them step s + 1 is stored. Two
// sets of staging registers take turns (the loop is unrolled by two, so neither is copied into the other). Still two
// stages and one barrier a step, but a load has two steps of matrix work to land (a K-step of 16 or 32 is shorter
// than global latency under load).
// SINGLE_STAGE (not with SPLIT or PREFETCH2) keeps one stage of K-steps twice as deep (BK = 2 · BK_TILE) and barriers
// twice a step: the loads of the next step have the whole of this step's deeper matrix work to land. Its timing probes
// (wrong results by design) drop a part: PROBE_NOSTAGE the global loads and staging, PROBE_NOMMA the matrix work.
// VEC_TILES keeps the workgroup tiles as 16-byte pieces (vec4<u32>) instead of halves: a staged piece is one store
// instead of eight, and every fragment load starts at a 16-byte-aligned piece with a stride in pieces, which the
// driver need not prove (the f16 tiles hand it a 2-byte pointer). Offsets below stay in halves; they are divided by 8
// where a piece is addressed (every one is a multiple of 8: SA, SB, kk, the fragment rows).
// SWIGLU (with W_NK and GLU_BLOCKS; not with SPLITK or RESIDUAL): W's rows (the GEMM's N columns) come as blocks of 16
// gate rows, each followed by the same outputs' 16 up rows, so a subgroup's accumulators (i, j) and (i, j + 1), j
// even, are the gate and up of 16 outputs (tiles and subgroup columns start on multiples of 32); emit_glu passes both
// through the scratch, one after the other, and writes y[m, n] = silu(gate) · up, y of p.y_n columns.
// Variants: W_NK, BIAS, RESIDUAL (y = act(…) + res; with RESIDUAL_PRE y = act(… + res)), ALIGNED, SPLIT, VEC_TILES,
// PREFETCH2, SINGLE_STAGE, SWIGLU, the tile shape (TILE_128_8, TILE_128_4, TILE_128_256, TILE_256_128, TILE_64 with FM4, FN4), the
// activations of epilogue.wgsl.
enable subgroups;
enable chromium_experimental_subgroup_matrix;

struct Params {
  M: u32,
  N: u32,
  K: u32,
  // Element offsets of x's and y's first rows within their bindings.
  x_off: u32,
  y_off: u32,
  kc: u32, // SPLITK: k per split, a multiple of BK
  r_off: u32, // RESIDUAL: element offset of the residual's first row
  y_n: u32, // SWIGLU: y's columns (the outputs; N counts W's gate and up rows)
}

@group(0) @binding(0) var<uniform> p: Params;
// #if ALIGNED
@group(0) @binding(1) var<storage, read> x: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> w: array<vec4<u32>>;
// #if !SPLITK
@group(0) @binding(3) var<storage, read_write> y: array<vec4<u32>>;
// #endif
// #else
@group(0) @binding(1) var<storage, read> x: array<f16>;
@group(0) @binding(2) var<storage, read> w: array<f16>;
// #if !SPLITK
@group(0) @binding(3) var<storage, read_write> y: array<f16>;
// #endif
// #endif
// #if SPLITK
// Split-K (small M·N, long K: too few tiles to fill the GPU): workgroup z sums k in [z·kc, (z+1)·kc) and writes its
// f32 partial sums [z, M, N]; matmul_reduce adds the splits, the bias and the activation.
@group(0) @binding(3) var<storage, read_write> part: array<f32>;
// #endif
// #if BIAS
@group(0) @binding(4) var<storage, read> b: array<f16>;
// #endif
// The residual [M, N] follows y and the bias, whichever are bound; read as y is written (8 halves a load when ALIGNED).
// #if RESIDUAL
// #if BIAS
// #if ALIGNED
@group(0) @binding(5) var<storage, read> res: array<vec4<u32>>;
// #else
@group(0) @binding(5) var<storage, read> res: array<f16>;
// #endif
// #else
// #if ALIGNED
@group(0) @binding(4) var<storage, read> res: array<vec4<u32>>;
// #else
@group(0) @binding(4) var<storage, read> res: array<f16>;
// #endif
// #endif
// #endif

// The tile shape. TS adds FM4 where FM = 4 and FN4 where FN = 4 (the code below names each accumulator).
// #if TILE_64
const SG_M: u32 = 2u;
const SG_N: u32 = 2u;
const FM: u32 = 2u;
const FN: u32 = 2u;
const BK_TILE: u32 = 32u;
// #endif
// #if TILE_128_4
const SG_M: u32 = 2u;
const SG_N: u32 = 2u;
const FM: u32 = 4u;
const FN: u32 = 4u;
const BK_TILE: u32 = 32u;
// #endif
// #if TILE_128_256
const SG_M: u32 = 2u;
const SG_N: u32 = 4u;
const FM: u32 = 4u;
const FN: u32 = 4u;
const BK_TILE: u32 = 16u;
// #endif
// #if TILE_256_128
// 64×64 per subgroup like TILE_128_256, but 256 rows of x: the W tile (128 rows of "nk" W) loads as in TILE_128_8.
const SG_M: u32 = 4u;
const SG_N: u32 = 2u;
const FM: u32 = 4u;
const FN: u32 = 4u;
const BK_TILE: u32 = 16u;
// #endif
// #if TILE_128_8
const SG_M: u32 = 2u;
const SG_N: u32 = 4u;
const FM: u32 = 4u;
const FN: u32 = 2u;
const BK_TILE: u32 = 32u;
// #endif
// #if FM4
const_assert FM == 4u;
// #else
const_assert FM == 2u;
// #endif
// #if FN4
const_assert FN == 4u;
// #else
const_assert FN == 2u;
// #endif
// #if SINGLE_STAGE
// One stage of K-steps twice as deep (see main).
const STAGES: u32 = 1u;
const BK: u32 = 2u * BK_TILE;
// #if PREFETCH2
const_assert false; // SINGLE_STAGE with PREFETCH2 (two deep steps in registers) lost 30-45% on the H100: removed
// #endif
// #else
const STAGES: u32 = 2u;
const BK: u32 = BK_TILE;
// #endif
const BM: u32 = SG_M * FM * 16u;
const BN: u32 = SG_N * FN * 16u;
// Subgroups that multiply (each owns FM×FN accumulators).
const MMA_THREADS: u32 = SG_M * SG_N * 32u;
// #if SPLIT
// #if PREFETCH2
const_assert false; // PREFETCH2: the staging subgroups of SPLIT keep their own loads in flight
// #endif
// #if SINGLE_STAGE
const_assert false; // SINGLE_STAGE: the staging subgroups of SPLIT need the second stage
// #endif
// Four more subgroups stage the tiles while the others multiply (warp specialisation: a load's latency then stalls
// only the subgroups that wait for it).
// #if STAGE8
// Eight (STAGE8): staging is bound by per-thread instructions (each 16-byte load becomes eight 2-byte stores).
const STAGERS: u32 = 256u;
// #else
const STAGERS: u32 = 128u;
// #endif
const THREADS: u32 = MMA_THREADS + STAGERS;
// #else
const STAGERS: u32 = MMA_THREADS;
const THREADS: u32 = MMA_THREADS;
// #endif

// x tile: BM rows of BK halves.
const SA: u32 = BK + 8u;
const A_STAGE: u32 = BM * SA;
const A_VECS: u32 = BK / 8u;                  // 16-byte pieces per row
const A_LOADS: u32 = BM * A_VECS / STAGERS;   // per staging thread per step
// #if W_NK
// W tile: BN rows (n) of BK halves (k).
const SB: u32 = BK + 8u;
const B_STAGE: u32 = BN * SB;
const B_VECS: u32 = BK / 8u;
const B_LOADS: u32 = BN * B_VECS / STAGERS;
// #else
// W tile: BK rows (k) of BN halves (n).
const SB: u32 = BN + 8u;
const B_STAGE: u32 = BK * SB;
const B_VECS: u32 = BN / 8u;
const B_LOADS: u32 = BK * B_VECS / STAGERS;
// #endif

// `Staged` holds up to 4 pieces of each tile per thread.
const_assert (A_LOADS == 1u || A_LOADS == 2u || A_LOADS == 4u) && (B_LOADS == 1u || B_LOADS == 2u || B_LOADS == 4u);
const_assert A_LOADS * STAGERS == BM * A_VECS;

// #if VEC_TILES
var<workgroup> tile_a: array<vec4<u32>, STAGES * A_STAGE / 8u>;
var<workgroup> tile_b: array<vec4<u32>, STAGES * B_STAGE / 8u>;
// #else
var<workgroup> tile_a: array<f16, STAGES * A_STAGE>;
var<workgroup> tile_b: array<f16, STAGES * B_STAGE>;
// #endif
// One 16×16 f32 accumulator per subgroup on its way out.
var<workgroup> scratch: array<f32, SG_M * SG_N * 256u>;
// The stages of both tiles and the scratch within the 48 KiB of workgroup memory an H100 grants (Vulkan).
const_assert STAGES * (A_STAGE + B_STAGE) * 2u + SG_M * SG_N * 1024u <= 49152u;
// SPLITK: this workgroup's split.
var<private> split_z: u32;

alias Left = subgroup_matrix_left<f16, 16, 16>;
alias Right = subgroup_matrix_right<f16, 16, 16>;
alias Acc = subgroup_matrix_result<f32, 16, 16>;

// Workgroups run down M first (x: row tiles, y: column tiles): those in flight together share W's columns, so each
// piece of W comes from device memory about once even when W is larger than L2.
@compute @workgroup_size(THREADS)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32,
        @builtin(subgroup_id) sg: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let row0 = wid.x * BM;
  let col0 = wid.y * BN;
  // #if SPLITK
  split_z = wid.z;
  let kbase = wid.z * p.kc;
  let steps = (min(p.K - kbase, p.kc) + BK - 1u) / BK;
  // #else
  let kbase = 0u;
  let steps = (p.K + BK - 1u) / BK;
  // #endif
  var acc: Accs;

  // #if SPLIT
  // Staging subgroups keep one step of loads in flight: at step s they store step s + 1 (loaded during step s - 1)
  // and load step s + 2, while the multiplying subgroups work on step s.
  let stages = sg >= SG_M * SG_N;
  let st = (sg - SG_M * SG_N) * 32u + lane;
  var held: Staged;
  if (stages) {
    put(0u, st, fetch(row0, col0, kbase, st));
    if (steps > 1u) { held = fetch(row0, col0, kbase + BK, st); }
  }
  workgroupBarrier();
  for (var s = 0u; s < steps; s++) {
    let stage = s % 2u;
    if (!stages) {
      multiply(&acc, stage, sg);
    } else if (s + 1u < steps) {
      put(1u - stage, st, held);
      if (s + 2u < steps) { held = fetch(row0, col0, kbase + (s + 2u) * BK, st); }
    }
    workgroupBarrier();
  }
  // #else
  // #if SINGLE_STAGE
  // One stage, K-steps twice as deep: a step's loads have its whole matrix work (two or four 16-deep slices) to land
  // before they are stored, where the double-buffered loop gives them one slice on the 64×64-per-subgroup tiles (a
  // K-step of 16 is shorter than global latency under load). Two barriers a step: every subgroup is done reading the
  // stage before it is overwritten, and the new tiles are whole before they are read; per unit of K, as many as
  // the double-buffered loop's one a step.
  put(0u, t, fetch(row0, col0, kbase, t));
  workgroupBarrier();
  // #if PROBE_NOSTAGE
  // Timing probe (wrong results by design): the first step's tiles multiplied `steps` times, a barrier a step (which
  // also keeps the driver from hoisting the fragment loads out of the loop), no global loads or staging stores.
  for (var s = 0u; s < steps; s++) {
    multiply(&acc, 0u, sg);
    workgroupBarrier();
  }
  // #else
  // #if PROBE_NOMMA
  // Timing probe (wrong results by design): every step's loads, staging stores and both barriers, no matrix work.
  for (var s = 0u; s < steps; s++) {
    let more = s + 1u < steps;
    var next: Staged;
    if (more) { next = fetch(row0, col0, kbase + (s + 1u) * BK, t); }
    workgroupBarrier();
    if (more) { put(0u, t, next); }
    workgroupBarrier();
  }
  // #else
  for (var s = 0u; s < steps; s++) {
    let more = s + 1u < steps;
    var next: Staged;
    if (more) { next = fetch(row0, col0, kbase + (s + 1u) * BK, t); }
    multiply(&acc, 0u, sg);
    workgroupBarrier();
    if (more) { put(0u, t, next); }
    workgroupBarrier();
  }
  // #endif
  // #endif
  // #else
  // #if PREFETCH2
  // Two sets of staging registers take turns, the loop unrolled by two so that neither is ever copied into the other:
  // a rotation (`held = ahead`, the first form of "+p2") makes the driver wait at the copy for loads issued that same
  // step, which gave back all the latency the second set was for (20-25% slower on the H100). Here a set is loaded
  // before one step's matrix work and stored after the next one's. Entering the pair (s, s + 1), `odd` holds step
  // s + 1 (zeros past the last step); `even` takes step s + 2 during step s, `odd` step s + 3 during step s + 1.
  put(0u, t, fetch(row0, col0, kbase, t));
  var odd: Staged;
  if (steps > 1u) { odd = fetch(row0, col0, kbase + BK, t); }
  workgroupBarrier();
  for (var s = 0u; s < steps; s += 2u) {
    var even: Staged;
    if (s + 2u < steps) { even = fetch(row0, col0, kbase + (s + 2u) * BK, t); }
    multiply(&acc, 0u, sg);
    // Stage 1 was last read in step s - 1, before that step's barrier, and is read next in step s + 1.
    if (s + 1u < steps) { put(1u, t, odd); }
    workgroupBarrier();
    if (s + 1u < steps) {
      if (s + 3u < steps) { odd = fetch(row0, col0, kbase + (s + 3u) * BK, t); }
      multiply(&acc, 1u, sg);
      if (s + 2u < steps) { put(0u, t, even); }
      workgroupBarrier();
    }
  }
  // #else
  put(0u, t, fetch(row0, col0, kbase, t));
  workgroupBarrier();
  for (var s = 0u; s < steps; s++) {
    let stage = s % 2u;
    let more = s + 1u < steps;
    // Next step's tiles into registers; their latency overlaps this step's matrix work.
    var next: Staged;
    if (more) { next = fetch(row0, col0, kbase + (s + 1u) * BK, t); }
    multiply(&acc, stage, sg);
    // The other stage was last read in step s - 1, before that step's barrier.
    if (more) { put(1u - stage, t, next); }
    workgroupBarrier();
  }
  // #endif
  // #endif
  // #endif

  // #if SWIGLU
  emit_glu(acc.c00, acc.c01, 0u, 0u, row0, col0, sg, lane);
  emit_glu(acc.c10, acc.c11, 1u, 0u, row0, col0, sg, lane);
  // #if FM4
  emit_glu(acc.c20, acc.c21, 2u, 0u, row0, col0, sg, lane);
  emit_glu(acc.c30, acc.c31, 3u, 0u, row0, col0, sg, lane);
  // #endif
  // #if FN4
  emit_glu(acc.c02, acc.c03, 0u, 2u, row0, col0, sg, lane);
  emit_glu(acc.c12, acc.c13, 1u, 2u, row0, col0, sg, lane);
  emit_glu(acc.c22, acc.c23, 2u, 2u, row0, col0, sg, lane);
  emit_glu(acc.c32, acc.c33, 3u, 2u, row0, col0, sg, lane);
  // #endif
  // #else
  emit(acc.c00, 0u, 0u, row0, col0, sg, lane);
  emit(acc.c01, 0u, 1u, row0, col0, sg, lane);
  emit(acc.c10, 1u, 0u, row0, col0, sg, lane);
  emit(acc.c11, 1u, 1u, row0, col0, sg, lane);
  // #if FM4
  emit(acc.c20, 2u, 0u, row0, col0, sg, lane);
  emit(acc.c21, 2u, 1u, row0, col0, sg, lane);
  emit(acc.c30, 3u, 0u, row0, col0, sg, lane);
  emit(acc.c31, 3u, 1u, row0, col0, sg, lane);
  // #endif
  // #if FN4
  emit(acc.c02, 0u, 2u, row0, col0, sg, lane);
  emit(acc.c03, 0u, 3u, row0, col0, sg, lane);
  emit(acc.c12, 1u, 2u, row0, col0, sg, lane);
  emit(acc.c13, 1u, 3u, row0, col0, sg, lane);
  emit(acc.c22, 2u, 2u, row0, col0, sg, lane);
  emit(acc.c23, 2u, 3u, row0, col0, sg, lane);
  emit(acc.c32, 3u, 2u, row0, col0, sg, lane);
  emit(acc.c33, 3u, 3u, row0, col0, sg, lane);
  // #endif
  // #endif
}
