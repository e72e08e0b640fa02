// Flash attention for prefill on tensor cores (subgroup matrices), one pass: same layout rules and results as
// flash.wgsl, for f16 q, k, v and out whose head_dim (HD: 64 or 128), strides and offsets are multiples of 8, without a
// padding mask or key splits (attention.ts routes only such calls here). flash_sgmat_2pass.wgsl is the version before.
//
// Rows: a kv head's queries form R = T·group rows, row ρ = (query t = ρ / group, query head h = hk·group + ρ % group),
// as in flash.wgsl. A workgroup owns 64 rows of one (batch, kv head): four subgroups of 16 rows each. The q rows are
// staged once (in the k tiles' memory) and held as HD/16 left fragments per subgroup.
//
// Key blocks of 32 (with causal, none past the tile's last query) go through two k and two v tiles in workgroup memory:
// block n + 2 is loaded into registers while block n is computed and stored into the free tiles at block n + 1, so one
// block costs three barriers. Per block and subgroup:
//   S = Q·Kᵀ (two 16×16 f32 accumulators) → the subgroup's scores in workgroup memory → two lanes a row, 16 keys each:
//   the block's row max, p = exp2(s − m) as f16 for P·V, the row sum l of the same rounded p (scores carry scale·log2 e).
//   O += P·V: HD/16 accumulators of 16×16 f32 per subgroup.
// The online softmax rescales lazily: a row keeps its reference max m until a block's max exceeds it by more than TAU
// (p ≤ 2^TAU then: f16 and the f32 sums hold it). A subgroup matrix cannot be scaled row by row, so when any row moves
// m (rare: the first block sets it, later blocks seldom beat it by 2^8), every subgroup passes its accumulators through
// workgroup memory, scales their rows by exp2(m_old − m_new) and loads them back; rows whose m did not move scale by 1.
// Masked keys (causal, or past S) get p = 0, and v rows past the keys the tile sees are staged as zeros, so whatever
// the cache holds there never reaches the output. Rows past R are computed (clamped to row R − 1) and never written.
// Assumes subgroups of 32 (NVIDIA). Workgroup memory at HD = 128: 17392 (k) + 17392 (v) + 9216 (scores) + 5104 (p)
// + 16 (the flag, as Dawn counts it) = 49120 bytes; at HD = 64, 32736.
// The fragment operations (ld_*, st_acc, ld_acc, mma, pair_*) are in flash_sgmat_ops.wgsl, appended by the spec: the
// tensor cores, or under EMULATE a per-invocation emulation that runs on any adapter (the tests' check of this file).
// #if !EMULATE
enable subgroups;
enable chromium_experimental_subgroup_matrix;
// #endif

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
  tiles: u32, // row tiles per (batch, kv head): ceil(T·group / 64)
  _p0: u32,
  _p1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> k: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> v: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read_write> out: array<vec4<u32>>;

override HD: u32 = 128u; // head_dim: 64 or 128
const BQ: u32 = 64u; // rows per workgroup
const BK: u32 = 32u; // keys per block
const THREADS: u32 = 128u;
// Staged row stride in halves: HD + 8, so that a fragment load's eight 16-byte rows land in distinct banks.
override SQ: u32 = HD + 8u;
const SS: u32 = 36u; // score row stride (f32): 32 + 4, for the accumulator stores and the lanes' reads
const SP: u32 = 40u; // p row stride (f16): 32 + 8
const LOW: f32 = -3.0e38;
const TAU: f32 = 8.0; // log2 of the largest p before the reference max moves

// The last row's padding is cut from ks, vs and ps (the 48 KiB limit): every fragment load still ends in the array.
var<workgroup> ks: array<f16, 2u * BK * SQ - 8u>; // two k tiles (first the 64 q rows)
var<workgroup> vs: array<f16, 2u * BK * SQ - 8u>; // two v tiles
var<workgroup> sc: array<f32, 4u * 16u * SS>; // each subgroup's 16 × 32 scores (or two 16 × 16 output blocks)
var<workgroup> ps: array<f16, 4u * 16u * SP - 8u>; // each subgroup's 16 × 32 weights
var<workgroup> moved: atomic<u32>; // 1 + the last block at which some row's reference max moved

