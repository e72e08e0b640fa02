// Row softmax with optional causal and padding masks: y[r, c] = exp(x[r, c] - max) / Σ exp(...) over the kept columns
// of row r, 0 for masked columns; a row with nothing kept is all zeros. Row r belongs to batch r / rows_per_batch and
// is query position (r % rows_per_batch) + query_offset: causal keeps c ≤ that position; MASK keeps mask[batch, c] ≠ 0.
// One workgroup per row: each thread keeps an online (max, sum) over its columns, the pairs are merged in a tree, then
// a second pass writes the normalised values. All in f32.
alias E = f32; // @dtype

struct Params {
  rows: u32,
  cols: u32,
  causal: u32,
  query_offset: u32,
  rows_per_batch: u32,
  x_offset: u32,
  y_offset: u32,
  _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<E>;
@group(0) @binding(2) var<storage, read_write> y: array<E>;
// #if MASK
@group(0) @binding(3) var<storage, read> mask: array<i32>;
// #endif

// A power of two.
override WG: u32 = 256;

var<workgroup> red_m: array<f32, WG>;
var<workgroup> red_s: array<f32, WG>;

// Below any score that matters; finite, so exp(m - m') never sees inf - inf.
const LOW: f32 = -3.0e38;

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
  // Columns at or past `end` are masked by causality.
  var end = p.cols;
  if (p.causal != 0u) { end = min(p.cols, (row % p.rows_per_batch) + p.query_offset + 1u); }
  // #if MASK
  let mb = (row / p.rows_per_batch) * p.cols;
  // #endif

  var m = LOW;
  var s = 0.0;
  for (var c = lid; c < end; c += WG) {
    // #if MASK
    if (mask[mb + c] == 0) { continue; }
    // #endif
    let v = f32(x[xb + c]);
    if (v > m) {
      s = s * exp(m - v) + 1.0;
      m = v;
    } else {
      s += exp(v - m);
    }
  }
  red_m[lid] = m;
  red_s[lid] = s;
  workgroupBarrier();
  for (var k = WG / 2u; k > 0u; k >>= 1u) {
    if (lid < k) {
      let m1 = red_m[lid];
      let m2 = red_m[lid + k];
      let mx = max(m1, m2);
      red_s[lid] = red_s[lid] * exp(m1 - mx) + red_s[lid + k] * exp(m2 - mx);
      red_m[lid] = mx;
    }
    workgroupBarrier();
  }
  let mx = red_m[0];
  let total = red_s[0];
  let inv = select(0.0, 1.0 / total, total > 0.0);

  for (var c = lid; c < p.cols; c += WG) {
    var keep = c < end;
    // #if MASK
    keep = keep && mask[mb + c] != 0;
    // #endif
    var v = 0.0;
    if (keep) { v = exp(f32(x[xb + c]) - mx) * inv; }
    y[yb + c] = E(v);
  }
}
