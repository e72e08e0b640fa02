// 2-D convolution over NCHW as an implicit GEMM: y[m, co] = Σ_k A[m, k] · w[co, k] + b[co], where m runs over the
// N·Hout·Wout output pixels, k = (ci·kh + r)·kw + q over Cin·kh·kw, and A[m, k] is the input pixel under tap (r, q)
// (zero in the padding). w is PyTorch's [Cout, Cin, kh, kw], i.e. [Cout, K] row-major. BatchNorm is folded into w, b.
// Each workgroup of 16×16 threads computes a BM×BN tile (BM pixels × BN output channels), stepping through K by BK
// with both operand tiles staged in workgroup memory as f32; each thread accumulates 4×4 outputs, owning pixels
// tx + 16i and channels ty + 16j (strided, so that workgroup-memory reads are consecutive or broadcast and the NCHW
// stores, consecutive along pixels, coalesce). Storage is the variant's dtype; arithmetic is f32.
// Variants: RESIDUAL (adds r[N, Cout, Hout, Wout] before the activation), RELU.
alias E = f32; // @dtype

struct Params {
  n: u32,
  cin: u32,
  h: u32,
  w: u32,
  cout: u32,
  kh: u32,
  kw: u32,
  stride: u32,
  pad: u32,
  hout: u32,
  wout: u32,
  // n·hout·wout output pixels; cin·kh·kw taps; M tiles along x of the grid (z carries the rest beyond 65535).
  m: u32,
  k: u32,
  tiles_x: u32,
  _p0: u32,
  _p1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<E>;
@group(0) @binding(2) var<storage, read> w: array<E>;
@group(0) @binding(3) var<storage, read> b: array<E>;
@group(0) @binding(4) var<storage, read_write> y: array<E>;
// #if RESIDUAL
@group(0) @binding(5) var<storage, read> res: array<E>;
// #endif

const BM: u32 = 64u;
const BN: u32 = 64u;
const BK: u32 = 16u;
const THREADS: u32 = 256u;
// The weight tile is stored transposed (k-major) from loads that run along k: one word of padding per row spreads
// those stores over the banks.
const SB: u32 = BN + 1u;

var<workgroup> tile_a: array<f32, BK * BM>;
var<workgroup> tile_b: array<f32, BK * SB>;

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) t: u32) {
  let m0 = (wid.x + wid.z * p.tiles_x) * BM;
  let n0 = wid.y * BN;
  if (m0 >= p.m) { return; }
  let hw_out = p.hout * p.wout;
  let khw = p.kh * p.kw;

  // This thread always loads pixel m0 + am of the input tile (at taps ak + (THREADS / BM)·i), so its coordinates
  // are worked out once.
  let am = t % BM;
  let ak = t / BM;
  let gm = m0 + am;
  let m_ok = gm < p.m;
  let img = gm / hw_out;
  let pix = gm - img * hw_out;
  let oh = pix / p.wout;
  let ow = pix - oh * p.wout;
  let ih0 = i32(oh * p.stride) - i32(p.pad);
  let iw0 = i32(ow * p.stride) - i32(p.pad);
  let x_img = img * p.cin * p.h * p.w;
  // Weight loads: consecutive threads read consecutive taps of one output channel.
  let bk = t % BK;
  let bn = t / BK;

  // acc[j][i]: channel ty + 16j, pixel tx + 16i. vec4s rather than a scalar array: the same FMAs, and llvmpipe
  // (lavapipe, the CI device) compiles them several times faster.
  var acc: array<vec4<f32>, 4>;
  for (var k0 = 0u; k0 < p.k; k0 += BK) {
    for (var i = 0u; i < BK * BM / THREADS; i++) {
      let kl = ak + (THREADS / BM) * i;
      let gk = k0 + kl;
      var v = 0.0;
      if (m_ok && gk < p.k) {
        let ci = gk / khw;
        let rq = gk - ci * khw;
        let r = rq / p.kw;
        let ih = ih0 + i32(r);
        let iw = iw0 + i32(rq - r * p.kw);
        if (ih >= 0 && ih < i32(p.h) && iw >= 0 && iw < i32(p.w)) {
          v = f32(x[x_img + (ci * p.h + u32(ih)) * p.w + u32(iw)]);
        }
      }
      tile_a[kl * BM + am] = v;
    }
    for (var j = 0u; j < BK * BN / THREADS; j++) {
      let nl = bn + (THREADS / BK) * j;
      let gn = n0 + nl;
      let gk = k0 + bk;
      var v = 0.0;
      if (gn < p.cout && gk < p.k) { v = f32(w[gn * p.k + gk]); }
      tile_b[bk * SB + nl] = v;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
      let ar = kk * BM + lid.x;
      let a = vec4(tile_a[ar], tile_a[ar + 16u], tile_a[ar + 32u], tile_a[ar + 48u]);
      let br = kk * SB + lid.y;
      acc[0] += a * tile_b[br];
      acc[1] += a * tile_b[br + 16u];
      acc[2] += a * tile_b[br + 32u];
      acc[3] += a * tile_b[br + 48u];
    }
    workgroupBarrier();
  }

  for (var j = 0u; j < 4u; j++) {
    let co = n0 + lid.y + 16u * j;
    if (co >= p.cout) { break; }
    let bias = f32(b[co]);
    for (var i = 0u; i < 4u; i++) {
      let om = m0 + lid.x + 16u * i;
      if (om >= p.m) { break; }
      let oimg = om / hw_out;
      let idx = (oimg * p.cout + co) * hw_out + (om - oimg * hw_out);
      var v = acc[j][i] + bias;
      // #if RESIDUAL
      v += f32(res[idx]);
      // #endif
      // #if RELU
      v = max(v, 0.0);
      // #endif
      y[idx] = E(v);
    }
  }
}
