// LayerNorm over the last dimension: y[r, :] = (x[r, :] - mean) / sqrt(var + eps) * gamma + beta, rows of cols
// elements from element offsets x_offset / y_offset. One workgroup per row; two passes over the row (mean, then the
// centred sum of squares, both reduced over the workgroup in f32), so large means do not cancel the variance.
// ADD: the row normalized is x + res (a post-LN transformer's residual add fused), each sum rounded to E as the add
// kernel would store it; res [res_rows, cols] has its own offset, and row r reads its row r mod res_rows (res_rows =
// rows: one residual row per row; fewer broadcast, e.g. 1 for BERT's token-type 0 embedding).
// PARTIALS: x is a GEMM's f32 split-K partials [splits, rows, cols] (from x_offset, one [rows, cols] per split), and
// the row's input is their sum (+ bias[c] with BIAS) rounded to E, as matmul_reduce.wgsl would store it (+ res, rounded
// again, with ADD): the reduce pass fused into the LayerNorm after the projection. The input goes through y: a first
// pass stores the rounded sum there, ADD adds res to it in place, and the LayerNorm reads it back (each thread only
// its own columns). Rounding through memory, not with E(v) in registers: lavapipe folds f32(f16(v)) into v, so only a
// store rounds everywhere, and the partials are summed once, not once per pass.
alias E = f32; // @dtype

struct Params {
  rows: u32,
  cols: u32,
  eps: f32,
  x_offset: u32,
  y_offset: u32,
  res_offset: u32,
  // ADD: rows of res (row r reads row r mod res_rows).
  res_rows: u32,
  // PARTIALS: the splits to sum.
  splits: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// #if PARTIALS
@group(0) @binding(1) var<storage, read> x: array<f32>;
// #else
@group(0) @binding(1) var<storage, read> x: array<E>;
// #endif
@group(0) @binding(2) var<storage, read> gamma: array<E>;
@group(0) @binding(3) var<storage, read> beta: array<E>;
@group(0) @binding(4) var<storage, read_write> y: array<E>;
// #if ADD
@group(0) @binding(5) var<storage, read> res: array<E>;
// #endif
// The bias follows y and res, whichever are bound.
// #if BIAS
// #if ADD
@group(0) @binding(6) var<storage, read> bias: array<E>;
// #else
@group(0) @binding(5) var<storage, read> bias: array<E>;
// #endif
// #endif

// Element c of the row's input: x, or E(x + res) in ADD variants. (PARTIALS variants read y after stage_partials.)
fn input(xb: u32, rb: u32, c: u32) -> f32 {
  // #if PARTIALS
  return f32(y[xb + c]);
  // #else
  // #if ADD
  return f32(E(f32(x[xb + c]) + f32(res[rb + c])));
  // #else
  return f32(x[xb + c]);
  // #endif
  // #endif
}

// #if PARTIALS
// Stores the row's input to y[yb ..]: E(Σ_z x[z] + bias), then E(that + res) with ADD. Call from uniform control flow.
fn stage_partials(xb: u32, rb: u32, yb: u32, lid: u32) {
  let mn = p.rows * p.cols;
  for (var c = lid; c < p.cols; c += WG) {
    var s = 0.0;
    for (var z = 0u; z < p.splits; z++) { s += x[xb + z * mn + c]; }
    // #if BIAS
    s += f32(bias[c]);
    // #endif
    y[yb + c] = E(s);
  }
  // #if ADD
  storageBarrier();
  for (var c = lid; c < p.cols; c += WG) { y[yb + c] = E(f32(y[yb + c]) + f32(res[rb + c])); }
  // #endif
  storageBarrier();
}
// #endif

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
  let rb = p.res_offset + (row % p.res_rows) * p.cols;
  let n = f32(p.cols);

  // #if PARTIALS
  stage_partials(xb, rb, yb, lid);
  let ib = yb;
  // #else
  let ib = xb;
  // #endif

  var s = 0.0;
  for (var c = lid; c < p.cols; c += WG) { s += input(ib, rb, c); }
  let mean = workgroup_sum(s, lid) / n;

  var q = 0.0;
  for (var c = lid; c < p.cols; c += WG) {
    let d = input(ib, rb, c) - mean;
    q += d * d;
  }
  let rstd = inverseSqrt(workgroup_sum(q, lid) / n + p.eps);

  for (var c = lid; c < p.cols; c += WG) {
    y[yb + c] = E((input(ib, rb, c) - mean) * rstd * f32(gamma[c]) + f32(beta[c]));
  }
}
