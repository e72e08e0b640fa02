// The second pass of a split-K conv2d: y = act(Σ_s part[s] + b[co] (+ residual)), summing the chunks in order (so
// the result does not depend on scheduling). part is f32 [splits, N, Cout, Hout, Wout]; y and the residual are NCHW
// in the variant's dtype. Variants: RESIDUAL, RELU (as conv2d.wgsl).
alias E = f32; // @dtype

struct Params {
  // N·Cout·Hout·Wout outputs; Hout·Wout; Cout; chunks.
  total: u32,
  hw: u32,
  cout: u32,
  splits: u32,
  // Threads per row of the 2-D grid, for outputs beyond 65535 workgroups.
  grid_stride: u32,
  _p0: u32,
  _p1: u32,
  _p2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<E>;
@group(0) @binding(3) var<storage, read_write> y: array<E>;
// #if RESIDUAL
@group(0) @binding(4) var<storage, read> res: array<E>;
// #endif

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.grid_stride;
  if (i >= p.total) { return; }
  var v = 0.0;
  for (var s = 0u; s < p.splits; s++) { v += part[s * p.total + i]; }
  v += f32(b[(i / p.hw) % p.cout]);
  // #if RESIDUAL
  v += f32(res[i]);
  // #endif
  // #if RELU
  v = max(v, 0.0);
  // #endif
  y[i] = E(v);
}