// Stores 8 halves (one 16-byte piece) at dst of the k tiles (which = 0) or the v tiles. The four 4-byte words go in an
// order rotated by `rot` (lane / 8), so that the 32 lanes of each store hit 32 distinct banks.
fn put8(dst: u32, which: u32, x: vec4<u32>, rot: u32) {
  for (var i = 0u; i < 4u; i++) {
    let w = (i + rot) & 3u;
    let h = bitcast<vec2<f16>>(x[w]);
    if (which == 0u) {
      ks[dst + 2u * w] = h.x; ks[dst + 2u * w + 1u] = h.y;
    } else {
      vs[dst + 2u * w] = h.x; vs[dst + 2u * w + 1u] = h.y;
    }
  }
}

// A thread's share of a key block: up to 4 16-byte pieces of k and of v (HD = 128: 4 each; HD = 64: 2).
struct KV { k0: vec4<u32>, k1: vec4<u32>, k2: vec4<u32>, k3: vec4<u32>, v0: vec4<u32>, v1: vec4<u32>, v2: vec4<u32>, v3: vec4<u32> }

// Piece n of thread t's share of keys j0 .. j0 + 31 (k, or v with which = 1); zeros at or past `live`.
fn piece(b: u32, hk: u32, j0: u32, live: u32, t: u32, n: u32, which: u32) -> vec4<u32> {
  let pieces = HD / 8u;
  let i = t + n * THREADS;
  let j = j0 + i / pieces;
  let d = (i % pieces) * 8u;
  if (i >= BK * pieces || j >= live) { return vec4<u32>(); }
  if (which == 0u) { return k[(p.k_offset + b * p.k_batch + j * p.k_stride + hk * HD + d) / 8u]; }
  return v[(p.v_offset + b * p.v_batch + j * p.v_stride + hk * HD + d) / 8u];
}

// Loads thread t's share of the key block from j0 into registers.
fn load_kv(b: u32, hk: u32, j0: u32, live: u32, t: u32) -> KV {
  var r: KV;
  r.k0 = piece(b, hk, j0, live, t, 0u, 0u);
  r.k1 = piece(b, hk, j0, live, t, 1u, 0u);
  r.v0 = piece(b, hk, j0, live, t, 0u, 1u);
  r.v1 = piece(b, hk, j0, live, t, 1u, 1u);
  if (HD > 64u) {
    r.k2 = piece(b, hk, j0, live, t, 2u, 0u);
    r.k3 = piece(b, hk, j0, live, t, 3u, 0u);
    r.v2 = piece(b, hk, j0, live, t, 2u, 1u);
    r.v3 = piece(b, hk, j0, live, t, 3u, 1u);
  }
  return r;
}

// Stores thread t's share (from load_kv) into k and v tile `buf`.
fn store_kv(r: KV, t: u32, buf: u32) {
  let pieces = HD / 8u;
  let rot = (t / 8u) & 3u;
  let base = buf * BK * SQ;
  for (var n = 0u; n < 4u; n++) {
    let i = t + n * THREADS;
    if (i >= BK * pieces) { break; }
    let at = base + (i / pieces) * SQ + (i % pieces) * 8u;
    var xk = r.k0;
    var xv = r.v0;
    if (n == 1u) { xk = r.k1; xv = r.v1; }
    if (n == 2u) { xk = r.k2; xv = r.v2; }
    if (n == 3u) { xk = r.k3; xv = r.v3; }
    put8(at, 0u, xk, rot);
    put8(at, 1u, xv, rot);
  }
}

struct Q8 { q0: Left, q1: Left, q2: Left, q3: Left, q4: Left, q5: Left, q6: Left, q7: Left }
struct O8 { o0: Acc, o1: Acc, o2: Acc, o3: Acc, o4: Acc, o5: Acc, o6: Acc, o7: Acc }

