// Tiled GEMM with bias, a fused activation and residual: y[M,N] = act(x[M,K] · W + b[N]) (+ res[M,N]), or with
// RESIDUAL_PRE y = act(x · W + b + res).
// W is [K,N] row-major ("kn", GPT-2's Conv1D) or, with W_NK, [N,K] row-major ("nk", nn.Linear).
// Each workgroup of 16×16 threads computes a BM×BN tile of y, stepping through K by BK: both input tiles are staged
// in workgroup memory (as f32, transposed so that the inner product reads them along M and N), and each thread
// accumulates TM×TN outputs in registers. A thread owns rows ty + 16i and columns tx + 16j (strided, not blocked),
// so that workgroup-memory reads are broadcasts or consecutive words and the final stores are coalesced.
// Storage is the variant's dtype (f32 or f16); arithmetic is f32. Any M, N, K: out-of-range loads read 0.
// SWIGLU (with W_NK and GLU_BLOCKS): W's rows (the GEMM's N columns) come as blocks of 16 gate rows, each followed by
// the same outputs' 16 up rows, and y is [M, y_n] with y[m, n] = silu(gate) · up: a thread's columns j and j + 1
// (16 apart, j even; tiles start on multiples of 32) are the gate and up of one output, col0 / 2 + 16 (j / 2) + tx.
// SPLITK (no epilogue): workgroup z sums k in [z·kc, (z+1)·kc) and writes f32 partial sums [z, M, N] to part; the
// consumer adds the splits (matmul_reduce.wgsl, or a LayerNorm that fuses that pass: layernorm.wgsl's PARTIALS).
// Variants: W_NK, BIAS, RESIDUAL (+ RESIDUAL_PRE), TILE_8X8 (128×128 tiles for large shapes), activation defines of
// epilogue.wgsl, SWIGLU, SPLITK.
alias E = f32; // @dtype

