// Global average pooling: y[plane] = mean of the plane's H·W values, for N·C planes of NCHW (ResNet's head).
// One workgroup per plane; f32 sums reduced in workgroup memory. NHWC: y[n, c] = mean over the H·W pixels of
// x[n, ·, ·, c], one thread per (n, c) (neighbouring threads read neighbouring channels; no reduction across threads).
alias E = f32; // @dtype

struct Params {
  planes: u32,
  hw: u32,
  // Workgroups along x of the 2-D grid, for planes beyond 65535.
  grid_x: u32,
  // Channels (NHWC only).
  c: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<E>;
@group(0) @binding(2) var<storage, read_write> y: array<E>;

// A power of two: the tree reduction halves it.
override WG: u32 = 64u;

var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  // #if NHWC
  let i = (wid.x + wid.y * p.grid_x) * WG + lid;
  if (i >= p.planes) { return; }
  let at = (i / p.c) * p.hw * p.c + i % p.c;
  var sum = 0.0;
  for (var j = 0u; j < p.hw; j++) { sum += f32(x[at + j * p.c]); }
  y[i] = E(sum / f32(p.hw));
  // #else
  let plane = wid.x + wid.y * p.grid_x;
  if (plane >= p.planes) { return; }
  let base = plane * p.hw;
  var s = 0.0;
  for (var i = lid; i < p.hw; i += WG) { s += f32(x[base + i]); }
  partial[lid] = s;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) { partial[lid] += partial[lid + stride]; }
    workgroupBarrier();
  }
  if (lid == 0u) { y[plane] = E(partial[0] / f32(p.hw)); }
  // #endif
}
