// Second pass of split-K gemv: y[m,n] = act(Σ_c part[c,m,n] + b[n]) (+ residual[m,n]) over the chunks c of gemv_kn.
// Variants: BIAS, activation defines of epilogue.wgsl, RESIDUAL.
alias E = f32; // @dtype

struct Params {
  M: u32,
  N: u32,
  chunks: u32,
  y_off: u32,
  // Threads per row of the 2-D grid.
  stride: u32,
  // The residual's row offset.
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
  let mn = p.M * p.N;
  if (i >= mn) { return; }
  var s = 0.0;
  for (var c = 0u; c < p.chunks; c++) { s += part[c * mn + i]; }
  // #if BIAS
  s += f32(b[i % p.N]);
  // #endif
  s = act(s);
  // #if RESIDUAL
  s += f32(res[p.r_off + i]);
  // #endif
  y[p.y_off + i] = E(s);
}
