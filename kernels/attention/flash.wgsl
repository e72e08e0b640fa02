// Query-tiled flash attention for prefill-shaped calls (attention.ts routes here when T is large enough and
// head_dim ≤ 128); same layout rules and results as attention.wgsl.
//
// Rows. A kv head's queries form R = T·group rows, row ρ = (query t = ρ / group, query head h = hk·group + ρ % group),
// so grouped-query heads that read the same kv head share one tile and its K/V traffic. A workgroup owns BQ rows of one
// (batch, kv head) and walks key blocks of BK = 32 keys (only [split·chunk, (split+1)·chunk) of them in the SPLIT
// variant, which leaves (m, l, acc) partials for attention_combine.wgsl like attention.wgsl's SPLIT). With causal, key
// blocks past the tile's last query are never visited. Workgroups run the heaviest (last) tiles first.
//
// Per key block, both products are register-tiled outer products over f32 tiles in workgroup memory, staged in
// chunks of DC = 32 head dims (NC chunks; head_dim ≤ NC·32, the rest zero):
//   S = Q·Kᵀ: thread (tq, tk), tq = lid / 8, tk = lid % 8, owns the 4×4 scores of rows tq + TQ·r (r < 4, TQ = BQ/4) and
//     keys tk + 8c (c < 4); per 4 head dims it loads 4 q and 4 k vec4s and does 64 FMAs. Q is re-staged per block
//     (q·scale·log2 e, so the softmax uses exp2).
//   Softmax: the block's row max goes through workgroup memory (8 partials per row); every thread keeps the running
//     max m and its own part of the row sum l for its 4 rows in registers (l is summed over the 8 threads at the end).
//     Weights p go to workgroup memory transposed: ps[key][tq] = the p of tq's 4 rows.
//   O += P·V: the same thread owns the same 4 rows × head dims c·32 + tk·4 .. +4 of every chunk c: per key a vec4 of p
//     and a vec4 of v, 16 FMAs. NC·4 vec4 accumulators per thread (64 floats at head_dim 128).
// Every workgroup-memory read is conflict-free or a broadcast (rows padded to 9 vec4s). Accumulators are named
// values, not arrays indexed in loops (a driver need not unroll loops to keep arrays in registers).
// Masked keys: scores are replaced (not multiplied) by LOW and their v rows staged as zeros, so whatever the cache
// holds there (NaN) never reaches the output. Rows past R and keys past the range are staged as zeros, never written.
//
// Staging (q, k, v from global memory into the f32 tiles) is in flash_stage.wgsl, appended by the spec.
// Workgroup memory (f32): BQ=64: 9216 (q) + 4608 (k) + 4096 (v) + 8704 (p) + 2048 (row partials) = 28672 bytes;
// BQ=32: 18944 bytes. Variants: MASK, SPLIT, ALIGNED (head_dim, strides and offsets multiples of 4: q/k/v/out as
// vec4s); overrides BQ (32 or 64; WG = 2·BQ threads) and NC (1..4).
alias E = f32; // @dtype

struct Params {
  B: u32,
  T: u32,
  S: u32,
  Hkv: u32,
  H: u32,
  group: u32, // H / Hkv
  head_dim: u32,
  q_stride: u32,
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
  splits: u32,
  chunk: u32, // keys per split, a multiple of BK
  tiles: u32, // row tiles per (batch, kv head): ceil(T·group / BQ)
}

@group(0) @binding(0) var<uniform> p: Params;
// #if ALIGNED
@group(0) @binding(1) var<storage, read> q: array<vec4<E>>;
@group(0) @binding(2) var<storage, read> k: array<vec4<E>>;
@group(0) @binding(3) var<storage, read> v: array<vec4<E>>;
// #else
@group(0) @binding(1) var<storage, read> q: array<E>;
@group(0) @binding(2) var<storage, read> k: array<E>;
@group(0) @binding(3) var<storage, read> v: array<E>;
// #endif
// #if SPLIT
@group(0) @binding(4) var<storage, read_write> part: array<f32>;
// #else
// #if ALIGNED
@group(0) @binding(4) var<storage, read_write> out: array<vec4<E>>;
// #else
@group(0) @binding(4) var<storage, read_write> out: array<E>;
// #endif
// #endif
// #if MASK
@group(0) @binding(5) var<storage, read> mask: array<i32>;
// #endif

