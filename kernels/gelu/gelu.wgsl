// GELU over n elements, y = x · Φ(x), in f32 whatever the storage dtype.
// Default: the tanh form (GPT-2's gelu_new), 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))) = x·sigmoid(2u), evaluated as a
// sigmoid of exp(-|2u|) so large |x| neither overflows nor cancels (builtin tanh overflows to NaN on some drivers).
// ERF: the exact form (BERT), x·Φ(x) with Φ from erfc (Numerical Recipes' erfcc, relative error < 1.2e-7 everywhere),
// so the left tail keeps its relative accuracy instead of cancelling in 1 + erf.
alias E = f32; // @dtype

struct Params {
  n: u32,
  // Threads per row of the 2-D grid (x workgroups × WG), for n beyond 65535 workgroups.
  stride: u32,
  _pad0: u32,
  _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<E>;
@group(0) @binding(2) var<storage, read_write> y: array<E>;

override WG: u32 = 256;

// erfc(z) for z >= 0.
fn erfc_pos(z: f32) -> f32 {
  let t = 1.0 / (1.0 + 0.5 * z);
  let poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807
    + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  return t * exp(-z * z + poly);
}

fn gelu(v: f32) -> f32 {
  // #if ERF
  let r = erfc_pos(abs(v) * 0.70710678118654752);
  let phi = select(0.5 * r, 1.0 - 0.5 * r, v >= 0.0);
  return v * phi;
  // #else
  let u = 0.7978845608028654 * v * (1.0 + 0.044715 * v * v);
  let e = exp(-2.0 * abs(u));
  let s = select(e / (1.0 + e), 1.0 / (1.0 + e), u >= 0.0); // sigmoid(2u)
  return v * s;
  // #endif
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.stride;
  if (i >= p.n) { return; }
  y[i] = E(gelu(f32(x[i])));
}
