// Flash attention for prefill on tensor cores (subgroup matrices): same layout rules and results as flash.wgsl, for
// f16 q, k, v and out whose head_dim (HD: 64 or 128), strides and offsets are multiples of 8, without a padding mask
// or key splits (attention.ts routes only such calls here).
//
// Rows: a kv head's queries form R = T·group rows, row ρ = (query t = ρ / group, query head h = hk·group + ρ % group),
// as in flash.wgsl. A workgroup owns BQ = 64 rows of one (batch, kv head): four subgroups of 16 rows each. Its q rows
// are staged once into workgroup memory and loaded as HD/16 left fragments per subgroup, held in registers.
//
// Each key block's k (and v) is loaded into registers a block ahead and stored to workgroup memory at its turn.
// Two passes over the key blocks of 32 keys the tile sees (with causal, none past its last row's query), so that the
// accumulators never need rescaling (a subgroup matrix cannot be scaled row by row):
//   pass 1: S = Q·Kᵀ on the tensor cores (16 rows × 32 keys a subgroup: two 16×16 f32 accumulators), through
//     workgroup memory to the lanes (two lanes a row, 16 keys each), which keep the running max m and sum l of
//     exp2(s − m) (scores carry scale · log2 e); the two lanes of a row combine at the end.
//   pass 2: S again, p = exp2(s − m) / l as f16 into workgroup memory, then O += P·V on the tensor cores (P as left
//     fragments, the staged V rows as right ones): HD/16 accumulators of 16×16 f32 per subgroup, already normalised.
// That is 1.5× the matrix work of one-pass flash attention, all of it on the tensor cores.
// Softmax (session 5, the default; SOFTMAX_OLD, DJINN_FLASH_SOFTMAX=old, keeps the one described above for A/B): pass 1
// keeps only the max (of raw scores; the scale's sign goes into q at staging, so max(s)·|scale| is the scaled max);
// pass 2 writes p = exp2(fma(s, |scale|, −m)) unnormalised and sums it, and the output is divided by the sum at the
// end. Masks are tested only in blocks crossing the diagonal or S, and a row's lanes take its columns rotated by the
// row, so that a step's 32 reads of the scores hit 32 banks (the scores' rows are 128 bytes: with the plain order every
// row's column c sat in bank c, 16 lanes to a bank).
// Masked keys (causal, or past S) get p = 0, and their v rows are staged as zeros, so whatever the cache holds past
// the keys a tile sees never reaches the output. Rows past R are computed on zeros and never written.
// Assumes subgroups of 32 (NVIDIA), like matmul_sgmat.wgsl. Workgroup memory: 17408 (q) + 17408 (k, v) + 8192
// (scores) + 5120 (p) = 48128 bytes at HD = 128.
//
// Launch shapes (defines; attention.ts's sgmat_variants.ts names them), same algorithm:
//   Q128: 128 rows a workgroup (8 row blocks of 16), so each staged k/v block serves twice the rows. q is staged
//     through the k/v tiles, 64 dims a round, before the first block: 44032 bytes.
//   PAIRED: two subgroups a row block: in S each takes 16 of the 32 keys, in P·V half the head dims, and the lanes of
//     both share the softmax (8 keys a lane; the pair's (m, l) meet through the scores area once after pass 1). Half
//     the accumulators per lane, twice the subgroups: more warps a streaming multiprocessor.
// Timing probes (PROBE_*: wrong results by design; flash_sgmat_probe.wgsl has the matrix ones) remove one part each.
// The spec appends the staging (flash_sgmat_stage.wgsl), the matrix work (flash_sgmat_matrix.wgsl) and the probes.
enable subgroups;
enable chromium_experimental_subgroup_matrix;

