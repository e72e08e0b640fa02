// Rotary position embedding, Hugging Face "rotate half" layout (Llama): within each head of headDim = 2·half values,
// (x1, x2) = (x[i], x[i + half]) for i < half turn by the angle pos·inv_freq[i]:
//   y[i] = x1·cos − x2·sin,  y[i + half] = x2·cos + x1·sin.
// Token t sits at absolute position pos0 + t. One thread per (token, head, i).
// The angle is the f32 product pos·inv_freq, as transformers computes it (inv_freq comes in the uniforms, computed on
// the CPU); it is then reduced to [−π, π] exactly enough (Cody–Waite, 2π in four parts) before sin/cos, since GPU
// sin/cos are only accurate near zero and angles reach thousands of radians at long positions.
alias E = f32; // @dtype

struct Params {
  tokens: u32,
  heads: u32,
  half_dim: u32,
  // Elements between consecutive tokens of x and y; element offsets of x's and y's first tokens in their bindings.
  x_stride: u32,
  x_off: u32,
  y_off: u32,
  y_stride: u32,
  pos0: u32,
  // tokens · heads · half_dim threads; threads per row of the 2-D grid.
  n: u32,
  grid_stride: u32,
  _p0: u32,
  _p1: u32,
  // inv_freq[i] = theta^(−2i/headDim) as f32, four to a vec4 (uniform arrays have a 16-byte stride).
  inv_freq: array<vec4<f32>, 64>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<E>;
@group(0) @binding(2) var<storage, read_write> y: array<E>;

// 2π = C1 + C2 + C3 + C4; C1..C3 have 8 significant bits, so k·C1..k·C3 are exact for |k| < 2^16 (angles < 4·10^5).
const C1: f32 = 6.28125;
const C2: f32 = 0.00193023681640625;
const C3: f32 = 0.000005066394805908203;
const C4: f32 = 3.968374073792802e-9;
const INV_2PI: f32 = 0.15915494309189535;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let g = gid.x + gid.y * p.grid_stride;
  if (g >= p.n) { return; }
  let i = g % p.half_dim;
  let th = g / p.half_dim;
  let h = th % p.heads;
  let t = th / p.heads;

  let angle = f32(p.pos0 + t) * p.inv_freq[i / 4u][i % 4u];
  let k = round(angle * INV_2PI);
  let r = (((angle - k * C1) - k * C2) - k * C3) - k * C4;
  let c = cos(r);
  let s = sin(r);

  let head = h * 2u * p.half_dim + i;
  let xi = p.x_off + t * p.x_stride + head;
  let x1 = f32(x[xi]);
  let x2 = f32(x[xi + p.half_dim]);
  let yi = p.y_off + t * p.y_stride + head;
  y[yi] = E(x1 * c - x2 * s);
  y[yi + p.half_dim] = E(x2 * c + x1 * s);
}
