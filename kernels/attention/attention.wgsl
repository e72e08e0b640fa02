// Scaled dot-product attention for decode and short prompts (attention.ts sends prefill shapes to the query-tiled
// flash.wgsl), flash-style: a workgroup streams its keys in blocks of WG with an online softmax in f32 (running max m,
// sum l, output accumulator), so scores are never stored. Grouped-query heads: query head h reads kv head h / group.
//
// Element (b, t, h, d) of q is q[q_offset + b*q_batch + t*q_stride + h*head_dim + d]; k and v likewise with their own
// strides (row = key s, head = kv head); out like q. So q, k, v may be views into one fused qkv buffer, and k, v a
// KV cache [S, Hkv*head_dim]. Causal: query t sees keys 0..query_pos0 + t. MASK: key s of batch b is kept when
// mask[b*S + s] ≠ 0. A query that sees no key gets zeros.
//
// Workgroup w handles (b, t, h) = w / splits and the keys [split*chunk, (split+1)*chunk) of split = w % splits. With
// one split it writes the output; SPLIT (decode, where B*T*H alone cannot fill the GPU) writes the partial state
// (m, l, acc[head_dim]) to `part` instead and attention_combine.wgsl merges the splits.
//
// Per block of WG keys: groups of LANES threads read key rows coalesced and leave partial dots (with q from workgroup
// memory) in workgroup memory; thread i sums key i's partials into its score; a tree reduction gives the block max and
// each thread turns its score into a weight; then the threads, as WG/hd_pad groups of hd_pad lanes (lane = d), each
// fold every (WG/hd_pad)-th key's weighted v row into their accumulators. Groups merge at the end.
alias E = f32; // @dtype

struct Params {
  B: u32,
  T: u32,
  S: u32,
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
  scale: f32,
  splits: u32,
  chunk: u32, // keys per split (a multiple of 64; may be less than WG)
  hd_pad: u32, // head_dim rounded up to a power of two (≤ WG)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<E>;
@group(0) @binding(2) var<storage, read> k: array<E>;
@group(0) @binding(3) var<storage, read> v: array<E>;
// #if SPLIT
@group(0) @binding(4) var<storage, read_write> part: array<f32>;
// #else
@group(0) @binding(4) var<storage, read_write> out: array<E>;
// #endif
// #if MASK
@group(0) @binding(5) var<storage, read> mask: array<i32>;
// #endif

// Threads = keys per block; a power of two ≥ head_dim.
override WG: u32 = 128;

var<workgroup> q_s: array<f32, WG>; // q · scale
var<workgroup> red: array<f32, WG>;
var<workgroup> p_s: array<f32, WG>; // the block's weights exp(score - m)
// Score phase: threads per key, and the partial dots [key][lane] (padded against bank conflicts).
const LANES: u32 = 8u;
var<workgroup> part_s: array<f32, WG * (LANES + 1u)>;

// Below any real score; finite, so exp(LOW - LOW) = 1 rather than NaN before the first kept key.
const LOW: f32 = -3.0e38;

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let w = wid.x + wid.y * nwg.x;
  let bth = w / p.splits;
  let split = w % p.splits;
  if (bth >= p.B * p.T * p.H) { return; }
  let h = bth % p.H;
  let t = (bth / p.H) % p.T;
  let b = bth / (p.H * p.T);
  let hk = h / p.group;
  let hd = p.head_dim;
  let qb = p.q_offset + b * p.q_batch + t * p.q_stride + h * hd;
  let kb = p.k_offset + b * p.k_batch + hk * hd;
  let vb = p.v_offset + b * p.v_batch + hk * hd;

  if (lid < hd) { q_s[lid] = f32(q[qb + lid]) * p.scale; }
  workgroupBarrier();

  var n_keys = p.S;
  if (p.causal != 0u) { n_keys = min(p.S, p.query_pos0 + t + 1u); }
  let begin = split * p.chunk;
  let end = min(n_keys, begin + p.chunk);