const BK: u32 = 32u; // keys per block
const DC: u32 = 32u; // head dims per chunk
const ROW: u32 = 9u; // vec4s per staged q/k row: DC/4 + 1 of padding
const LOW: f32 = -3.0e38; // below any score; finite, so exp2(LOW - LOW) = 1 rather than NaN
const LN2: f32 = 0.6931471805599453;

override BQ: u32 = 64u; // rows per workgroup: 32 or 64
override NC: u32 = 4u; // head-dim chunks: ceil(head_dim / 32), 1..4
override TQ: u32 = BQ / 4u; // row groups
override WG: u32 = 2u * BQ; // TQ × 8 threads
override KN: u32 = 32u / TQ; // k (and v) rows a thread stages per chunk

var<workgroup> qs: array<vec4<f32>, BQ * ROW>; // [row][d4] of the chunk, · scale · log2 e
var<workgroup> ks: array<vec4<f32>, BK * ROW>; // [key][d4] of the chunk
var<workgroup> vs: array<vec4<f32>, BK * 8u>; // [key][d4] of the chunk
var<workgroup> ps: array<vec4<f32>, BK * (TQ + 1u)>; // [key][tq]: the weights of tq's 4 rows
var<workgroup> red: array<f32, BQ * 8u>; // [row][tk]: partial row maxima, at the end partial row sums

// Scores of the staged chunk: s_r[c] += q(row tq + TQ·r) · k(key tk + 8c).
fn qk(tq: u32, tk: u32, s0: ptr<function, vec4<f32>>, s1: ptr<function, vec4<f32>>, s2: ptr<function, vec4<f32>>, s3: ptr<function, vec4<f32>>) {
  for (var d4 = 0u; d4 < 8u; d4++) {
    let k0 = ks[tk * ROW + d4];
    let k1 = ks[(tk + 8u) * ROW + d4];
    let k2 = ks[(tk + 16u) * ROW + d4];
    let k3 = ks[(tk + 24u) * ROW + d4];
    let kx = vec4<f32>(k0.x, k1.x, k2.x, k3.x);
    let ky = vec4<f32>(k0.y, k1.y, k2.y, k3.y);
    let kz = vec4<f32>(k0.z, k1.z, k2.z, k3.z);
    let kw = vec4<f32>(k0.w, k1.w, k2.w, k3.w);
    let q0 = qs[tq * ROW + d4];
    *s0 = fma(vec4<f32>(q0.w), kw, fma(vec4<f32>(q0.z), kz, fma(vec4<f32>(q0.y), ky, fma(vec4<f32>(q0.x), kx, *s0))));
    let q1 = qs[(tq + TQ) * ROW + d4];
    *s1 = fma(vec4<f32>(q1.w), kw, fma(vec4<f32>(q1.z), kz, fma(vec4<f32>(q1.y), ky, fma(vec4<f32>(q1.x), kx, *s1))));
    let q2 = qs[(tq + 2u * TQ) * ROW + d4];
    *s2 = fma(vec4<f32>(q2.w), kw, fma(vec4<f32>(q2.z), kz, fma(vec4<f32>(q2.y), ky, fma(vec4<f32>(q2.x), kx, *s2))));
    let q3 = qs[(tq + 3u * TQ) * ROW + d4];
    *s3 = fma(vec4<f32>(q3.w), kw, fma(vec4<f32>(q3.z), kz, fma(vec4<f32>(q3.y), ky, fma(vec4<f32>(q3.x), kx, *s3))));
  }
}

// a_r += Σ_key p(row tq + TQ·r, key) · v(key, dims tk·4 .. +4 of the staged chunk).
fn pv(tq: u32, tk: u32, a0: ptr<function, vec4<f32>>, a1: ptr<function, vec4<f32>>, a2: ptr<function, vec4<f32>>, a3: ptr<function, vec4<f32>>) {
  for (var j = 0u; j < BK; j++) {
    let w = ps[j * (TQ + 1u) + tq];
    let x = vs[j * 8u + tk];
    *a0 = fma(vec4<f32>(w.x), x, *a0);
    *a1 = fma(vec4<f32>(w.y), x, *a1);
    *a2 = fma(vec4<f32>(w.z), x, *a2);
    *a3 = fma(vec4<f32>(w.w), x, *a3);
  }
}

