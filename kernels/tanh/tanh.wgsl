// Elementwise tanh (BERT's pooler), f32 arithmetic. Not the builtin: its accuracy is implementation-defined (some
// drivers use a fast hardware approximation good to ~1e-3, or exp formulas that overflow). Near zero a rational
// approximation (Eigen's, a few ulp); elsewhere 1 − 2/(e^{2|x|} + 1) with |x| clamped to 9, where tanh is 1 in f32.
alias E = f32; // @dtype

struct Params {
  n: u32,
  // Threads per row of the 2-D grid, for n beyond 65535 workgroups.
  grid_stride: u32,
  _p0: u32,
  _p1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<E>;
@group(0) @binding(2) var<storage, read_write> y: array<E>;

override WG: u32 = 256;

fn tanh_f32(v: f32) -> f32 {
  let a = min(abs(v), 9.0);
  var t: f32;
  if (a < 0.625) {
    let x2 = a * a;
    var num = -2.76076847742355e-16;
    num = num * x2 + 2.00018790482477e-13;
    num = num * x2 - 8.60467152213735e-11;
    num = num * x2 + 5.12229709037114e-08;
    num = num * x2 + 1.48572235717979e-05;
    num = num * x2 + 6.37261928875436e-04;
    num = num * x2 + 4.89352455891786e-03;
    var den = 1.19825839466702e-06;
    den = den * x2 + 1.18534705686654e-04;
    den = den * x2 + 2.26843463243900e-03;
    den = den * x2 + 4.89352518554385e-03;
    t = a * num / den;
  } else {
    t = 1.0 - 2.0 / (exp(2.0 * a) + 1.0);
  }
  return select(t, -t, v < 0.0);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.grid_stride;
  if (i >= p.n) { return; }
  y[i] = E(tanh_f32(f32(x[i])));
}
