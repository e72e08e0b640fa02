// Flash attention for prefill on tensor cores (subgroup matrices): same layout rules and results as flash.wgsl, for
// f16 q, k, v and out whose head_dim (HD: 64 or 128), strides and offsets are multiples of 8, without a padding mask
// or key splits (attention.ts routes only such calls here).
//
// Rows: a kv head's queries form R = T·group rows, row ρ = (query t = ρ / group, query head h = hk·group + ρ % group),
// as in flash.wgsl. A workgroup owns 64 rows of one (batch, kv head): four subgroups of 16 rows each. Its q rows are
// staged once into workgroup memory and loaded as HD/16 left fragments per subgroup, held in registers.
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
// Masked keys (causal, or past S) get p = 0, and their v rows are staged as zeros, so whatever the cache holds past
// the keys a tile sees never reaches the output. Rows past R are computed on zeros and never written.
// Assumes subgroups of 32 (NVIDIA), like matmul_sgmat.wgsl. Workgroup memory: 17408 (q) + 8704 (k) + 8704 (v) +
// 8192 (scores) + 5120 (p) = 48128 bytes at HD = 128.
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
const SQ: u32 = 136u; // staged row stride in halves: 128 + 8 (the fragment loads' rows land in distinct banks)
const SP: u32 = 40u; // p row stride: 32 + 8
const LOW: f32 = -3.0e38;

var<workgroup> qs: array<f16, BQ * SQ>;
var<workgroup> ks: array<f16, BK * SQ>;
var<workgroup> vs: array<f16, BK * SQ>;
var<workgroup> sc: array<f32, 4u * 16u * BK>; // each subgroup's 16 × 32 scores (later a 16 × 16 output block)
var<workgroup> ps: array<f16, 4u * 16u * SP>; // each subgroup's 16 × 32 weights

alias Left = subgroup_matrix_left<f16, 16, 16>;
alias Right = subgroup_matrix_right<f16, 16, 16>;
alias Acc = subgroup_matrix_result<f32, 16, 16>;

