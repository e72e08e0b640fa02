// flash.wgsl's staging: q, k and v from global memory (vec4 loads where ALIGNED, else element by element) into the
// f32 tiles of workgroup memory. Appended to flash.wgsl, whose constants, bindings and tiles it uses.

// 4 elements from i (n of them real, 1..4; ALIGNED: i is a multiple of 4 and n = 4), as f32.
fn ldq(i: u32, n: u32) -> vec4<f32> {
  // #if ALIGNED
  return vec4<f32>(q[i / 4u]);
  // #else
  var r = vec4<f32>(f32(q[i]), 0.0, 0.0, 0.0);
  if (n > 1u) { r.y = f32(q[i + 1u]); }
  if (n > 2u) { r.z = f32(q[i + 2u]); }
  if (n > 3u) { r.w = f32(q[i + 3u]); }
  return r;
  // #endif
}

fn ldk(i: u32, n: u32) -> vec4<f32> {
  // #if ALIGNED
  return vec4<f32>(k[i / 4u]);
  // #else
  var r = vec4<f32>(f32(k[i]), 0.0, 0.0, 0.0);
  if (n > 1u) { r.y = f32(k[i + 1u]); }
  if (n > 2u) { r.z = f32(k[i + 2u]); }
  if (n > 3u) { r.w = f32(k[i + 3u]); }
  return r;
  // #endif
}

fn ldv(i: u32, n: u32) -> vec4<f32> {
  // #if ALIGNED
  return vec4<f32>(v[i / 4u]);
  // #else
  var r = vec4<f32>(f32(v[i]), 0.0, 0.0, 0.0);
  if (n > 1u) { r.y = f32(v[i + 1u]); }
  if (n > 2u) { r.z = f32(v[i + 2u]); }
  if (n > 3u) { r.w = f32(v[i + 3u]); }
  return r;
  // #endif
}

// Real elements of the 4 head dims from d (0 past head_dim).
fn real_dims(d: u32) -> u32 {
  return select(0u, min(p.head_dim - d, 4u), d < p.head_dim);
}

// Stages q rows tq + TQ·r (the thread's own rows), dims c·32 + tk·4 .. +4.
fn stage_q(c: u32, tq: u32, tk: u32, qb: vec4<u32>, live: vec4<bool>) {
  let d = c * DC + tk * 4u;
  let n = real_dims(d);
  var x = vec4<f32>(0.0);
  var y = vec4<f32>(0.0);
  var z = vec4<f32>(0.0);
  var w = vec4<f32>(0.0);
  if (n > 0u) {
    if (live.x) { x = ldq(qb.x + d, n) * p.scale; }
    if (live.y) { y = ldq(qb.y + d, n) * p.scale; }
    if (live.z) { z = ldq(qb.z + d, n) * p.scale; }
    if (live.w) { w = ldq(qb.w + d, n) * p.scale; }
  }
  qs[tq * ROW + tk] = x;
  qs[(tq + TQ) * ROW + tk] = y;
  qs[(tq + 2u * TQ) * ROW + tk] = z;
  qs[(tq + 3u * TQ) * ROW + tk] = w;
}

// Stages k rows tq + TQ·i (i < KN) of the block from j0, dims c·32 + tk·4 .. +4; keys at or past `end` are zeros.
fn stage_k(c: u32, tq: u32, tk: u32, kb: u32, j0: u32, end: u32) {
  let d = c * DC + tk * 4u;
  let n = real_dims(d);
  for (var i = 0u; i < KN; i++) {
    let j = tq + TQ * i;
    var x = vec4<f32>(0.0);
    if (n > 0u && j0 + j < end) { x = ldk(kb + (j0 + j) * p.k_stride + d, n); }
    ks[j * ROW + tk] = x;
  }
}

// Stages v rows like stage_k; masked keys are zeros too.
fn stage_v(c: u32, tq: u32, tk: u32, vb: u32, j0: u32, end: u32, b: u32) {
  let d = c * DC + tk * 4u;
  let n = real_dims(d);
  for (var i = 0u; i < KN; i++) {
    let j = tq + TQ * i;
    var keep = n > 0u && j0 + j < end;
    // #if MASK
    if (keep) { keep = mask[b * p.S + j0 + j] != 0; }
    // #endif
    var x = vec4<f32>(0.0);
    if (keep) { x = ldv(vb + (j0 + j) * p.v_stride + d, n); }
    vs[j * 8u + tk] = x;
  }
}
