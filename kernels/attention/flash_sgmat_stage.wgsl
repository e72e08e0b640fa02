// Staging of the tensor-core flash attention (appended to flash_sgmat.wgsl by the spec): q's and each key block's
// k and v 16-byte pieces, loaded into registers a block ahead (load_kv) and stored into the workgroup tiles (store_kv).

// Stores 8 halves (one 16-byte piece) at a kv index.
fn put8(dst: u32, x: vec4<u32>) {
  let a = bitcast<vec2<f16>>(x.x);
  let b = bitcast<vec2<f16>>(x.y);
  let c = bitcast<vec2<f16>>(x.z);
  let d = bitcast<vec2<f16>>(x.w);
  kv[dst] = a.x; kv[dst + 1u] = a.y; kv[dst + 2u] = b.x; kv[dst + 3u] = b.y;
  kv[dst + 4u] = c.x; kv[dst + 5u] = c.y; kv[dst + 6u] = d.x; kv[dst + 7u] = d.y;
}

// q's 16-byte piece at dim d of row rho (zeros past R).
fn qpiece(b: u32, hk: u32, rho: u32, R: u32, d: u32) -> vec4<u32> {
  if (rho >= R) { return vec4<u32>(); }
  let tq = rho / p.group;
  let h = hk * p.group + rho % p.group;
  let x = q[(p.q_offset + b * p.q_batch + tq * p.q_stride + h * HD + d) / 8u];
  // #if SOFTMAX_OLD
  return x;
  // #else
  // The new softmax takes the scale's sign into q (exact in f16) and works with |scale|.
  return x ^ vec4<u32>(select(0u, 0x80008000u, p.scale < 0.0));
  // #endif
}

// A thread's share of a key block: up to 4 16-byte pieces of k and of v (HD = 128 on 128 threads: 4 each).
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
  // #if !PROBE_NOSTAGE
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
  // #else
  // Never taken (live ≤ the key count), but k and v stay referenced: without it the pipeline's automatic layout
  // drops their bindings and the probe's bind group fails (session 4, call 9).
  if (live == 0xffffffffu) { r.k0 = piece(b, hk, j0, live, t, 0u, 0u); r.v0 = piece(b, hk, j0, live, t, 0u, 1u); }
  // #endif
  return r;
}

// Stores thread t's share (from load_kv) into the k and v tiles.
fn store_kv(r: KV, t: u32, with_v: bool) {
  // #if !PROBE_NOSTAGE
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
    put8(at, xk);
    if (with_v) { put8(VT + at, xv); }
  }
  // #endif
}
