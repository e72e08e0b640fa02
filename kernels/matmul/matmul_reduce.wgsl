// Split-K's second pass: y[y_off + i] = act(Σ_z part[z·MN + i] + b[i mod N]) as E, for i < MN = M·N (part is what
// matmul_sgmat's SPLITK variant wrote: one f32 [M, N] per split). Variants: dtype, BIAS, the activations of
// epilogue.wgsl.
alias E = f32; // @dtype

struct Params {
  MN: u32,
  N: u32,
  splits: u32,
  y_off: u32,
  // Threads per row of the dispatch grid (workgroups in x · 256).
  stride: u32,
  _p0: u32,
  _p1: u32,
  _p2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<E>;
// #if BIAS
@group(0) @binding(3) var<storage, read> b: array<E>;
// #endif

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.stride;
  if (i >= p.MN) { return; }
  var s = 0.0;
  for (var z = 0u; z < p.splits; z++) { s += part[z * p.MN + i]; }
  // #if BIAS
  s += f32(b[i % p.N]);
  // #endif
  y[p.y_off + i] = E(act(s));
}
