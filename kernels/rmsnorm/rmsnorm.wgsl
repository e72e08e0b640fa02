// RMSNorm over the last dimension (Llama): y = x / sqrt(mean(x²) + eps) * weight, for each of `rows` rows of `cols`.
// One workgroup per row; the sum of squares is accumulated in f32 and reduced in workgroup memory.
alias E = f32; // @dtype

struct Params {
  rows: u32,
  cols: u32,
  eps: f32,
  // Workgroups along x of the 2-D grid, for rows beyond 65535.
  grid_x: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<E>;
@group(0) @binding(2) var<storage, read> weight: array<E>;
@group(0) @binding(3) var<storage, read_write> y: array<E>;

// A power of two: the tree reduction halves it.
override WG: u32 = 256u;

var<workgroup> partial: array<f32, WG>;

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
  partial[lid] = s;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) { partial[lid] += partial[lid + stride]; }
    workgroupBarrier();
  }
  let inv = inverseSqrt(partial[0] / f32(p.cols) + p.eps);
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