// Right fragment of Kᵀ: dims 16·kk .. of keys 16·c .. of k tile `kb` (its first element's index).
fn kfrag(kb: u32, c: u32, kk: u32) -> Right {
  return ld_k(kb + c * 16u * SQ + kk * 16u);
}

// S = Q·Kᵀ for k tile `kb` into the subgroup's scores (16 × 32, row stride SS).
fn scores(qf: ptr<function, Q8>, kb: u32, sg: u32, lane: u32) {
  var s0: Acc;
  var s1: Acc;
  s0 = mma((*qf).q0, kfrag(kb, 0u, 0u), s0);
  s1 = mma((*qf).q0, kfrag(kb, 1u, 0u), s1);
  s0 = mma((*qf).q1, kfrag(kb, 0u, 1u), s0);
  s1 = mma((*qf).q1, kfrag(kb, 1u, 1u), s1);
  s0 = mma((*qf).q2, kfrag(kb, 0u, 2u), s0);
  s1 = mma((*qf).q2, kfrag(kb, 1u, 2u), s1);
  s0 = mma((*qf).q3, kfrag(kb, 0u, 3u), s0);
  s1 = mma((*qf).q3, kfrag(kb, 1u, 3u), s1);
  if (HD > 64u) {
    s0 = mma((*qf).q4, kfrag(kb, 0u, 4u), s0);
    s1 = mma((*qf).q4, kfrag(kb, 1u, 4u), s1);
    s0 = mma((*qf).q5, kfrag(kb, 0u, 5u), s0);
    s1 = mma((*qf).q5, kfrag(kb, 1u, 5u), s1);
    s0 = mma((*qf).q6, kfrag(kb, 0u, 6u), s0);
    s1 = mma((*qf).q6, kfrag(kb, 1u, 6u), s1);
    s0 = mma((*qf).q7, kfrag(kb, 0u, 7u), s0);
    s1 = mma((*qf).q7, kfrag(kb, 1u, 7u), s1);
  }
  st_acc(sg * 16u * SS, s0, lane);
  st_acc(sg * 16u * SS + 16u, s1, lane);
}

// O += P·V for v tile `vb`: P from the subgroup's weights (two left fragments over the block's 32 keys).
fn accumulate(o: ptr<function, O8>, vb: u32, sg: u32) {
  let p0 = ld_p(sg * 16u * SP);
  let p1 = ld_p(sg * 16u * SP + 16u);
  let v1 = vb + 16u * SQ;
  (*o).o0 = mma(p1, ld_v(v1), mma(p0, ld_v(vb), (*o).o0));
  (*o).o1 = mma(p1, ld_v(v1 + 16u), mma(p0, ld_v(vb + 16u), (*o).o1));
  (*o).o2 = mma(p1, ld_v(v1 + 32u), mma(p0, ld_v(vb + 32u), (*o).o2));
  (*o).o3 = mma(p1, ld_v(v1 + 48u), mma(p0, ld_v(vb + 48u), (*o).o3));
  if (HD > 64u) {
    (*o).o4 = mma(p1, ld_v(v1 + 64u), mma(p0, ld_v(vb + 64u), (*o).o4));
    (*o).o5 = mma(p1, ld_v(v1 + 80u), mma(p0, ld_v(vb + 80u), (*o).o5));
    (*o).o6 = mma(p1, ld_v(v1 + 96u), mma(p0, ld_v(vb + 96u), (*o).o6));
    (*o).o7 = mma(p1, ld_v(v1 + 112u), mma(p0, ld_v(vb + 112u), (*o).o7));
  }
}

struct Acc2 { a: Acc, b: Acc }

// Scales rows of two accumulators through the subgroup's scores area: lane (row r, half h) multiplies row r of
// accumulator h by `alpha`. Starts and ends with a barrier (the area is free before and after).
fn rescale2(x: Acc, y: Acc, alpha: f32, sg: u32, lane: u32) -> Acc2 {
  let area = sg * 16u * SS;
  workgroupBarrier();
  st_acc(area, x, lane);
  st_acc(area + 16u, y, lane);
  workgroupBarrier();
  let at = area + (lane / 2u) * SS + (lane % 2u) * 16u;
  for (var c = 0u; c < 16u; c++) { sc[at + c] *= alpha; }
  workgroupBarrier();
  var r: Acc2;
  r.a = ld_acc(area);
  r.b = ld_acc(area + 16u);
  workgroupBarrier();
  return r;
}

