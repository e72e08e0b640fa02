// Scaled dot-product attention for prefill and decode, flash-style: one workgroup per (batch, query, head) streams
// the keys in blocks of WG with an online softmax in f32 (running max m, sum l, output accumulator), so scores are
// never stored. Grouped-query heads: query head h reads kv head h / group.
//
// Element (b, t, h, d) of q is q[q_offset + b*q_batch + t*q_stride + h*head_dim + d]; k and v likewise with their own
// strides (row = key s, head = kv head); out like q. So q, k, v may be views into one fused qkv buffer, and k, v a
// KV cache [S, Hkv*head_dim]. Causal: query t sees keys 0..query_pos0 + t. MASK: key s of batch b is kept when
// mask[b*S + s] ≠ 0. A query that sees no key gets zeros.
//
// Per block: each thread scores one key (a dot product over head_dim with q from workgroup memory), the block max
// comes from a tree reduction, the thread computes its key's weight, and then thread d < head_dim folds the block's
// weighted v[., d] into its accumulator.
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
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<E>;
@group(0) @binding(2) var<storage, read> k: array<E>;
@group(0) @binding(3) var<storage, read> v: array<E>;
@group(0) @binding(4) var<storage, read_write> out: array<E>;
// #if MASK
@group(0) @binding(5) var<storage, read> mask: array<i32>;
// #endif

// Threads = keys per block; a power of two ≥ head_dim.
override WG: u32 = 128;

var<workgroup> q_s: array<f32, WG>; // q · scale
var<workgroup> red: array<f32, WG>;
var<workgroup> p_s: array<f32, WG>; // the block's weights exp(score - m)

// Below any real score; finite, so exp(LOW - LOW) = 1 rather than NaN before the first kept key.
const LOW: f32 = -3.0e38;

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let w = wid.x + wid.y * nwg.x;
  if (w >= p.B * p.T * p.H) { return; }
  let h = w % p.H;
  let t = (w / p.H) % p.T;
  let b = w / (p.H * p.T);
  let hk = h / p.group;
  let qb = p.q_offset + b * p.q_batch + t * p.q_stride + h * p.head_dim;
  let kb = p.k_offset + b * p.k_batch + hk * p.head_dim;
  let vb = p.v_offset + b * p.v_batch + hk * p.head_dim;
  let ob = p.out_offset + b * p.out_batch + t * p.out_stride + h * p.head_dim;

  if (lid < p.head_dim) { q_s[lid] = f32(q[qb + lid]) * p.scale; }
  workgroupBarrier();

  var n_keys = p.S;
  if (p.causal != 0u) { n_keys = min(p.S, p.query_pos0 + t + 1u); }

  var m = LOW; // running max (the same in every thread)
  var l = 0.0; // running sum of weights (threads d < head_dim)
  var acc = 0.0; // running Σ weight · v[., d] (thread d)
  for (var j0 = 0u; j0 < n_keys; j0 += WG) {
    let j = j0 + lid;
    var keep = j < n_keys;
    // #if MASK
    if (keep) { keep = mask[b * p.S + j] != 0; }
    // #endif
    var score = LOW;
    if (keep) {
      let kr = kb + j * p.k_stride;
      var dot = 0.0;
      for (var d = 0u; d < p.head_dim; d++) { dot += q_s[d] * f32(k[kr + d]); }
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
    if (lid < p.head_dim) {
      let count = min(WG, n_keys - j0);
      var a = 0.0;
      var ls = 0.0;
      for (var jj = 0u; jj < count; jj++) {
        let pj = p_s[jj];
        if (pj != 0.0) {
          a += pj * f32(v[vb + (j0 + jj) * p.v_stride + lid]);
          ls += pj;
        }
      }
      acc = acc * alpha + a;
      l = l * alpha + ls;
    }
    workgroupBarrier(); // red[0] and p_s are read before the next block rewrites them
  }
  if (lid < p.head_dim) { out[ob + lid] = E(select(0.0, acc / l, l > 0.0)); }
}
