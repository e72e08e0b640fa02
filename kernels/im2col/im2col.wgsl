// im2col: the rows of the GEMM a convolution becomes, y[M, Cout] = col[M, Kp] · Wᵀ with W as [Cout, Kp].
// col[m, k] for output pixel m = (n, oh, ow) and k = (r·kw + q)·C + c is x[n, oh·stride − pad + r, ow·stride − pad + q, c]:
// 0 outside the image, and 0 for k ≥ kh·kw·C up to the row length Kp (K rounded up so the GEMM's rows stay 16-byte
// aligned). x is NHWC, or with NCHW [N, C, H, W] (the network's input, read in place; a [Cout, Cin, kh, kw] weight
// is the NCHW "image" of Cout filters whose 1×1 output is the filter reordered to [kh, kw, Cin]).
// VEC (NHWC, C and Kp multiples of 16 bytes): a thread copies 16 bytes — 8 halves or 4 floats, whatever the dtype —
// so C, Kp and the indices below count 16-byte pieces; otherwise one element a thread. X_F32: x is f32 whatever the
// dtype (the network's f32 input gathered straight into f16 rows: the cast fused).
alias E = f32; // @dtype
// #if VEC
alias T = vec4<u32>;
// #else
alias T = E;
// #endif

struct Params {
  h: u32,
  w: u32,
  // Channels (pieces with VEC).
  c: u32,
  kw: u32,
  // kh·kw.
  taps: u32,
  stride: u32,
  pad: u32,
  hout: u32,
  wout: u32,
  // Row length of col (pieces with VEC).
  kp: u32,
  // M·kp.
  n: u32,
  // Threads per row of the 2-D grid, for outputs beyond 65535 workgroups.
  grid_stride: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// #if X_F32
@group(0) @binding(1) var<storage, read> x: array<f32>;
// #else
@group(0) @binding(1) var<storage, read> x: array<T>;
// #endif
@group(0) @binding(2) var<storage, read_write> col: array<T>;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.grid_stride;
  if (i >= p.n) { return; }
  let k = i % p.kp;
  let m = i / p.kp;
  let ow = m % p.wout;
  let oh = (m / p.wout) % p.hout;
  let img = m / (p.wout * p.hout);
  let tap = k / p.c;
  let ch = k % p.c;
  var v = T();
  if (tap < p.taps) {
    let ih = i32(oh * p.stride + tap / p.kw) - i32(p.pad);
    let iw = i32(ow * p.stride + tap % p.kw) - i32(p.pad);
    if (ih >= 0 && ih < i32(p.h) && iw >= 0 && iw < i32(p.w)) {
      // #if NCHW
      v = T(x[((img * p.c + ch) * p.h + u32(ih)) * p.w + u32(iw)]);
      // #else
      v = T(x[((img * p.h + u32(ih)) * p.w + u32(iw)) * p.c + ch]);
      // #endif
    }
  }
  col[i] = v;
}