  let lane = lid % LANES; // score phase: lane within its key's group
  let kg = lid / LANES;
  let kpp = WG / LANES; // keys per pass
  let d = lid % p.hd_pad; // lane of the v phase
  let g = lid / p.hd_pad; // its group
  let ng = WG / p.hd_pad;
  var m = LOW; // running max (the same in every thread)
  var l = 0.0; // running sum of this group's weights
  var acc = 0.0; // running Σ weight · v[., d] over this group's keys
  for (var j0 = begin; j0 < end; j0 += WG) {
    let j = j0 + lid;
    // Partial dots, coalesced: LANES consecutive threads split one key's row over d; a thread covers LANES keys of
    // the block (kg, kg + WG/LANES, …), all their loads in flight together. Rows past `end` are clamped to a row in
    // range and their results dropped.
    let last = end - 1u;
    var rows: array<u32, LANES>;
    var dots: array<f32, LANES>;
    for (var r = 0u; r < LANES; r++) {
      rows[r] = kb + min(j0 + kg + r * kpp, last) * p.k_stride;
      dots[r] = 0.0;
    }
    for (var i = lane; i < hd; i += LANES) {
      let qi = q_s[i];
      for (var r = 0u; r < LANES; r++) { dots[r] += qi * f32(k[rows[r] + i]); }
    }
    for (var r = 0u; r < LANES; r++) { part_s[(kg + r * kpp) * (LANES + 1u) + lane] = dots[r]; }
    workgroupBarrier();
    // Thread lid owns key j of the block from here on.
    var keep = j < end;
    // #if MASK
    if (keep) { keep = mask[b * p.S + j] != 0; }
    // #endif
    var score = LOW;
    if (keep) {
      var dot = 0.0;
      for (var r = 0u; r < LANES; r++) { dot += part_s[lid * (LANES + 1u) + r]; }
      score = dot;
    }
    red[lid] = score;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
      if (lid < s) { red[lid] = max(red[lid], red[lid + s]); }
      workgroupBarrier();
    }
    let m_new = max(m, red[0]);
    let alpha = exp(m - m_new);
    m = m_new;
    p_s[lid] = select(0.0, exp(score - m_new), keep);
    workgroupBarrier();
    if (d < hd) {
      let count = min(WG, end - j0);
      let row = vb + j0 * p.v_stride + d;
      let step = ng * p.v_stride;
      var a = 0.0;
      var ls = 0.0;
      var jj = g;
      // Weights of masked keys are 0: select keeps garbage (NaN) in their v rows out of the sum.
      for (; jj + 3u * ng < count; jj += 4u * ng) {
        let r = row + jj * p.v_stride;
        let v0 = f32(v[r]);
        let v1 = f32(v[r + step]);
        let v2 = f32(v[r + 2u * step]);
        let v3 = f32(v[r + 3u * step]);
        let p0 = p_s[jj];
        let p1 = p_s[jj + ng];
        let p2 = p_s[jj + 2u * ng];
        let p3 = p_s[jj + 3u * ng];
        a += select(0.0, p0 * v0, p0 != 0.0) + select(0.0, p1 * v1, p1 != 0.0)
          + select(0.0, p2 * v2, p2 != 0.0) + select(0.0, p3 * v3, p3 != 0.0);
        ls += (p0 + p1) + (p2 + p3);
      }
      for (; jj < count; jj += ng) {
        let pj = p_s[jj];
        a += select(0.0, pj * f32(v[row + jj * p.v_stride]), pj != 0.0);
        ls += pj;
      }
      acc = acc * alpha + a;
      l = l * alpha + ls;
    }
    workgroupBarrier(); // red[0] and p_s are read before the next block rewrites them
  }

  // Merge the groups: lane d of group 0 sums everyone's (acc, l) for d.
  red[lid] = acc;
  p_s[lid] = l;
  workgroupBarrier();
  if (g == 0u && d < hd) {
    var a = 0.0;
    var ls = 0.0;
    for (var gg = 0u; gg < ng; gg++) {
      a += red[gg * p.hd_pad + d];
      ls += p_s[gg * p.hd_pad + d];
    }
    // #if SPLIT
    let pb = w * (hd + 2u);
    if (d == 0u) {
      part[pb] = m;
      part[pb + 1u] = ls;
    }
    part[pb + 2u + d] = a;
    // #else
    out[p.out_offset + b * p.out_batch + t * p.out_stride + h * hd + d] = E(select(0.0, a / ls, ls > 0.0));
    // #endif
  }
}