struct Params {
  M: u32,
  N: u32,
  K: u32,
  // Element offsets of x's and y's first rows within their bindings (bindings start on 256-byte boundaries).
  x_off: u32,
  y_off: u32,
  // RESIDUAL: element offset of the residual's first row.
  r_off: u32,
  // SWIGLU: y's columns (the outputs; N counts W's gate and up rows).
  y_n: u32,
  // SPLITK: k per split, a multiple of BK.
  kc: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<E>;
@group(0) @binding(2) var<storage, read> w: array<E>;
// #if SPLITK
@group(0) @binding(3) var<storage, read_write> part: array<f32>;
// #else
@group(0) @binding(3) var<storage, read_write> y: array<E>;
// #endif
// #if BIAS
@group(0) @binding(4) var<storage, read> b: array<E>;
// #endif
// The residual follows y and the bias, whichever are bound.
// #if RESIDUAL
// #if BIAS
@group(0) @binding(5) var<storage, read> res: array<E>;
// #else
@group(0) @binding(4) var<storage, read> res: array<E>;
// #endif
// #endif

// #if TILE_8X8
const TM: u32 = 8u;
const TN: u32 = 8u;
// #else
const TM: u32 = 4u;
const TN: u32 = 4u;
// #endif
const BM: u32 = 16u * TM;
const BN: u32 = 16u * TN;
const BK: u32 = 16u;
const THREADS: u32 = 256u;
// Row strides of the staged tiles, padded by one word so that the transposing stores do not all hit one bank.
const SA: u32 = BM + 1u;
const SB: u32 = BN + 1u;

var<workgroup> tile_a: array<f32, BK * SA>;
var<workgroup> tile_b: array<f32, BK * SB>;

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) t: u32) {
  let row0 = wid.y * BM;
  let col0 = wid.x * BN;
  let M = p.M;
  let N = p.N;
  let K = p.K;
  var acc: array<f32, TM * TN>;
  // This workgroup's k range: all of K, or its split's.
  // #if SPLITK
  let k_begin = wid.z * p.kc;
  let k_end = min(K, k_begin + p.kc);
  // #else
  let k_begin = 0u;
  let k_end = K;
  // #endif

  for (var k0 = k_begin; k0 < k_end; k0 += BK) {
    // x tile, BM×BK: consecutive threads read consecutive k of one row.
    for (var i = 0u; i < BM * BK / THREADS; i++) {
      let idx = t + i * THREADS;
      let m = idx / BK;
      let k = idx % BK;
      let gm = row0 + m;
      let gk = k0 + k;
      var v = 0.0;
      if (gm < M && gk < k_end) { v = f32(x[p.x_off + gm * K + gk]); }
      tile_a[k * SA + m] = v;
    }
    // W tile, BK×BN: consecutive threads read consecutive addresses of W in either layout.
    for (var i = 0u; i < BK * BN / THREADS; i++) {
      let idx = t + i * THREADS;
      // #if W_NK
      let n = idx / BK;
      let k = idx % BK;
      // #else
      let k = idx / BN;
      let n = idx % BN;
      // #endif
      let gn = col0 + n;
      let gk = k0 + k;
      var v = 0.0;
      // #if W_NK
      if (gn < N && gk < k_end) { v = f32(w[gn * K + gk]); }
      // #else
      if (gn < N && gk < k_end) { v = f32(w[gk * N + gn]); }
      // #endif
      tile_b[k * SB + n] = v;
    }
    workgroupBarrier();
    for (var k = 0u; k < BK; k++) {
      var a: array<f32, TM>;
      var bb: array<f32, TN>;
      for (var i = 0u; i < TM; i++) { a[i] = tile_a[k * SA + lid.y + 16u * i]; }
      for (var j = 0u; j < TN; j++) { bb[j] = tile_b[k * SB + lid.x + 16u * j]; }
      for (var i = 0u; i < TM; i++) {
        for (var j = 0u; j < TN; j++) { acc[i * TN + j] = fma(a[i], bb[j], acc[i * TN + j]); }
      }
    }
    workgroupBarrier();
  }

  // #if SPLITK
  // #if SWIGLU
  const_assert false; // the partials would need the reduce pass to pair gate and up
  // #endif
  let zb = wid.z * M * N;
  for (var i = 0u; i < TM; i++) {
    let gm = row0 + lid.y + 16u * i;
    if (gm >= M) { break; }
    for (var j = 0u; j < TN; j++) {
      let gn = col0 + lid.x + 16u * j;
      if (gn >= N) { break; }
      part[zb + gm * N + gn] = acc[i * TN + j];
    }
  }
  // #else
  // #if SWIGLU
  for (var i = 0u; i < TM; i++) {
    let gm = row0 + lid.y + 16u * i;
    if (gm >= M) { break; }
    for (var j = 0u; j < TN; j += 2u) {
      let on = col0 / 2u + 8u * j + lid.x;
      if (on >= p.y_n) { break; }
      var g = acc[i * TN + j];
      var u = acc[i * TN + j + 1u];
      // #if BIAS
      let gn = col0 + lid.x + 16u * j;
      g += f32(b[gn]);
      u += f32(b[gn + 16u]);
      // #endif
      y[p.y_off + gm * p.y_n + on] = E(silu(g) * u);
    }
  }
  // #else
  for (var i = 0u; i < TM; i++) {
    let gm = row0 + lid.y + 16u * i;
    if (gm >= M) { break; }
    for (var j = 0u; j < TN; j++) {
      let gn = col0 + lid.x + 16u * j;
      if (gn >= N) { break; }
      var v = acc[i * TN + j];
      // #if BIAS
      v += f32(b[gn]);
      // #endif
      // #if RESIDUAL
      let r = f32(res[p.r_off + gm * N + gn]);
      // #if RESIDUAL_PRE
      v = act(v + r);
      // #else
      v = act(v) + r;
      // #endif
      // #else
      v = act(v);
      // #endif
      y[p.y_off + gm * N + gn] = E(v);
    }
  }
  // #endif
  // #endif
}
