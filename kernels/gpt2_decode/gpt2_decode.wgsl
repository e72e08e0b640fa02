// Greedy decode of a small GPT-2 in ONE workgroup and ONE dispatch: for t in [0, n), the token ids[ids_in + t] at
// position pos0 + t goes through every layer (its K and V written into the cache), then ln_f, the tied LM head and
// argmax, and the winner is written to ids[ids_in + t + 1], where step t + 1 reads it. A decode step of a model this
// small is a few hundred KB of weights and a few thousand multiply-adds: as ~27 separate dispatches it costs ~27
// launches and barriers of the whole GPU; here it costs a few hundred workgroup barriers.
//
// Same arithmetic as the per-op path (layernorm, linear, attention, gelu, argmax kernels): f32 math, every
// intermediate rounded to E where that path stores a tensor, LM-head logits rounded to E before the argmax (first
// index on ties). Weights live in one binding `w` at the element offsets of `offs`:
//   offs[0..4) = wte [V, D], wpe [P, D], ln_f weight, ln_f bias;
//   offs[4 + 12 l ..] = ln_1 w, ln_1 b, c_attn W [D, 3D], c_attn b, attn c_proj W [D, D], b, ln_2 w, b,
//                       c_fc W [D, F], b, mlp c_proj W [F, D], b   (Conv1D layout: [in, out]).
// The cache holds layer l's keys at kv_base + l·kv_stride and its values at kv_base + (L + l)·kv_stride, each
// [capacity, D] row-major.
// Limits (checked by the caller): D ≤ DMAX, F ≤ FMAX, pos0 + n ≤ SMAX, head_dim ≤ WG.
// Variants: dtype, SUBGROUPS (reductions with subgroupAdd / subgroupMax), GELU_TANH or GELU_ERF (`act` of the linear
// kernels' epilogue.wgsl, appended by the spec).
// #if SUBGROUPS
enable subgroups;
// #endif
alias E = f32; // @dtype

struct Params {
  L: u32,
  D: u32,
  H: u32,
  F: u32,
  V: u32,
  pos0: u32,
  n: u32,
  ids_in: u32,
  kv_base: u32,
  kv_stride: u32,
  eps: f32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<E>;
@group(0) @binding(2) var<storage, read> offs: array<u32>;
@group(0) @binding(3) var<storage, read_write> kv: array<E>;
@group(0) @binding(4) var<storage, read_write> ids: array<i32>;

// A power of two ≥ 64. 256: a step is bound by its barriers, not memory latency; 1024 threads made it 2× slower on
// an H100 (109 → 232 µs a tiny-gpt2 token).
override WG: u32 = 256u;
const DMAX: u32 = 256u;
const FMAX: u32 = 1024u;
const SMAX: u32 = 1024u;

var<workgroup> xs: array<f32, DMAX>;      // the residual stream
var<workgroup> hs: array<f32, DMAX>;      // a LayerNorm's output
var<workgroup> qs: array<f32, DMAX>;      // q of the current token
var<workgroup> att: array<f32, DMAX>;     // attention output
var<workgroup> x2: array<f32, DMAX>;      // residual after attention
var<workgroup> ms: array<f32, FMAX>;      // MLP hidden
var<workgroup> sc: array<f32, SMAX>;      // one head's scores, then probabilities
var<workgroup> red: array<f32, WG>;
var<workgroup> rkey: array<u32, WG>;
var<workgroup> ridx: array<u32, WG>;

fn rnd(v: f32) -> f32 { return f32(E(v)); }

// #if SUBGROUPS
// Sum over the workgroup (uniform control flow): subgroupAdd, then the subgroups' partials.
fn wg_sum(v: f32, lid: u32, sid: u32, ssize: u32) -> f32 {
  let s = subgroupAdd(v);
  if (sid == 0u) { red[lid / ssize] = s; }
  workgroupBarrier();
  var total = 0.0;
  for (var i = 0u; i < WG / ssize; i++) { total += red[i]; }
  workgroupBarrier();
  return total;
}
fn wg_max(v: f32, lid: u32, sid: u32, ssize: u32) -> f32 {
  let s = subgroupMax(v);
  if (sid == 0u) { red[lid / ssize] = s; }
  workgroupBarrier();
  var m = red[0];
  for (var i = 1u; i < WG / ssize; i++) { m = max(m, red[i]); }
  workgroupBarrier();
  return m;
}
// #else
fn wg_sum(v: f32, lid: u32, sid: u32, ssize: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] += red[lid + s]; }
    workgroupBarrier();
  }
  let total = red[0];
  workgroupBarrier();
  return total;
}
fn wg_max(v: f32, lid: u32, sid: u32, ssize: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] = max(red[lid], red[lid + s]); }
    workgroupBarrier();
  }
  let m = red[0];
  workgroupBarrier();
  return m;
}
// #endif

