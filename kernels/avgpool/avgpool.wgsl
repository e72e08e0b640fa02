// Global average pooling: y[plane] = mean of the plane's H·W values, for N·C planes of NCHW (ResNet's head).
// One workgroup per plane; f32 sums reduced in workgroup memory.
alias E = f32; // @dtype

struct Params {
  planes: u32,
  hw: u32,
  // Workgroups along x of the 2-D grid, for planes beyond 65535.
  grid_x: u32,
  _p0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<E>;
@group(0) @binding(2) var<storage, read_write> y: array<E>;

// A power of two: the tree reduction halves it.
override WG: u32 = 64u;

var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
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
}