fn row_max(i: u32) -> f32 {
  let r = i * 8u;
  return max(max(max(red[r], red[r + 1u]), max(red[r + 2u], red[r + 3u])), max(max(red[r + 4u], red[r + 5u]), max(red[r + 6u], red[r + 7u])));
}

fn row_sum(i: u32) -> f32 {
  let r = i * 8u;
  return ((red[r] + red[r + 1u]) + (red[r + 2u] + red[r + 3u])) + ((red[r + 4u] + red[r + 5u]) + (red[r + 6u] + red[r + 7u]));
}

fn hmax(x: vec4<f32>) -> f32 { return max(max(x.x, x.y), max(x.z, x.w)); }
fn hsum(x: vec4<f32>) -> f32 { return (x.x + x.y) + (x.z + x.w); }

// Writes one row's dims d .. d+n (n of them real): the normalised output, or (SPLIT) the unnormalised accumulator.
fn emit(base: u32, d: u32, n: u32, a: vec4<f32>, inv: f32) {
  // #if SPLIT
  part[base + d] = a.x;
  if (n > 1u) { part[base + d + 1u] = a.y; }
  if (n > 2u) { part[base + d + 2u] = a.z; }
  if (n > 3u) { part[base + d + 3u] = a.w; }
  // #else
  let y = a * inv;
  // #if ALIGNED
  out[(base + d) / 4u] = vec4<E>(y);
  // #else
  out[base + d] = E(y.x);
  if (n > 1u) { out[base + d + 1u] = E(y.y); }
  if (n > 2u) { out[base + d + 2u] = E(y.z); }
  if (n > 3u) { out[base + d + 3u] = E(y.w); }
  // #endif
  // #endif
}

