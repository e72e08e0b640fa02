// Split-K's second pass: y[y_off + i] = act(Σ_z part[z·MN + i] + b[i mod N]) (+ res[r_off + i]) as E, for
// i < MN = M·N (part is what matmul_sgmat's SPLITK variant wrote: one f32 [M, N] per split). Variants: dtype, BIAS,
// RESIDUAL (with RESIDUAL_PRE added before the activation), the activations of epilogue.wgsl.
alias E = f32; // @dtype

struct Params {
  MN: u32,
  N: u32,
  splits: u32,
  y_off: u32,
  // Threads per row of the dispatch grid (workgroups in x · 256).
  stride: u32,
  r_off: u32,
  _p1: u32,
  _p2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<E>;
// #if BIAS
@group(0) @binding(3) var<storage, read> b: array<E>;
// #endif
// #if RESIDUAL
// #if BIAS
@group(0) @binding(4) var<storage, read> res: array<E>;
// #else
@group(0) @binding(3) var<storage, read> res: array<E>;
// #endif
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
  // #if RESIDUAL
  let r = f32(res[p.r_off + i]);
  // #if RESIDUAL_PRE
  s = act(s + r);
  // #else
  s = act(s) + r;
  // #endif
  // #else
  s = act(s);
  // #endif
  y[p.y_off + i] = E(s);
}