// hs = rnd(LayerNorm(src) · g + b) over D (two passes, as the layernorm kernel); src is xs or x2.
fn layer_norm(from_x2: bool, g: u32, b: u32, lid: u32, sid: u32, ssize: u32) {
  let D = p.D;
  var s = 0.0;
  for (var j = lid; j < D; j += WG) { s += select(xs[j], x2[j], from_x2); }
  let mean = wg_sum(s, lid, sid, ssize) / f32(D);
  var q = 0.0;
  for (var j = lid; j < D; j += WG) { let d = select(xs[j], x2[j], from_x2) - mean; q += d * d; }
  let rstd = inverseSqrt(wg_sum(q, lid, sid, ssize) / f32(D) + p.eps);
  for (var j = lid; j < D; j += WG) {
    hs[j] = rnd((select(xs[j], x2[j], from_x2) - mean) * rstd * f32(w[g + j]) + f32(w[b + j]));
  }
  workgroupBarrier();
}

// Monotone map f32 → u32 (argmax.wgsl's key_of): NaN ranks as -inf; never 0.
fn key_of(v: f32) -> u32 {
  let b = bitcast<u32>(v);
  let mag = b & 0x7fffffffu;
  if (mag > 0x7f800000u) { return 0x007fffffu; }
  if (mag == 0u) { return 0x80000000u; }
  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

@compute @workgroup_size(WG)
fn main(
  @builtin(local_invocation_index) lid: u32,
// #if SUBGROUPS
  @builtin(subgroup_invocation_id) sid: u32,
  @builtin(subgroup_size) ssize: u32,
// #endif
) {
// #if !SUBGROUPS
  let sid = 0u;
  let ssize = 1u;
// #endif
  let D = p.D;
  let H = p.H;
  let F = p.F;
  let hd = D / H;
  let chunks = WG / hd; // threads per head dimension in the P·V sum
  for (var t = 0u; t < p.n; t++) {
    let pos = p.pos0 + t;
    let tok = u32(ids[p.ids_in + t]);
    // Embedding: wte[tok] + wpe[pos], rounded as the embedding kernel stores it.
    for (var j = lid; j < D; j += WG) { xs[j] = rnd(f32(w[offs[0] + tok * D + j]) + f32(w[offs[1] + pos * D + j])); }
    workgroupBarrier();
    for (var l = 0u; l < p.L; l++) {
      let m = 4u + 12u * l;
      let kb = p.kv_base + l * p.kv_stride;
      let vb = p.kv_base + (p.L + l) * p.kv_stride;
      layer_norm(false, offs[m], offs[m + 1u], lid, sid, ssize);
      // qkv = hs · W + b; k and v go to the cache (as E), q stays here.
      let wa = offs[m + 2u];
      let ba = offs[m + 3u];
      for (var j = lid; j < 3u * D; j += WG) {
        var acc = 0.0;
        for (var k = 0u; k < D; k++) { acc += hs[k] * f32(w[wa + k * 3u * D + j]); }
        let v = acc + f32(w[ba + j]);
        if (j < D) { qs[j] = rnd(v); }
        else if (j < 2u * D) { kv[kb + pos * D + (j - D)] = E(v); }
        else { kv[vb + pos * D + (j - 2u * D)] = E(v); }
      }
      storageBarrier();
      workgroupBarrier();
      // Causal attention over positions [0, pos], one head at a time.
      let S = pos + 1u;
      for (var h = 0u; h < H; h++) {
        var mx = -3.4e38;
        for (var s = lid; s < S; s += WG) {
          var dot = 0.0;
          for (var d = 0u; d < hd; d++) { dot += qs[h * hd + d] * f32(kv[kb + s * D + h * hd + d]); }
          let v = dot * p.scale;
          sc[s] = v;
          mx = max(mx, v);
        }
        let gmax = wg_max(mx, lid, sid, ssize);
        var sum = 0.0;
        for (var s = lid; s < S; s += WG) { let e = exp(sc[s] - gmax); sc[s] = e; sum += e; }
        let total = wg_sum(sum, lid, sid, ssize);
        // out[d] = Σ_s p_s · v[s, d]: thread (d = lid % hd, c = lid / hd) sums positions c, c + chunks, …
        var part = 0.0;
        if (lid < chunks * hd) {
          let d = lid % hd;
          for (var s = lid / hd; s < S; s += chunks) { part += sc[s] * f32(kv[vb + s * D + h * hd + d]); }
        }
        red[lid] = part;
        workgroupBarrier();
        if (lid < hd) {
          var o = 0.0;
          for (var c = 0u; c < chunks; c++) { o += red[c * hd + lid]; }
          att[h * hd + lid] = rnd(o / total);
        }
        workgroupBarrier();
      }
      // x2 = x + rnd(att · Wo + bo)
      let wo = offs[m + 4u];
      let bo = offs[m + 5u];
      for (var j = lid; j < D; j += WG) {
        var acc = 0.0;
        for (var k = 0u; k < D; k++) { acc += att[k] * f32(w[wo + k * D + j]); }
        x2[j] = rnd(xs[j] + rnd(acc + f32(w[bo + j])));
      }
      workgroupBarrier();
      layer_norm(true, offs[m + 6u], offs[m + 7u], lid, sid, ssize);
      // ms = rnd(gelu(hs · Wfc + bfc))
      let wf = offs[m + 8u];
      let bf = offs[m + 9u];
      for (var f = lid; f < F; f += WG) {
        var acc = 0.0;
        for (var k = 0u; k < D; k++) { acc += hs[k] * f32(w[wf + k * F + f]); }
        ms[f] = rnd(act(acc + f32(w[bf + f])));
      }
      workgroupBarrier();
      // x = x2 + rnd(ms · Wp + bp)
      let wp = offs[m + 10u];
      let bp = offs[m + 11u];
      for (var j = lid; j < D; j += WG) {
        var acc = 0.0;
        for (var f = 0u; f < F; f++) { acc += ms[f] * f32(w[wp + f * D + j]); }
        xs[j] = rnd(x2[j] + rnd(acc + f32(w[bp + j])));
      }
      workgroupBarrier();
    }
    // ln_f, the tied LM head (wte rows), argmax with the first index on ties.
    layer_norm(false, offs[2], offs[3], lid, sid, ssize);
    var bk = 0u;
    var bi = 0xffffffffu;
    // Four rows per pass (independent loads in flight), compared in index order so the first index wins ties.
    var v = lid;
    for (; v + 3u * WG < p.V; v += 4u * WG) {
      let r0 = offs[0] + v * D;
      let r1 = r0 + WG * D;
      let r2 = r1 + WG * D;
      let r3 = r2 + WG * D;
      var a0 = 0.0;
      var a1 = 0.0;
      var a2 = 0.0;
      var a3 = 0.0;
      for (var k = 0u; k < D; k++) {
        let h = hs[k];
        a0 += h * f32(w[r0 + k]);
        a1 += h * f32(w[r1 + k]);
        a2 += h * f32(w[r2 + k]);
        a3 += h * f32(w[r3 + k]);
      }
      let k0 = key_of(rnd(a0));
      let k1 = key_of(rnd(a1));
      let k2 = key_of(rnd(a2));
      let k3 = key_of(rnd(a3));
      if (k0 > bk) { bk = k0; bi = v; }
      if (k1 > bk) { bk = k1; bi = v + WG; }
      if (k2 > bk) { bk = k2; bi = v + 2u * WG; }
      if (k3 > bk) { bk = k3; bi = v + 3u * WG; }
    }
    for (; v < p.V; v += WG) {
      var acc = 0.0;
      let row = offs[0] + v * D;
      for (var k = 0u; k < D; k++) { acc += hs[k] * f32(w[row + k]); }
      let key = key_of(rnd(acc));
      if (key > bk) { bk = key; bi = v; }
    }
    // #if SUBGROUPS
    // The subgroup's best key, then its lowest index with that key; then the same over the subgroups' winners.
    let sk = subgroupMax(bk);
    let si = subgroupMin(select(0xffffffffu, bi, bk == sk));
    if (sid == 0u) { rkey[lid / ssize] = sk; ridx[lid / ssize] = si; }
    workgroupBarrier();
    if (lid == 0u) {
      var wk = rkey[0];
      var wi = ridx[0];
      for (var g = 1u; g < WG / ssize; g++) {
        if (rkey[g] > wk || (rkey[g] == wk && ridx[g] < wi)) { wk = rkey[g]; wi = ridx[g]; }
      }
      ids[p.ids_in + t + 1u] = bitcast<i32>(wi);
    }
    // #else
    rkey[lid] = bk;
    ridx[lid] = bi;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
      if (lid < s) {
        let ok = rkey[lid + s];
        let oi = ridx[lid + s];
        if (ok > rkey[lid] || (ok == rkey[lid] && oi < ridx[lid])) { rkey[lid] = ok; ridx[lid] = oi; }
      }
      workgroupBarrier();
    }
    if (lid == 0u) { ids[p.ids_in + t + 1u] = bitcast<i32>(ridx[0]); }
    // #endif
    storageBarrier();
    workgroupBarrier();
  }
}