// The thread's 4 rows, dims c·32 + tk·4 .. +4.
fn emit_chunk(c: u32, tk: u32, ob: vec4<u32>, live: vec4<bool>, inv: vec4<f32>, a0: vec4<f32>, a1: vec4<f32>, a2: vec4<f32>, a3: vec4<f32>) {
  let d = c * DC + tk * 4u;
  let n = real_dims(d);
  if (n == 0u) { return; }
  if (live.x) { emit(ob.x, d, n, a0, inv.x); }
  if (live.y) { emit(ob.y, d, n, a1, inv.y); }
  if (live.z) { emit(ob.z, d, n, a2, inv.z); }
  if (live.w) { emit(ob.w, d, n, a3, inv.w); }
}

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let w = wid.x + wid.y * nwg.x;
  let per_tile = p.B * p.Hkv * p.splits;
  if (w >= p.tiles * per_tile) { return; }
  let tile = p.tiles - 1u - w / per_tile; // heaviest (last) tiles first
  let split = w % p.splits;
  let hk = (w / p.splits) % p.Hkv;
  let b = (w / p.splits) / p.Hkv % p.B;
  let hd = p.head_dim;
  let R = p.T * p.group;
  let row0 = tile * BQ;
  let tq = lid / 8u;
  let tk = lid % 8u;

  // Keys the tile sees: with causal, none past its last row's query.
  var n_keys = p.S;
  if (p.causal != 0u) { n_keys = min(p.S, p.query_pos0 + (min(row0 + BQ, R) - 1u) / p.group + 1u); }
  let begin = split * p.chunk;
  let end = min(n_keys, begin + p.chunk);

  // The thread's rows tq + TQ·r: alive (< R), query, head, q and out element bases, last key seen with causal.
  let rows = vec4<u32>(row0 + tq) + vec4<u32>(0u, TQ, 2u * TQ, 3u * TQ);
  let live = rows < vec4<u32>(R);
  let tv = rows / p.group;
  let hv = hk * p.group + rows % p.group;
  let qb = p.q_offset + b * p.q_batch + tv * p.q_stride + hv * hd;
  let last = p.query_pos0 + tv;
  let kb = p.k_offset + b * p.k_batch + hk * hd;
  let vb = p.v_offset + b * p.v_batch + hk * hd;
  let all_keys = vec4<bool>(p.causal == 0u);

  var m = vec4<f32>(LOW); // running row maxima (log2 domain)
  var l = vec4<f32>(0.0); // this thread's part of the row sums
  var a00 = vec4<f32>(0.0); var a01 = vec4<f32>(0.0); var a02 = vec4<f32>(0.0); var a03 = vec4<f32>(0.0);
  var a10 = vec4<f32>(0.0); var a11 = vec4<f32>(0.0); var a12 = vec4<f32>(0.0); var a13 = vec4<f32>(0.0);
  var a20 = vec4<f32>(0.0); var a21 = vec4<f32>(0.0); var a22 = vec4<f32>(0.0); var a23 = vec4<f32>(0.0);
  var a30 = vec4<f32>(0.0); var a31 = vec4<f32>(0.0); var a32 = vec4<f32>(0.0); var a33 = vec4<f32>(0.0);

  for (var j0 = begin; j0 < end; j0 += BK) {
    // S = Q·Kᵀ over the head-dim chunks.
    var s0 = vec4<f32>(0.0); var s1 = vec4<f32>(0.0); var s2 = vec4<f32>(0.0); var s3 = vec4<f32>(0.0);
    stage_q(0u, tq, tk, qb, live);
    stage_k(0u, tq, tk, kb, j0, end);
    workgroupBarrier();
    qk(tq, tk, &s0, &s1, &s2, &s3);
    if (NC > 1u) {
      workgroupBarrier();
      stage_q(1u, tq, tk, qb, live);
      stage_k(1u, tq, tk, kb, j0, end);
      workgroupBarrier();
      qk(tq, tk, &s0, &s1, &s2, &s3);
    }
    if (NC > 2u) {
      workgroupBarrier();
      stage_q(2u, tq, tk, qb, live);
      stage_k(2u, tq, tk, kb, j0, end);
      workgroupBarrier();
      qk(tq, tk, &s0, &s1, &s2, &s3);
    }
    if (NC > 3u) {
      workgroupBarrier();
      stage_q(3u, tq, tk, qb, live);
      stage_k(3u, tq, tk, kb, j0, end);
      workgroupBarrier();
      qk(tq, tk, &s0, &s1, &s2, &s3);
    }

    // Which of the thread's keys each row keeps.
    let keys = vec4<u32>(j0 + tk) + vec4<u32>(0u, 8u, 16u, 24u);
    var kept = keys < vec4<u32>(end);
    // #if MASK
    if (kept.x) { kept.x = mask[b * p.S + keys.x] != 0; }
    if (kept.y) { kept.y = mask[b * p.S + keys.y] != 0; }
    if (kept.z) { kept.z = mask[b * p.S + keys.z] != 0; }
    if (kept.w) { kept.w = mask[b * p.S + keys.w] != 0; }
    // #endif
    let k0 = kept & (all_keys | (keys <= vec4<u32>(last.x)));
    let k1 = kept & (all_keys | (keys <= vec4<u32>(last.y)));
    let k2 = kept & (all_keys | (keys <= vec4<u32>(last.z)));
    let k3 = kept & (all_keys | (keys <= vec4<u32>(last.w)));
    let x0 = select(vec4<f32>(LOW), s0, k0);
    let x1 = select(vec4<f32>(LOW), s1, k1);
    let x2 = select(vec4<f32>(LOW), s2, k2);
    let x3 = select(vec4<f32>(LOW), s3, k3);
    red[(tq) * 8u + tk] = hmax(x0);
    red[(tq + TQ) * 8u + tk] = hmax(x1);
    red[(tq + 2u * TQ) * 8u + tk] = hmax(x2);
    red[(tq + 3u * TQ) * 8u + tk] = hmax(x3);
    stage_v(0u, tq, tk, vb, j0, end, b);
    workgroupBarrier();

    // Online softmax: new maxima, the accumulators' rescale, this block's weights.
    let mn = max(m, vec4<f32>(row_max(tq), row_max(tq + TQ), row_max(tq + 2u * TQ), row_max(tq + 3u * TQ)));
    let alpha = exp2(m - mn);
    m = mn;
    let p0 = select(vec4<f32>(0.0), exp2(x0 - vec4<f32>(mn.x)), k0);
    let p1 = select(vec4<f32>(0.0), exp2(x1 - vec4<f32>(mn.y)), k1);
    let p2 = select(vec4<f32>(0.0), exp2(x2 - vec4<f32>(mn.z)), k2);
    let p3 = select(vec4<f32>(0.0), exp2(x3 - vec4<f32>(mn.w)), k3);
    l = l * alpha + vec4<f32>(hsum(p0), hsum(p1), hsum(p2), hsum(p3));
    a00 *= alpha.x; a01 *= alpha.y; a02 *= alpha.z; a03 *= alpha.w;
    if (NC > 1u) { a10 *= alpha.x; a11 *= alpha.y; a12 *= alpha.z; a13 *= alpha.w; }
    if (NC > 2u) { a20 *= alpha.x; a21 *= alpha.y; a22 *= alpha.z; a23 *= alpha.w; }
    if (NC > 3u) { a30 *= alpha.x; a31 *= alpha.y; a32 *= alpha.z; a33 *= alpha.w; }
    ps[tk * (TQ + 1u) + tq] = vec4<f32>(p0.x, p1.x, p2.x, p3.x);
    ps[(tk + 8u) * (TQ + 1u) + tq] = vec4<f32>(p0.y, p1.y, p2.y, p3.y);
    ps[(tk + 16u) * (TQ + 1u) + tq] = vec4<f32>(p0.z, p1.z, p2.z, p3.z);
    ps[(tk + 24u) * (TQ + 1u) + tq] = vec4<f32>(p0.w, p1.w, p2.w, p3.w);
    workgroupBarrier();

    // O += P·V over the head-dim chunks.
    pv(tq, tk, &a00, &a01, &a02, &a03);
    if (NC > 1u) {
      workgroupBarrier();
      stage_v(1u, tq, tk, vb, j0, end, b);
      workgroupBarrier();
      pv(tq, tk, &a10, &a11, &a12, &a13);
    }
    if (NC > 2u) {
      workgroupBarrier();
      stage_v(2u, tq, tk, vb, j0, end, b);
      workgroupBarrier();
      pv(tq, tk, &a20, &a21, &a22, &a23);
    }
    if (NC > 3u) {
      workgroupBarrier();
      stage_v(3u, tq, tk, vb, j0, end, b);
      workgroupBarrier();
      pv(tq, tk, &a30, &a31, &a32, &a33);
    }
  }

  // Row sums over the 8 threads of each row.
  red[(tq) * 8u + tk] = l.x;
  red[(tq + TQ) * 8u + tk] = l.y;
  red[(tq + 2u * TQ) * 8u + tk] = l.z;
  red[(tq + 3u * TQ) * 8u + tk] = l.w;
  workgroupBarrier();
  let ls = vec4<f32>(row_sum(tq), row_sum(tq + TQ), row_sum(tq + 2u * TQ), row_sum(tq + 3u * TQ));

  // #if SPLIT
  // Partial (m, l, acc[head_dim]) of (b, t, h, split), m in natural-log units like attention.wgsl's.
  let ob = (((b * p.T + tv) * p.H + hv) * p.splits + split) * (hd + 2u);
  if (tk == 0u) {
    if (live.x) { part[ob.x] = m.x * LN2; part[ob.x + 1u] = ls.x; }
    if (live.y) { part[ob.y] = m.y * LN2; part[ob.y + 1u] = ls.y; }
    if (live.z) { part[ob.z] = m.z * LN2; part[ob.z + 1u] = ls.z; }
    if (live.w) { part[ob.w] = m.w * LN2; part[ob.w + 1u] = ls.w; }
  }
  let base = ob + vec4<u32>(2u);
  let inv = vec4<f32>(1.0);
  // #else
  let base = p.out_offset + b * p.out_batch + tv * p.out_stride + hv * hd;
  let inv = select(vec4<f32>(0.0), vec4<f32>(1.0) / ls, ls > vec4<f32>(0.0));
  // #endif
  emit_chunk(0u, tk, base, live, inv, a00, a01, a02, a03);
  if (NC > 1u) { emit_chunk(1u, tk, base, live, inv, a10, a11, a12, a13); }
  if (NC > 2u) { emit_chunk(2u, tk, base, live, inv, a20, a21, a22, a23); }
  if (NC > 3u) { emit_chunk(3u, tk, base, live, inv, a30, a31, a32, a33); }
}
