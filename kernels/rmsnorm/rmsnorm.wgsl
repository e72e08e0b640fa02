// RMSNorm over the last dimension (Llama): y = x / sqrt(mean(x²) + eps) * weight, for each of `rows` rows of `cols`.
// One workgroup per row; the sum of squares is accumulated in f32 and reduced in workgroup memory. VEC (f16, see the
// bindings) moves 16 bytes a load and store instead of 2.
alias E = f32; // @dtype

struct Params {
  rows: u32,
  cols: u32,
  eps: f32,
  // Workgroups along x of the 2-D grid, for rows beyond 65535.
  grid_x: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// #if VEC
// f16 rows of a multiple of 8 values, at most 32·WG (four pieces a thread), every binding 16-byte aligned: x, weight
// and y as 16-byte pieces of eight halves; a thread keeps its pieces of the row in registers between the sum of
// squares and the scaling, so x is read once.
@group(0) @binding(1) var<storage, read> x: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> weight: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read_write> y: array<vec4<u32>>;
// #else
@group(0) @binding(1) var<storage, read> x: array<E>;
@group(0) @binding(2) var<storage, read> weight: array<E>;
@group(0) @binding(3) var<storage, read_write> y: array<E>;
// #endif

// A power of two: the tree reduction halves it.
override WG: u32 = 256u;

var<workgroup> partial: array<f32, WG>;

// Tree reduction of the threads' partial sums; every thread gets the total.
fn total(lid: u32, s: f32) -> f32 {
  partial[lid] = s;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) { partial[lid] += partial[lid + stride]; }
    workgroupBarrier();
  }
  return partial[0];
}

// #if VEC
// The sum of squares of a piece's eight halves, in f32.
fn sq8(v: vec4<u32>) -> f32 {
  let a = unpack2x16float(v.x);
  let b = unpack2x16float(v.y);
  let c = unpack2x16float(v.z);
  let d = unpack2x16float(v.w);
  return dot(a, a) + dot(b, b) + dot(c, c) + dot(d, d);
}

// A piece times inv and the weight's piece, each value as the scalar path computes it (x · inv · w), rounded to f16.
fn scale8(v: vec4<u32>, w: vec4<u32>, inv: f32) -> vec4<u32> {
  return vec4<u32>(
    pack2x16float(unpack2x16float(v.x) * inv * unpack2x16float(w.x)), pack2x16float(unpack2x16float(v.y) * inv * unpack2x16float(w.y)),
    pack2x16float(unpack2x16float(v.z) * inv * unpack2x16float(w.z)), pack2x16float(unpack2x16float(v.w) * inv * unpack2x16float(w.w)));
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * p.grid_x;
  if (row >= p.rows) { return; }
  let pieces = p.cols / 8u;
  let base = row * pieces;
  // Pieces lid, lid + WG, lid + 2·WG, lid + 3·WG of the row (zeros past its end add nothing).
  let c1 = lid + WG;
  let c2 = lid + 2u * WG;
  let c3 = lid + 3u * WG;
  var v0: vec4<u32>;
  var v1: vec4<u32>;
  var v2: vec4<u32>;
  var v3: vec4<u32>;
  if (lid < pieces) { v0 = x[base + lid]; }
  if (c1 < pieces) { v1 = x[base + c1]; }
  if (c2 < pieces) { v2 = x[base + c2]; }
  if (c3 < pieces) { v3 = x[base + c3]; }
  let s = total(lid, (sq8(v0) + sq8(v1)) + (sq8(v2) + sq8(v3)));
  let inv = inverseSqrt(s / f32(p.cols) + p.eps);
  if (lid < pieces) { y[base + lid] = scale8(v0, weight[lid], inv); }
  if (c1 < pieces) { y[base + c1] = scale8(v1, weight[c1], inv); }
  if (c2 < pieces) { y[base + c2] = scale8(v2, weight[c2], inv); }
  if (c3 < pieces) { y[base + c3] = scale8(v3, weight[c3], inv); }
}
// #else
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * p.grid_x;
  if (row >= p.rows) { return; }
  let base = row * p.cols;
  // Four independent loads per iteration keep several in flight: a single row (decode) is latency-bound.
  var s = 0.0;
  var c = lid;
  for (; c + 3u * WG < p.cols; c += 4u * WG) {
    let v = vec4(f32(x[base + c]), f32(x[base + c + WG]), f32(x[base + c + 2u * WG]), f32(x[base + c + 3u * WG]));
    s += dot(v, v);
  }
  for (; c < p.cols; c += WG) {
    let v = f32(x[base + c]);
    s += v * v;
  }
  let inv = inverseSqrt(total(lid, s) / f32(p.cols) + p.eps);
  c = lid;
  for (; c + 3u * WG < p.cols; c += 4u * WG) {
    let v = vec4(f32(x[base + c]), f32(x[base + c + WG]), f32(x[base + c + 2u * WG]), f32(x[base + c + 3u * WG]));
    let g = vec4(f32(weight[c]), f32(weight[c + WG]), f32(weight[c + 2u * WG]), f32(weight[c + 3u * WG]));
    let o = v * inv * g;
    y[base + c] = E(o.x);
    y[base + c + WG] = E(o.y);
    y[base + c + 2u * WG] = E(o.z);
    y[base + c + 3u * WG] = E(o.w);
  }
  for (; c < p.cols; c += WG) {
    y[base + c] = E(f32(x[base + c]) * inv * f32(weight[c]));
  }
}
// #endif