// Writes two accumulators (output dims 32·n .. 32·n + 31) through the subgroup's scores area: lane (row r, half h)
// writes row r's 16 dims of accumulator h, times `inv`, as two 16-byte pieces at out index `ob` (the row's dim 0).
fn emit2(x: Acc, y: Acc, n: u32, inv: f32, sg: u32, lane: u32, ob: u32, live: bool) {
  let area = sg * 16u * SS;
  workgroupBarrier();
  st_acc(area, x, lane);
  st_acc(area + 16u, y, lane);
  workgroupBarrier();
  let h = lane % 2u;
  let at = area + (lane / 2u) * SS + h * 16u;
  if (live) {
    var w: array<u32, 8>;
    for (var c = 0u; c < 8u; c++) { w[c] = pack2x16float(vec2<f32>(sc[at + 2u * c], sc[at + 2u * c + 1u]) * inv); }
    let o = (ob + n * 32u + h * 16u) / 8u;
    out[o] = vec4<u32>(w[0], w[1], w[2], w[3]);
    out[o + 1u] = vec4<u32>(w[4], w[5], w[6], w[7]);
  }
}

@compute @workgroup_size(THREADS)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) t: u32,
// #if !EMULATE
        @builtin(subgroup_id) sgid: u32, @builtin(subgroup_invocation_id) sgl: u32,