// Stores 8 halves (one 16-byte piece) at a workgroup array index.
fn put8(dst: u32, which: u32, x: vec4<u32>) {
  let a = bitcast<vec2<f16>>(x.x);
  let b = bitcast<vec2<f16>>(x.y);
  let c = bitcast<vec2<f16>>(x.z);
  let d = bitcast<vec2<f16>>(x.w);
  if (which == 0u) {
    qs[dst] = a.x; qs[dst + 1u] = a.y; qs[dst + 2u] = b.x; qs[dst + 3u] = b.y;
    qs[dst + 4u] = c.x; qs[dst + 5u] = c.y; qs[dst + 6u] = d.x; qs[dst + 7u] = d.y;
  } else if (which == 1u) {
    ks[dst] = a.x; ks[dst + 1u] = a.y; ks[dst + 2u] = b.x; ks[dst + 3u] = b.y;
    ks[dst + 4u] = c.x; ks[dst + 5u] = c.y; ks[dst + 6u] = d.x; ks[dst + 7u] = d.y;
  } else {
    vs[dst] = a.x; vs[dst + 1u] = a.y; vs[dst + 2u] = b.x; vs[dst + 3u] = b.y;
    vs[dst + 4u] = c.x; vs[dst + 5u] = c.y; vs[dst + 6u] = d.x; vs[dst + 7u] = d.y;
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

// Loads thread t's share of a key block into registers (v too with with_v): issued a block ahead, so that the loads'
// latency hides behind the current block's matrix work.
fn load_kv(b: u32, hk: u32, j0: u32, live: u32, t: u32, with_v: bool) -> KV {
  var r: KV;
  r.k0 = piece(b, hk, j0, live, t, 0u, 0u);
  r.k1 = piece(b, hk, j0, live, t, 1u, 0u);
  r.k2 = piece(b, hk, j0, live, t, 2u, 0u);
  r.k3 = piece(b, hk, j0, live, t, 3u, 0u);
  if (with_v) {
    r.v0 = piece(b, hk, j0, live, t, 0u, 1u);
    r.v1 = piece(b, hk, j0, live, t, 1u, 1u);
    r.v2 = piece(b, hk, j0, live, t, 2u, 1u);
    r.v3 = piece(b, hk, j0, live, t, 3u, 1u);
  }
  return r;
}

// Stores thread t's share (from load_kv) into the k and v tiles.
fn store_kv(r: KV, t: u32, with_v: bool) {
  let pieces = HD / 8u;
  for (var n = 0u; n < 4u; n++) {
    let i = t + n * THREADS;
    if (i >= BK * pieces) { break; }
    let at = (i / pieces) * SQ + (i % pieces) * 8u;
    var xk = r.k0;
    var xv = r.v0;
    if (n == 1u) { xk = r.k1; xv = r.v1; }
    if (n == 2u) { xk = r.k2; xv = r.v2; }
    if (n == 3u) { xk = r.k3; xv = r.v3; }
    put8(at, 1u, xk);
    if (with_v) { put8(at, 2u, xv); }
  }
}

// Fragment kk (dims 16·kk ..) of a subgroup's 16 q rows, and of key columns c·16 .. of the staged k block (as Kᵀ).
fn qfrag(sg: u32, kk: u32) -> Left {
  return subgroupMatrixLoad<Left, row_major>(&qs, sg * 16u * SQ + kk * 16u, SQ);
}
fn kfrag(c: u32, kk: u32) -> Right {
  return subgroupMatrixLoad<Right, col_major>(&ks, c * 16u * SQ + kk * 16u, SQ);
}

struct Q8 { q0: Left, q1: Left, q2: Left, q3: Left, q4: Left, q5: Left, q6: Left, q7: Left }

// S = Q·Kᵀ for the staged block into the subgroup's scores (16 × 32, row-major).
fn scores(qf: ptr<function, Q8>, sg: u32) {
  var s0: Acc;
  var s1: Acc;
  s0 = subgroupMatrixMultiplyAccumulate((*qf).q0, kfrag(0u, 0u), s0);
  s1 = subgroupMatrixMultiplyAccumulate((*qf).q0, kfrag(1u, 0u), s1);
  s0 = subgroupMatrixMultiplyAccumulate((*qf).q1, kfrag(0u, 1u), s0);
  s1 = subgroupMatrixMultiplyAccumulate((*qf).q1, kfrag(1u, 1u), s1);
  s0 = subgroupMatrixMultiplyAccumulate((*qf).q2, kfrag(0u, 2u), s0);
  s1 = subgroupMatrixMultiplyAccumulate((*qf).q2, kfrag(1u, 2u), s1);
  s0 = subgroupMatrixMultiplyAccumulate((*qf).q3, kfrag(0u, 3u), s0);
  s1 = subgroupMatrixMultiplyAccumulate((*qf).q3, kfrag(1u, 3u), s1);
  if (HD > 64u) {
    s0 = subgroupMatrixMultiplyAccumulate((*qf).q4, kfrag(0u, 4u), s0);
    s1 = subgroupMatrixMultiplyAccumulate((*qf).q4, kfrag(1u, 4u), s1);
    s0 = subgroupMatrixMultiplyAccumulate((*qf).q5, kfrag(0u, 5u), s0);
    s1 = subgroupMatrixMultiplyAccumulate((*qf).q5, kfrag(1u, 5u), s1);
    s0 = subgroupMatrixMultiplyAccumulate((*qf).q6, kfrag(0u, 6u), s0);
    s1 = subgroupMatrixMultiplyAccumulate((*qf).q6, kfrag(1u, 6u), s1);
    s0 = subgroupMatrixMultiplyAccumulate((*qf).q7, kfrag(0u, 7u), s0);
    s1 = subgroupMatrixMultiplyAccumulate((*qf).q7, kfrag(1u, 7u), s1);
  }
  subgroupMatrixStore<row_major>(&sc, sg * 16u * BK, s0, BK);
  subgroupMatrixStore<row_major>(&sc, sg * 16u * BK + 16u, s1, BK);
}

struct O8 { o0: Acc, o1: Acc, o2: Acc, o3: Acc, o4: Acc, o5: Acc, o6: Acc, o7: Acc }

fn vfrag(kk: u32, n: u32) -> Right {
  return subgroupMatrixLoad<Right, row_major>(&vs, kk * 16u * SQ + n * 16u, SQ);
}

// O += P·V for the staged block: P from the subgroup's weights (two 16×16 left fragments over the 32 keys).
fn accumulate(o: ptr<function, O8>, sg: u32) {
  let p0 = subgroupMatrixLoad<Left, row_major>(&ps, sg * 16u * SP, SP);
  let p1 = subgroupMatrixLoad<Left, row_major>(&ps, sg * 16u * SP + 16u, SP);
  (*o).o0 = subgroupMatrixMultiplyAccumulate(p1, vfrag(1u, 0u), subgroupMatrixMultiplyAccumulate(p0, vfrag(0u, 0u), (*o).o0));
  (*o).o1 = subgroupMatrixMultiplyAccumulate(p1, vfrag(1u, 1u), subgroupMatrixMultiplyAccumulate(p0, vfrag(0u, 1u), (*o).o1));
  (*o).o2 = subgroupMatrixMultiplyAccumulate(p1, vfrag(1u, 2u), subgroupMatrixMultiplyAccumulate(p0, vfrag(0u, 2u), (*o).o2));
  (*o).o3 = subgroupMatrixMultiplyAccumulate(p1, vfrag(1u, 3u), subgroupMatrixMultiplyAccumulate(p0, vfrag(0u, 3u), (*o).o3));
  if (HD > 64u) {
    (*o).o4 = subgroupMatrixMultiplyAccumulate(p1, vfrag(1u, 4u), subgroupMatrixMultiplyAccumulate(p0, vfrag(0u, 4u), (*o).o4));
    (*o).o5 = subgroupMatrixMultiplyAccumulate(p1, vfrag(1u, 5u), subgroupMatrixMultiplyAccumulate(p0, vfrag(0u, 5u), (*o).o5));
    (*o).o6 = subgroupMatrixMultiplyAccumulate(p1, vfrag(1u, 6u), subgroupMatrixMultiplyAccumulate(p0, vfrag(0u, 6u), (*o).o6));
    (*o).o7 = subgroupMatrixMultiplyAccumulate(p1, vfrag(1u, 7u), subgroupMatrixMultiplyAccumulate(p0, vfrag(0u, 7u), (*o).o7));
  }
}

// Writes output block n (dims 16·n ..) of a subgroup: through its scores area, then lane l writes row l / 2, dims
// 8·(l % 2) .. + 8 as one 16-byte piece. `ob` is the lane's row's out index (dim 0); rows past R have live = false.
fn emit(c: Acc, n: u32, sg: u32, lane: u32, ob: u32, live: bool) {
  subgroupMatrixStore<row_major>(&sc, sg * 16u * BK, c, 16u);
  workgroupBarrier();
  let r = lane / 2u;
  let c0 = (lane % 2u) * 8u;
  let at = sg * 16u * BK + r * 16u + c0;
  if (live) {
    out[(ob + n * 16u + c0) / 8u] = vec4<u32>(
      pack2x16float(vec2<f32>(sc[at], sc[at + 1u])), pack2x16float(vec2<f32>(sc[at + 2u], sc[at + 3u])),
      pack2x16float(vec2<f32>(sc[at + 4u], sc[at + 5u])), pack2x16float(vec2<f32>(sc[at + 6u], sc[at + 7u])));
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

  // Stage the tile's q rows (zeros past R).
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
    put8(r * SQ + d, 0u, x);
  }
  // Keys the tile sees: with causal, none past its last row's query.
  let last = min(row0 + BQ, R) - 1u;
  var live = p.S;
  if (p.causal != 0u) { live = min(p.S, p.query_pos0 + last / p.group + 1u); }
  let blocks = (live + BK - 1u) / BK;
  workgroupBarrier();

  var qf: Q8;
  qf.q0 = qfrag(sg, 0u); qf.q1 = qfrag(sg, 1u); qf.q2 = qfrag(sg, 2u); qf.q3 = qfrag(sg, 3u);
  if (HD > 64u) { qf.q4 = qfrag(sg, 4u); qf.q5 = qfrag(sg, 5u); qf.q6 = qfrag(sg, 6u); qf.q7 = qfrag(sg, 7u); }

  // This lane's row (of the subgroup's 16) and half of the block's keys.
  let r = lane / 2u;
  let half = (lane % 2u) * 16u;
  let rho = row0 + sg * 16u + r;
  let qpos = p.query_pos0 + min(rho, R - 1u) / p.group;
  let row_live = rho < R;

  // Pass 1: the row's max and sum.
  var m = LOW;
  var l = 0.0;
  var next = load_kv(b, hk, 0u, live, t, false);
  for (var blk = 0u; blk < blocks; blk++) {
    let j0 = blk * BK;
    workgroupBarrier(); // the previous block's tiles are no longer read
    store_kv(next, t, false);
    workgroupBarrier();
    if (blk + 1u < blocks) { next = load_kv(b, hk, j0 + BK, live, t, false); }
    scores(&qf, sg);
    workgroupBarrier();
    let base = sg * 16u * BK + r * BK + half;
    var mb = m;
    for (var c = 0u; c < 16u; c++) {
      let j = j0 + half + c;
      if (j < live && (p.causal == 0u || j <= qpos)) { mb = max(mb, sc[base + c] * p.scale); }
    }
    var sum = 0.0;
    for (var c = 0u; c < 16u; c++) {
      let j = j0 + half + c;
      if (j < live && (p.causal == 0u || j <= qpos)) { sum += exp2(sc[base + c] * p.scale - mb); }
    }
    l = l * exp2(m - mb) + sum;
    m = mb;
  }
  // Combine the row's two lanes.
  let mo = subgroupShuffleXor(m, 1u);
  let lo = subgroupShuffleXor(l, 1u);
  let mt = max(m, mo);
  let lt = l * exp2(m - mt) + lo * exp2(mo - mt);
  let inv = select(0.0, 1.0 / lt, lt > 0.0);

  // Pass 2: normalised weights, O += P·V.
  var o: O8;
  next = load_kv(b, hk, 0u, live, t, true);
  for (var blk = 0u; blk < blocks; blk++) {
    let j0 = blk * BK;
    workgroupBarrier();
    store_kv(next, t, true);
    workgroupBarrier();
    if (blk + 1u < blocks) { next = load_kv(b, hk, j0 + BK, live, t, true); }
    scores(&qf, sg);
    workgroupBarrier();
    let base = sg * 16u * BK + r * BK + half;
    let pb = sg * 16u * SP + r * SP + half;
    for (var c = 0u; c < 16u; c++) {
      let j = j0 + half + c;
      var w8 = 0.0;
      if (j < live && (p.causal == 0u || j <= qpos)) { w8 = exp2(sc[base + c] * p.scale - mt) * inv; }
      ps[pb + c] = f16(w8);
    }
    workgroupBarrier();
    accumulate(&o, sg);
  }

  // Out: row rho's (query, head) and its 16-dim blocks.
  let tq = min(rho, R - 1u) / p.group;
  let h = hk * p.group + min(rho, R - 1u) % p.group;
  let ob = p.out_offset + b * p.out_batch + tq * p.out_stride + h * HD;
  workgroupBarrier();
  emit(o.o0, 0u, sg, lane, ob, row_live);
  emit(o.o1, 1u, sg, lane, ob, row_live);
  emit(o.o2, 2u, sg, lane, ob, row_live);
  emit(o.o3, 3u, sg, lane, ob, row_live);
  if (HD > 64u) {
    emit(o.o4, 4u, sg, lane, ob, row_live);
    emit(o.o5, 5u, sg, lane, ob, row_live);
    emit(o.o6, 6u, sg, lane, ob, row_live);
    emit(o.o7, 7u, sg, lane, ob, row_live);
  }
}
