// LayerNorm over the last dimension: y[r, :] = (x[r, :] - mean) / sqrt(var + eps) * gamma + beta, rows of cols
// elements from element offsets x_offset / y_offset. One workgroup per row; two passes over the row (mean, then the
// centred sum of squares, both reduced over the workgroup in f32), so large means do not cancel the variance.
// ADD: the row normalized is x + res (a post-LN transformer's residual add fused), each sum rounded to E as the add
// kernel would store it; res [rows, cols] has its own offset.
alias E = f32; // @dtype

struct Params {
  rows: u32,
  cols: u32,
  eps: f32,
  x_offset: u32,
  y_offset: u32,
  res_offset: u32,
  _pad1: u32,
  _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<E>;
@group(0) @binding(2) var<storage, read> gamma: array<E>;
@group(0) @binding(3) var<storage, read> beta: array<E>;
@group(0) @binding(4) var<storage, read_write> y: array<E>;
// #if ADD
@group(0) @binding(5) var<storage, read> res: array<E>;
// #endif

// Element c of row `row`'s input: x, or E(x + res) in ADD variants.
fn input(xb: u32, rb: u32, c: u32) -> f32 {
  // #if ADD
  return f32(E(f32(x[xb + c]) + f32(res[rb + c])));
  // #else
  return f32(x[xb + c]);
  // #endif
}

// A power of two.
override WG: u32 = 256;

var<workgroup> red: array<f32, WG>;

// Sum of v over the workgroup; call from uniform control flow.
fn workgroup_sum(v: f32, lid: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] += red[lid + s]; }
    workgroupBarrier();
  }
  let total = red[0];
  workgroupBarrier(); // everyone has read red[0] before it is reused
  return total;
}

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.rows) { return; }
  let xb = p.x_offset + row * p.cols;
  let yb = p.y_offset + row * p.cols;
  let rb = p.res_offset + row * p.cols;
  let n = f32(p.cols);

  var s = 0.0;
  for (var c = lid; c < p.cols; c += WG) { s += input(xb, rb, c); }
  let mean = workgroup_sum(s, lid) / n;

  var q = 0.0;
  for (var c = lid; c < p.cols; c += WG) {
    let d = input(xb, rb, c) - mean;
    q += d * d;
  }
  let rstd = inverseSqrt(workgroup_sum(q, lid) / n + p.eps);

  for (var c = lid; c < p.cols; c += WG) {
    y[yb + c] = E((input(xb, rb, c) - mean) * rstd * f32(gamma[c]) + f32(beta[c]));
  }
}