// #endif
) {
  // #if EMULATE
  let sg = t / 32u;
  let lane = t % 32u;
  // #else
  let sg = sgid;
  let lane = sgl;
  // #endif
  let w = wid.x + wid.y * nwg.x;
  let per_tile = p.B * p.Hkv;
  if (w >= p.tiles * per_tile) { return; }
  let tile = p.tiles - 1u - w / per_tile; // heaviest (last) tiles first
  let bh = w % per_tile;
  let b = bh / p.Hkv;
  let hk = bh % p.Hkv;
  let R = p.T * p.group;
  let row0 = tile * BQ;

  // Keys the tile sees: with causal, none past its last row's query.
  let last = min(row0 + BQ, R) - 1u;
  var live = p.S;
  if (p.causal != 0u) { live = min(p.S, p.query_pos0 + last / p.group + 1u); }
  let blocks = (live + BK - 1u) / BK;
  if (t == 0u) { atomicStore(&moved, 0u); } // (workgroup memory need not start zeroed)
  var next = load_kv(b, hk, 0u, live, t);

  // Stage the tile's q rows into the k tiles (zeros past R), then hold them as fragments.
  let pieces = HD / 8u;
  for (var i = t; i < BQ * pieces; i += THREADS) {
    let r = i / pieces;
    let d = (i % pieces) * 8u;
    let rho = row0 + r;
    var x = vec4<u32>();
    if (rho < R) {
      let tq = rho / p.group;
      let h = hk * p.group + rho % p.group;
      x = q[(p.q_offset + b * p.q_batch + tq * p.q_stride + h * HD + d) / 8u];
    }
    put8(r * SQ + d, 0u, x, (t / 8u) & 3u);
  }
  workgroupBarrier();
  var qf: Q8;
  let qb = sg * 16u * SQ;
  qf.q0 = ld_q(qb); qf.q1 = ld_q(qb + 16u); qf.q2 = ld_q(qb + 32u); qf.q3 = ld_q(qb + 48u);
  if (HD > 64u) { qf.q4 = ld_q(qb + 64u); qf.q5 = ld_q(qb + 80u); qf.q6 = ld_q(qb + 96u); qf.q7 = ld_q(qb + 112u); }
  workgroupBarrier();
  store_kv(next, t, 0u);
  if (blocks > 1u) { next = load_kv(b, hk, BK, live, t); }
  workgroupBarrier();

  // This lane's row (of the subgroup's 16) and its keys of a block: x(c) = 2·((c − r) mod 16) + h for c = 0 .. 15,
  // so that at each c the 32 lanes read 32 distinct banks of the scores.
  let r = lane / 2u;
  let h = lane % 2u;
  let rho = row0 + sg * 16u + r;
  let qpos = p.query_pos0 + min(rho, R - 1u) / p.group;
  let srow = sg * 16u * SS + r * SS;
  let prow = sg * 16u * SP + r * SP;
  let pad = srow + 32u + h; // this lane's slot in its score row's padding (the emulation's pair exchange)

  var m = LOW; // the row's reference max (both lanes alike)
  var l = 0.0; // this lane's part of the row sum, relative to m
  var o: O8;
  for (var blk = 0u; blk < blocks; blk++) {
    let j0 = blk * BK;
    let cur = (blk & 1u) * BK * SQ;
    scores(&qf, cur, sg, lane);
    workgroupBarrier(); // scores visible; every subgroup is past block blk − 1, so its tiles are free
    if (blk + 1u < blocks) { store_kv(next, t, 1u - (blk & 1u)); }
    if (blk + 2u < blocks) { next = load_kv(b, hk, j0 + 2u * BK, live, t); }

    var mb = LOW;
    for (var c = 0u; c < 16u; c++) {
      let x = 2u * ((c + 16u - r) & 15u) + h;
      let j = j0 + x;
      if (j < live && (p.causal == 0u || j <= qpos)) { mb = max(mb, sc[srow + x] * p.scale); }
    }
    mb = pair_max(mb, pad);
    var alpha = 1.0;
    if (m == LOW) {
      m = mb; // nothing accumulated yet: the row's O is zero
    } else if (mb > m + TAU) {
      alpha = exp2(m - mb);
      m = mb;
      l *= alpha;
      atomicStore(&moved, blk + 1u);
    }
    for (var c = 0u; c < 16u; c++) {
      let x = 2u * ((c + 16u - r) & 15u) + h;
      let j = j0 + x;
      var w16 = f16(0.0);
      if (j < live && (p.causal == 0u || j <= qpos)) { w16 = f16(exp2(sc[srow + x] * p.scale - m)); }
      ps[prow + x] = w16;
      l += f32(w16);
    }
    // Weights and the next tiles visible; whether any row's max moved (the scores are free after this).
    if (workgroupUniformLoad(&moved) == blk + 1u) {
      var s2 = rescale2(o.o0, o.o1, alpha, sg, lane); o.o0 = s2.a; o.o1 = s2.b;
      s2 = rescale2(o.o2, o.o3, alpha, sg, lane); o.o2 = s2.a; o.o3 = s2.b;
      if (HD > 64u) {
        s2 = rescale2(o.o4, o.o5, alpha, sg, lane); o.o4 = s2.a; o.o5 = s2.b;
        s2 = rescale2(o.o6, o.o7, alpha, sg, lane); o.o6 = s2.a; o.o7 = s2.b;
      }
    }
    accumulate(&o, (blk & 1u) * BK * SQ, sg);
  }

  // Out: row rho's (query, head), normalised by the row sum.
  let lt = pair_sum(l, pad);
  let inv = select(0.0, 1.0 / lt, lt > 0.0);
  let tq = min(rho, R - 1u) / p.group;
  let hq = hk * p.group + min(rho, R - 1u) % p.group;
  let ob = p.out_offset + b * p.out_batch + tq * p.out_stride + hq * HD;
  let row_live = rho < R;
  emit2(o.o0, o.o1, 0u, inv, sg, lane, ob, row_live);
  emit2(o.o2, o.o3, 1u, inv, sg, lane, ob, row_live);
  if (HD > 64u) {
    emit2(o.o4, o.o5, 2u, inv, sg, lane, ob, row_live);
    emit2(o.o6, o.o7, 3u, inv, sg, lane, ob, row_live);
  }
}
