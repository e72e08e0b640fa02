// matmul_sgmat's staging: each thread's share of a K-step's x and W tiles, loaded from global memory as 16-byte
// pieces (element by element where not ALIGNED) and stored to one stage of the workgroup tiles (eight f16 stores a
// piece, or one with VEC_TILES). Appended to
// matmul_sgmat.wgsl, whose constants (tile shape, STAGERS, A_LOADS, B_LOADS, SA, SB) and bindings it uses.

// Eight halves of one row, zero beyond `limit` (the row's length) — the unaligned path's load.
// #if !ALIGNED
fn pack8(src_is_x: bool, at: u32, first: u32, limit: u32) -> vec4<u32> {
  var h: array<f16, 8>;
  for (var j = 0u; j < 8u; j++) {
    if (first + j < limit) {
      if (src_is_x) { h[j] = x[at + j]; } else { h[j] = w[at + j]; }
    }
  }
  return vec4<u32>(bitcast<u32>(vec2<f16>(h[0], h[1])), bitcast<u32>(vec2<f16>(h[2], h[3])),
                   bitcast<u32>(vec2<f16>(h[4], h[5])), bitcast<u32>(vec2<f16>(h[6], h[7])));
}
// #endif

// The i-th 16-byte piece of this thread's share of the x tile at k0.
fn load_a(row0: u32, k0: u32, t: u32, i: u32) -> vec4<u32> {
  let idx = t + i * STAGERS;
  let gm = row0 + idx / A_VECS;
  let gk = k0 + (idx % A_VECS) * 8u;
  if (gm >= p.M || gk >= p.K) { return vec4<u32>(); }
  // #if ALIGNED
  return x[(p.x_off + gm * p.K + gk) / 8u];
  // #else
  return pack8(true, p.x_off + gm * p.K + gk, gk, p.K);
  // #endif
}

fn load_b(col0: u32, k0: u32, t: u32, i: u32) -> vec4<u32> {
  let idx = t + i * STAGERS;
  // #if W_NK
  let gn = col0 + idx / B_VECS;
  let gk = k0 + (idx % B_VECS) * 8u;
  if (gn >= p.N || gk >= p.K) { return vec4<u32>(); }
  // #if ALIGNED
  return w[(gn * p.K + gk) / 8u];
  // #else
  return pack8(false, gn * p.K + gk, gk, p.K);
  // #endif
  // #else
  let gk = k0 + idx / B_VECS;
  let gn = col0 + (idx % B_VECS) * 8u;
  if (gn >= p.N || gk >= p.K) { return vec4<u32>(); }
  // #if ALIGNED
  return w[(gk * p.N + gn) / 8u];
  // #else
  return pack8(false, gk * p.N + gn, gn, p.N);
  // #endif
  // #endif
}

fn put_a(stage: u32, t: u32, i: u32, v: vec4<u32>) {
  let idx = t + i * STAGERS;
  let at = stage * A_STAGE + (idx / A_VECS) * SA + (idx % A_VECS) * 8u;
  // #if VEC_TILES
  tile_a[at / 8u] = v;
  // #else
  let h0 = bitcast<vec2<f16>>(v.x);
  let h1 = bitcast<vec2<f16>>(v.y);
  let h2 = bitcast<vec2<f16>>(v.z);
  let h3 = bitcast<vec2<f16>>(v.w);
  tile_a[at] = h0.x;
  tile_a[at + 1u] = h0.y;
  tile_a[at + 2u] = h1.x;
  tile_a[at + 3u] = h1.y;
  tile_a[at + 4u] = h2.x;
  tile_a[at + 5u] = h2.y;
  tile_a[at + 6u] = h3.x;
  tile_a[at + 7u] = h3.y;
  // #endif
}

fn put_b(stage: u32, t: u32, i: u32, v: vec4<u32>) {
  let idx = t + i * STAGERS;
  let at = stage * B_STAGE + (idx / B_VECS) * SB + (idx % B_VECS) * 8u;
  // #if VEC_TILES
  tile_b[at / 8u] = v;
  // #else
  let h0 = bitcast<vec2<f16>>(v.x);
  let h1 = bitcast<vec2<f16>>(v.y);
  let h2 = bitcast<vec2<f16>>(v.z);
  let h3 = bitcast<vec2<f16>>(v.w);
  tile_b[at] = h0.x;
  tile_b[at + 1u] = h0.y;
  tile_b[at + 2u] = h1.x;
  tile_b[at + 3u] = h1.y;
  tile_b[at + 4u] = h2.x;
  tile_b[at + 5u] = h2.y;
  tile_b[at + 6u] = h3.x;
  tile_b[at + 7u] = h3.y;
  // #endif
}

// One step's share of the x and W tiles for staging thread t: A_LOADS and B_LOADS pieces of 16 bytes (the conditions
// are constant: each configuration compiles to straight-line code).
struct Staged {
  a0: vec4<u32>, a1: vec4<u32>, a2: vec4<u32>, a3: vec4<u32>,
  b0: vec4<u32>, b1: vec4<u32>, b2: vec4<u32>, b3: vec4<u32>,
}

fn fetch(row0: u32, col0: u32, k0: u32, t: u32) -> Staged {
  var s: Staged;
  s.a0 = load_a(row0, k0, t, 0u);
  if (A_LOADS > 1u) { s.a1 = load_a(row0, k0, t, 1u); }
  if (A_LOADS > 2u) { s.a2 = load_a(row0, k0, t, 2u); s.a3 = load_a(row0, k0, t, 3u); }
  s.b0 = load_b(col0, k0, t, 0u);
  if (B_LOADS > 1u) { s.b1 = load_b(col0, k0, t, 1u); }
  if (B_LOADS > 2u) { s.b2 = load_b(col0, k0, t, 2u); s.b3 = load_b(col0, k0, t, 3u); }
  return s;
}

fn put(stage: u32, t: u32, s: Staged) {
  put_a(stage, t, 0u, s.a0);
  if (A_LOADS > 1u) { put_a(stage, t, 1u, s.a1); }
  if (A_LOADS > 2u) { put_a(stage, t, 2u, s.a2); put_a(stage, t, 3u, s.a3); }
  put_b(stage, t, 0u, s.b0);
  if (B_LOADS > 1u) { put_b(stage, t, 1u, s.b1); }
  if (B_LOADS > 2u) { put_b(stage, t, 2u, s.b2); put_b(stage, t, 3u, s.b3); }
}
