// Rotary position embedding, Hugging Face "rotate half" layout (Llama): within each head of headDim = 2·half values,
// (x1, x2) = (x[i], x[i + half]) for i < half turn by the angle pos·inv_freq[i]:
//   y[i] = x1·cos − x2·sin,  y[i + half] = x2·cos + x1·sin.
// Token t sits at absolute position pos0 + t. One thread per (token, head, i).
// The angle is the f32 product pos·inv_freq, as transformers computes it (inv_freq comes in the uniforms, computed on
// the CPU); it is then reduced to [−π, π] exactly enough (Cody–Waite, 2π in four parts) before sin/cos, since GPU
// sin/cos are only accurate near zero and angles reach thousands of radians at long positions.
// Variant QKV: x rows are a fused projection [q: heads | k: kv_heads | v: kv_heads] × headDim; q is rotated into y, k
// rotated into yk and v copied into yv (k and v straight into the KV cache), one thread per pair of every head.
// Variant VEC (f16, see the bindings): one thread per eight pairs, 16 bytes a load and store instead of 2.
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
  // tokens · heads · half_dim threads (QKV: tokens · (heads + 2·kv_heads) · half_dim); threads per row of the 2-D grid.
  n: u32,
  grid_stride: u32,
  // QKV only: k and v heads, and where k and v go (element offsets of token 0, elements between tokens).
  kv_heads: u32,
  _p0: u32,
  k_off: u32,
  k_stride: u32,
  v_off: u32,
  v_stride: u32,
  // inv_freq[i] = theta^(−2i/headDim) as f32, four to a vec4 (uniform arrays have a 16-byte stride).
  inv_freq: array<vec4<f32>, 64>,
}

@group(0) @binding(0) var<uniform> p: Params;
// #if VEC
// f16, half_dim a multiple of 8, every offset and stride a multiple of 8 (bindings 16-byte aligned): one thread per
// eight pairs of a head, 16-byte loads and stores of eight halves.
@group(0) @binding(1) var<storage, read> x: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read_write> y: array<vec4<u32>>;
// #if QKV
@group(0) @binding(3) var<storage, read_write> yk: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read_write> yv: array<vec4<u32>>;
// #endif
// #else
@group(0) @binding(1) var<storage, read> x: array<E>;
@group(0) @binding(2) var<storage, read_write> y: array<E>;
// #if QKV
// May share a buffer (a session's KV arena): both are written, never read.
@group(0) @binding(3) var<storage, read_write> yk: array<E>;
@group(0) @binding(4) var<storage, read_write> yv: array<E>;
// #endif
// #endif

// 2π = C1 + C2 + C3 + C4; C1..C3 have 8 significant bits, so k·C1..k·C3 are exact for |k| < 2^16 (angles < 4·10^5).
const C1: f32 = 6.28125;
const C2: f32 = 0.00193023681640625;
const C3: f32 = 0.000005066394805908203;
const C4: f32 = 3.968374073792802e-9;
const INV_2PI: f32 = 0.15915494309189535;

override WG: u32 = 256;

// #if VEC
// Four pairs (x1, x2) turned by the angles pos · f, reduced as in the scalar path: (x1·cos − x2·sin, x2·cos + x1·sin).
struct Turned { r1: vec4<f32>, r2: vec4<f32> }
fn turn4(x1: vec4<f32>, x2: vec4<f32>, f: vec4<f32>, pos: f32) -> Turned {
  let angle = pos * f;
  let k = round(angle * INV_2PI);
  let r = (((angle - k * C1) - k * C2) - k * C3) - k * C4;
  let c = cos(r);
  let s = sin(r);
  return Turned(x1 * c - x2 * s, x2 * c + x1 * s);
}

fn halves(a: u32, b: u32) -> vec4<f32> { return vec4<f32>(unpack2x16float(a), unpack2x16float(b)); }
fn piece(lo: vec4<f32>, hi: vec4<f32>) -> vec4<u32> {
  return vec4<u32>(pack2x16float(lo.xy), pack2x16float(lo.zw), pack2x16float(hi.xy), pack2x16float(hi.zw));
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  // n counts groups of eight pairs here.
  let g = gid.x + gid.y * p.grid_stride;
  if (g >= p.n) { return; }
  let pieces = p.half_dim / 8u;
  let j = g % pieces;
  let th = g / pieces;
  // #if QKV
  let hs = p.heads + 2u * p.kv_heads;
  // #else
  let hs = p.heads;
  // #endif
  let h = th % hs;
  let t = th / hs;
  let head_dim = 2u * p.half_dim;
  let i = j * 8u;
  let xi = (p.x_off + t * p.x_stride + h * head_dim + i) / 8u;
  let a = x[xi];
  let b = x[xi + pieces];
  // #if QKV
  if (h >= p.heads + p.kv_heads) {
    let vi = (p.v_off + t * p.v_stride + (h - p.heads - p.kv_heads) * head_dim + i) / 8u;
    yv[vi] = a;
    yv[vi + pieces] = b;
    return;
  }
  // #endif
  let pos = f32(p.pos0 + t);
  let lo = turn4(halves(a.x, a.y), halves(b.x, b.y), p.inv_freq[i / 4u], pos);
  let hi = turn4(halves(a.z, a.w), halves(b.z, b.w), p.inv_freq[i / 4u + 1u], pos);
  let r1 = piece(lo.r1, hi.r1);
  let r2 = piece(lo.r2, hi.r2);
  // #if QKV
  if (h >= p.heads) {
    let ki = (p.k_off + t * p.k_stride + (h - p.heads) * head_dim + i) / 8u;
    yk[ki] = r1;
    yk[ki + pieces] = r2;
    return;
  }
  // #endif
  let yi = (p.y_off + t * p.y_stride + h * head_dim + i) / 8u;
  y[yi] = r1;
  y[yi + pieces] = r2;
}
// #else
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let g = gid.x + gid.y * p.grid_stride;
  if (g >= p.n) { return; }
  let i = g % p.half_dim;
  let th = g / p.half_dim;
  // #if QKV
  let hs = p.heads + 2u * p.kv_heads;
  // #else
  let hs = p.heads;
  // #endif
  let h = th % hs;
  let t = th / hs;
  let head_dim = 2u * p.half_dim;
  let xi = p.x_off + t * p.x_stride + h * head_dim + i;
  // #if QKV
  if (h >= p.heads + p.kv_heads) {
    let vi = p.v_off + t * p.v_stride + (h - p.heads - p.kv_heads) * head_dim + i;
    yv[vi] = x[xi];
    yv[vi + p.half_dim] = x[xi + p.half_dim];
    return;
  }
  // #endif

  let angle = f32(p.pos0 + t) * p.inv_freq[i / 4u][i % 4u];
  let k = round(angle * INV_2PI);
  let r = (((angle - k * C1) - k * C2) - k * C3) - k * C4;
  let c = cos(r);
  let s = sin(r);

  let x1 = f32(x[xi]);
  let x2 = f32(x[xi + p.half_dim]);
  let r1 = E(x1 * c - x2 * s);
  let r2 = E(x2 * c + x1 * s);
  // #if QKV
  if (h >= p.heads) {
    let ki = p.k_off + t * p.k_stride + (h - p.heads) * head_dim + i;
    yk[ki] = r1;
    yk[ki + p.half_dim] = r2;
    return;
  }
  // #endif
  let yi = p.y_off + t * p.y_stride + h * head_dim + i;
  y[yi] = r1;
  y[yi + p.half_dim] = r2;
}
// #endif