struct Params {
  B: u32,
  T: u32,
  S: u32,
  Hkv: u32,
  H: u32,
  group: u32, // H / Hkv
  q_stride: u32, // all in elements, multiples of 8
  k_stride: u32,
  v_stride: u32,
  out_stride: u32,
  q_offset: u32,
  k_offset: u32,
  v_offset: u32,
  out_offset: u32,
  q_batch: u32,
  k_batch: u32,
  v_batch: u32,
  out_batch: u32,
  causal: u32,
  query_pos0: u32,
  scale: f32, // scale · log2(e)
  tiles: u32, // row tiles per (batch, kv head): ceil(T·group / BQ)
  _p0: u32, // 0 (the probes' never-taken branches test it against 1)
  _p1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> k: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> v: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read_write> out: array<vec4<u32>>;

override HD: u32 = 128u; // head_dim: 64 or 128
// #if Q128
const BQ: u32 = 128u; // rows per workgroup
// #else
const BQ: u32 = 64u;
// #endif
// #if PAIRED
const PARTS: u32 = 2u; // subgroups per 16 rows
// #else
const PARTS: u32 = 1u;
// #endif
const RB: u32 = BQ / 16u; // row blocks
const THREADS: u32 = RB * PARTS * 32u;
const BK: u32 = 32u; // keys per block
const KPL: u32 = BK / (2u * PARTS); // keys a lane takes in the softmax
const SQ: u32 = 136u; // staged row stride in halves: 128 + 8 (the fragment loads' rows land in distinct banks)
const VT: u32 = BK * SQ; // the v tile's start in kv
const SP: u32 = 40u; // p row stride: 32 + 8
const LOW: f32 = -3.0e38;

// #if !Q128
var<workgroup> qs: array<f16, BQ * SQ>;
// #endif
var<workgroup> kv: array<f16, 2u * BK * SQ>; // the k tile, then the v tile
var<workgroup> sc: array<f32, RB * 16u * BK>; // each row block's 16 × 32 scores (later 16 × 16 output blocks)
var<workgroup> ps: array<f16, RB * 16u * SP>; // each row block's 16 × 32 weights

alias Left = subgroup_matrix_left<f16, 16, 16>;
alias Right = subgroup_matrix_right<f16, 16, 16>;
alias Acc = subgroup_matrix_result<f32, 16, 16>;

// A barrier inside the key-block loops (PROBE_NOBARRIER drops them).
fn sync() {
  // #if !PROBE_NOBARRIER
  workgroupBarrier();
  // #endif
}

// #if PROBE_PASS1ONLY
var<private> fold: f32; // pass 1's result, added to the output so that pass 1 stays
// #endif

// Writes output block n (dims 16·n ..) of a subgroup, times its lane's row's `norm`: through its 16 × 16 area of the scores (at `area`, row stride
// 16), then lane l writes row l / 2, dims 8·(l % 2) .. + 8 as one 16-byte piece. `ob` is the lane's row's out index
// (dim 0); rows past R have live = false.
fn emit(norm: f32, c: Acc, n: u32, area: u32, lane: u32, ob: u32, live: bool) {
  subgroupMatrixStore<row_major>(&sc, area, c, 16u);
  workgroupBarrier();
  let r = lane / 2u;
  let c0 = (lane % 2u) * 8u;
  let at = area + r * 16u + c0;
  // #if PROBE_PASS1ONLY
  let x0 = sc[at] + fold;
  // #else
  let x0 = sc[at];
  // #endif
  if (live) {
    out[(ob + n * 16u + c0) / 8u] = vec4<u32>(
      pack2x16float(vec2<f32>(x0, sc[at + 1u]) * norm), pack2x16float(vec2<f32>(sc[at + 2u], sc[at + 3u]) * norm),
      pack2x16float(vec2<f32>(sc[at + 4u], sc[at + 5u]) * norm), pack2x16float(vec2<f32>(sc[at + 6u], sc[at + 7u]) * norm));
  }
  workgroupBarrier();
}

@compute @workgroup_size(THREADS)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) t: u32,
        @builtin(subgroup_id) sg: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let w = wid.x + wid.y * nwg.x;
  let per_tile = p.B * p.Hkv;
  if (w >= p.tiles * per_tile) { return; }
  let tile = p.tiles - 1u - w / per_tile; // heaviest (last) tiles first
  let bh = w % per_tile;
  let b = bh / p.Hkv;
  let hk = bh % p.Hkv;
  let R = p.T * p.group;
  let row0 = tile * BQ;
  let rb = sg % RB; // the subgroup's row block
  let part = sg / RB; // and its part of it (PAIRED)

  // Stage the tile's q rows (zeros past R) and load the subgroup's q fragments.
  var qf: Q8;
  // #if Q128
  // Through the k/v tiles, 64 dims of the 128 rows a round (row stride 64).
  for (var i = t; i < BQ * 8u; i += THREADS) { put8((i / 8u) * 64u + (i % 8u) * 8u, qpiece(b, hk, row0 + i / 8u, R, (i % 8u) * 8u)); }
  workgroupBarrier();
  qf.q0 = qfrag(rb, 0u); qf.q1 = qfrag(rb, 1u); qf.q2 = qfrag(rb, 2u); qf.q3 = qfrag(rb, 3u);
  if (HD > 64u) {
    workgroupBarrier();
    for (var i = t; i < BQ * 8u; i += THREADS) { put8((i / 8u) * 64u + (i % 8u) * 8u, qpiece(b, hk, row0 + i / 8u, R, 64u + (i % 8u) * 8u)); }
    workgroupBarrier();
    qf.q4 = qfrag(rb, 4u); qf.q5 = qfrag(rb, 5u); qf.q6 = qfrag(rb, 6u); qf.q7 = qfrag(rb, 7u);
  }
  // #else
  let pieces = HD / 8u;
  for (var i = t; i < BQ * pieces; i += THREADS) {
    let x = qpiece(b, hk, row0 + i / pieces, R, (i % pieces) * 8u);
    let a = bitcast<vec2<f16>>(x.x);
    let bb = bitcast<vec2<f16>>(x.y);
    let c = bitcast<vec2<f16>>(x.z);
    let d = bitcast<vec2<f16>>(x.w);
    let dst = (i / pieces) * SQ + (i % pieces) * 8u;
    qs[dst] = a.x; qs[dst + 1u] = a.y; qs[dst + 2u] = bb.x; qs[dst + 3u] = bb.y;
    qs[dst + 4u] = c.x; qs[dst + 5u] = c.y; qs[dst + 6u] = d.x; qs[dst + 7u] = d.y;
  }
  workgroupBarrier();
  qf.q0 = qfrag(rb, 0u); qf.q1 = qfrag(rb, 1u); qf.q2 = qfrag(rb, 2u); qf.q3 = qfrag(rb, 3u);
  if (HD > 64u) { qf.q4 = qfrag(rb, 4u); qf.q5 = qfrag(rb, 5u); qf.q6 = qfrag(rb, 6u); qf.q7 = qfrag(rb, 7u); }
  // #endif
  // Keys the tile sees: with causal, none past its last row's query.
  let last = min(row0 + BQ, R) - 1u;
  var live = p.S;
  if (p.causal != 0u) { live = min(p.S, p.query_pos0 + last / p.group + 1u); }
  let blocks = (live + BK - 1u) / BK;

  // This lane's row (of the row block's 16) and keys of the block.
  let r = lane / 2u;
  let rho = row0 + rb * 16u + r;
  let qpos = p.query_pos0 + min(rho, R - 1u) / p.group;
  let row_live = rho < R;
  var o: O8;
  var norm = 1.0; // the row's 1 / sum, applied at the output (new softmax; the old one's p came normalised)
  // #if SOFTMAX_OLD
  let half = part * (BK / PARTS) + (lane % 2u) * KPL;
  let base = rb * 16u * BK + r * BK + half;

  // Pass 1: the row's max and sum.
  var m = LOW;
  var l = 0.0;
  var next = load_kv(b, hk, 0u, live, t, false);
  for (var blk = 0u; blk < blocks; blk++) {
    let j0 = blk * BK;
    sync(); // the previous block's tiles are no longer read
    store_kv(next, t, false);
    sync();
    if (blk + 1u < blocks) { next = load_kv(b, hk, j0 + BK, live, t, false); }
    scores(&qf, rb, part);
    sync();
    // #if PROBE_NOMMA
    keep_k(&qf);
    // #endif
    // #if !PROBE_NOSOFTMAX
    var mb = m;
    for (var c = 0u; c < KPL; c++) {
      let j = j0 + half + c;
      if (j < live && (p.causal == 0u || j <= qpos)) { mb = max(mb, sc[base + c] * p.scale); }
    }
    var sum = 0.0;
    for (var c = 0u; c < KPL; c++) {
      let j = j0 + half + c;
      if (j < live && (p.causal == 0u || j <= qpos)) { sum += exp2(sc[base + c] * p.scale - mb); }
    }
    l = l * exp2(m - mb) + sum;
    m = mb;
    // #endif
  }
  // Combine the row's two lanes (PAIRED: then the pair's two subgroups).
  let mo = subgroupShuffleXor(m, 1u);
  let lo = subgroupShuffleXor(l, 1u);
  var mt = max(m, mo);
  var lt = l * exp2(m - mt) + lo * exp2(mo - mt);
  // #if PAIRED
  workgroupBarrier(); // the last block's scores are read
  if (lane % 2u == 0u) { sc[rb * 16u * BK + r * BK + part * 2u] = mt; sc[rb * 16u * BK + r * BK + part * 2u + 1u] = lt; }
  workgroupBarrier();
  let mp = sc[rb * 16u * BK + r * BK + (1u - part) * 2u];
  let lp = sc[rb * 16u * BK + r * BK + (1u - part) * 2u + 1u];
  let mq = max(mt, mp);
  lt = lt * exp2(mt - mq) + lp * exp2(mp - mq);
  mt = mq;
  // #endif
  let inv = select(0.0, 1.0 / lt, lt > 0.0);

  // Pass 2: normalised weights, O += P·V.
  // #if PROBE_NOFRAG
  nofrag_init(&o);
  // #endif
  // #if PROBE_PASS1ONLY
  fold = inv;
  // #else
  next = load_kv(b, hk, 0u, live, t, true);
  for (var blk = 0u; blk < blocks; blk++) {
    let j0 = blk * BK;
    sync();
    // #if PROBE_NOMMA
    keep_v(&o);
    // #endif
    store_kv(next, t, true);
    sync();
    if (blk + 1u < blocks) { next = load_kv(b, hk, j0 + BK, live, t, true); }
    scores(&qf, rb, part);
    sync();
    // #if PROBE_NOMMA
    keep_k(&qf);
    // #endif
    let pb = rb * 16u * SP + r * SP + half;
    for (var c = 0u; c < KPL; c++) {
      let j = j0 + half + c;
      // #if PROBE_NOSOFTMAX
      let w8 = sc[base + c];
      // #else
      var w8 = 0.0;
      if (j < live && (p.causal == 0u || j <= qpos)) { w8 = exp2(sc[base + c] * p.scale - mt) * inv; }
      // #endif
      ps[pb + c] = f16(w8);
    }
    sync();
    accumulate(&o, rb, part);
  }
  // #endif

  // #else
  // New softmax (probes never take it): pass 1 keeps only the row's max, of raw scores (the scale, made positive at q's
  // staging, is applied once to the max: max(s)·scale = max(s·scale)); pass 2 forms p = exp2(s·scale − m) with one
  // fma and one exp2, stores it unnormalised as f16 and sums it in f32; the output is divided by the sum at the end.
  // Masks are tested only in blocks that cross the causal diagonal or S. The lanes of a row take its columns rotated
  // by the row (lane (r, h), step c: column (h·KPL + r + c) mod GW of the subgroup's GW), so that the 32 lanes read 32
  // banks at each step (PAIRED: 16 columns a subgroup, two lanes a bank) instead of one bank for every row.
  let GW = BK / PARTS;
  let cols = part * GW; // the subgroup's first column of the block
  let hoff = (lane % 2u) * KPL + r;
  let srow = rb * 16u * BK + r * BK + cols;
  let scl = abs(p.scale);
  var m0 = LOW;
  var m1 = LOW;
  var next = load_kv(b, hk, 0u, live, t, false);
  for (var blk = 0u; blk < blocks; blk++) {
    let j0 = blk * BK;
    sync(); // the previous block's tiles are no longer read
    store_kv(next, t, false);
    sync();
    if (blk + 1u < blocks) { next = load_kv(b, hk, j0 + BK, live, t, false); }
    scores(&qf, rb, part);
    sync();
    if (j0 + BK <= live && (p.causal == 0u || j0 + BK - 1u <= qpos)) {
      for (var c = 0u; c < KPL; c += 2u) {
        m0 = max(m0, sc[srow + ((hoff + c) & (GW - 1u))]);
        m1 = max(m1, sc[srow + ((hoff + c + 1u) & (GW - 1u))]);
      }
    } else {
      for (var c = 0u; c < KPL; c++) {
        let col = (hoff + c) & (GW - 1u);
        let j = j0 + cols + col;
        if (j < live && (p.causal == 0u || j <= qpos)) { m0 = max(m0, sc[srow + col]); }
      }
    }
  }
  // The row's max over its two lanes (PAIRED: then the pair's two subgroups).
  var mr = max(m0, m1);
  mr = max(mr, subgroupShuffleXor(mr, 1u));
  // #if PAIRED
  workgroupBarrier(); // the last block's scores are read
  if (lane % 2u == 0u) { sc[rb * 16u * BK + r * BK + part] = mr; }
  workgroupBarrier();
  mr = max(mr, sc[rb * 16u * BK + r * BK + 1u - part]);
  // #endif
  let ms = mr * scl; // the row's max of s · scale
  let prow = rb * 16u * SP + r * SP + cols;
  var l = 0.0;
  next = load_kv(b, hk, 0u, live, t, true);
  for (var blk = 0u; blk < blocks; blk++) {
    let j0 = blk * BK;
    sync();
    store_kv(next, t, true);
    sync();
    if (blk + 1u < blocks) { next = load_kv(b, hk, j0 + BK, live, t, true); }
    scores(&qf, rb, part);
    sync();
    if (j0 + BK <= live && (p.causal == 0u || j0 + BK - 1u <= qpos)) {
      for (var c = 0u; c < KPL; c++) {
        let col = (hoff + c) & (GW - 1u);
        let e = exp2(fma(sc[srow + col], scl, -ms));
        l += e;
        ps[prow + col] = f16(e);
      }
    } else {
      for (var c = 0u; c < KPL; c++) {
        let col = (hoff + c) & (GW - 1u);
        let j = j0 + cols + col;
        var e = 0.0;
        if (j < live && (p.causal == 0u || j <= qpos)) { e = exp2(fma(sc[srow + col], scl, -ms)); }
        l += e;
        ps[prow + col] = f16(e);
      }
    }
    sync();
    accumulate(&o, rb, part);
  }
  l += subgroupShuffleXor(l, 1u);
  // #if PAIRED
  workgroupBarrier(); // the last block's scores are read
  if (lane % 2u == 0u) { sc[rb * 16u * BK + r * BK + part] = l; }
  workgroupBarrier();
  l += sc[rb * 16u * BK + r * BK + 1u - part];
  // #endif
  norm = select(0.0, 1.0 / l, l > 0.0);
  // #endif

  // Out: row rho's (query, head) and its 16-dim blocks.
  let tq = min(rho, R - 1u) / p.group;
  let h = hk * p.group + min(rho, R - 1u) % p.group;
  let ob = p.out_offset + b * p.out_batch + tq * p.out_stride + h * HD;
  workgroupBarrier();
  // #if PROBE_NOMMA
  keep_v(&o);
  // #endif
  let area = rb * 16u * BK + part * 256u;
  // #if PAIRED
  let n0 = part * (HD / 32u);
  emit(norm, o.o0, n0, area, lane, ob, row_live);
  emit(norm, o.o1, n0 + 1u, area, lane, ob, row_live);
  if (HD > 64u) {
    emit(norm, o.o2, n0 + 2u, area, lane, ob, row_live);
    emit(norm, o.o3, n0 + 3u, area, lane, ob, row_live);
  }
  // #else
  emit(norm, o.o0, 0u, area, lane, ob, row_live);
  emit(norm, o.o1, 1u, area, lane, ob, row_live);
  emit(norm, o.o2, 2u, area, lane, ob, row_live);
  emit(norm, o.o3, 3u, area, lane, ob, row_live);
  if (HD > 64u) {
    emit(norm, o.o4, 4u, area, lane, ob, row_live);
    emit(norm, o.o5, 5u, area, lane, ob, row_live);
    emit(norm, o.o6, 6u, area, lane, ob, row_live);
    emit(norm, o.o7, 7u, area, lane, ob, row_live);
  }
  // #endif
}
