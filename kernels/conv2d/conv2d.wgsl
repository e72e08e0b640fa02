// 2-D convolution over NCHW as an implicit GEMM: y[m, co] = Σ_k A[m, k] · w[co, k] + b[co], where m runs over the
// N·Hout·Wout output pixels, k = (ci·kh + r)·kw + q over Cin·kh·kw, and A[m, k] is the input pixel under tap (r, q)
// (zero in the padding). w is PyTorch's [Cout, Cin, kh, kw], i.e. [Cout, K] row-major. BatchNorm is folded into w, b.
// Each workgroup of 16×16 threads computes a BM×BN tile (BM pixels × BN output channels), stepping through K by BK
// with both operand tiles staged in workgroup memory as f32; each thread accumulates 4×4 outputs, owning pixels
// tx + 16i and channels ty + 16j (strided, so that workgroup-memory reads are consecutive or broadcast and the NCHW
// stores, consecutive along pixels, coalesce). Storage is the variant's dtype; arithmetic is f32.
// Variants: RESIDUAL (adds r[N, Cout, Hout, Wout] before the activation), RELU; SPLIT_K: workgroup z takes one chunk
// of K and stores its raw f32 partial sums, in y's layout, into part[z] (conv2d_splitk.wgsl adds them up in order and
// applies bias, residual and ReLU) — for small outputs with deep K, which would otherwise leave most of the GPU idle.
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
  // n·hout·wout output pixels; cin·kh·kw taps.
  m: u32,
  k: u32,
  // M tiles along x of the grid; without SPLIT_K, z carries the rest beyond 65535.
  tiles_x: u32,
  // SPLIT_K: taps per chunk (a multiple of BK).
  k_chunk: u32,
  _p0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<E>;
@group(0) @binding(2) var<storage, read> w: array<E>;
// #if SPLIT_K
@group(0) @binding(3) var<storage, read_write> part: array<f32>;
// #else
@group(0) @binding(3) var<storage, read> b: array<E>;
@group(0) @binding(4) var<storage, read_write> y: array<E>;
// #if RESIDUAL
@group(0) @binding(5) var<storage, read> res: array<E>;
// #endif
// #endif

// Fixed: the loads below assume 256 threads, BM = BN = 64 and BK = 16.
const BM: u32 = 64u;
const BN: u32 = 64u;
const BK: u32 = 16u;
// The weight tile is stored transposed (k-major) from loads that run along k: one word of padding per row spreads
// those stores over the banks.
const SB: u32 = BN + 1u;

var<workgroup> tile_a: array<f32, BK * BM>;
var<workgroup> tile_b: array<f32, BK * SB>;

// Where this thread's input loads come from: one output pixel, fixed for the whole K loop.
struct Pixel {
  ok: bool,
  ih0: i32,
  iw0: i32,
  x_img: u32,
}

// A[m, gk]: the input under tap gk of the pixel (0 in the padding or from k_end on).
fn load_a(px: Pixel, gk: u32, k_end: u32) -> f32 {
  if (!px.ok || gk >= k_end) { return 0.0; }
  let khw = p.kh * p.kw;
  let ci = gk / khw;
  let rq = gk - ci * khw;
  let r = rq / p.kw;
  let ih = px.ih0 + i32(r);
  let iw = px.iw0 + i32(rq - r * p.kw);
  if (ih < 0 || ih >= i32(p.h) || iw < 0 || iw >= i32(p.w)) { return 0.0; }
  return f32(x[px.x_img + (ci * p.h + u32(ih)) * p.w + u32(iw)]);
}

fn load_w(co: u32, gk: u32, k_end: u32) -> f32 {
  if (co >= p.cout || gk >= k_end) { return 0.0; }
  return f32(w[co * p.k + gk]);
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) t: u32) {
  // #if SPLIT_K
  let m0 = wid.x * BM;
  let k_begin = wid.z * p.k_chunk;
  let k_end = min(k_begin + p.k_chunk, p.k);
  // #else
  let m0 = (wid.x + wid.z * p.tiles_x) * BM;
  let k_begin = 0u;
  let k_end = p.k;
  // #endif
  let n0 = wid.y * BN;
  if (m0 >= p.m) { return; }
  let hw_out = p.hout * p.wout;

  // Input-tile loads: this thread fetches pixel m0 + am at taps ak + 4i of each K step.
  let am = t % BM;
  let ak = t / BM;
  let gm = m0 + am;
  let img = gm / hw_out;
  let pix = gm - img * hw_out;
  let oh = pix / p.wout;
  let ow = pix - oh * p.wout;
  let px = Pixel(gm < p.m, i32(oh * p.stride) - i32(p.pad), i32(ow * p.stride) - i32(p.pad), img * p.cin * p.h * p.w);
  // Weight-tile loads: consecutive threads read consecutive taps of output channels bn + 16j.
  let bk = t % BK;
  let bn = n0 + t / BK;

  // The next K step's operands are fetched into registers while the current one is multiplied, so that global
  // memory latency overlaps the arithmetic.
  var ka = k_begin + ak;
  var kb = k_begin + bk;
  var ra = vec4(load_a(px, ka, k_end), load_a(px, ka + 4u, k_end), load_a(px, ka + 8u, k_end), load_a(px, ka + 12u, k_end));
  var rb = vec4(load_w(bn, kb, k_end), load_w(bn + 16u, kb, k_end), load_w(bn + 32u, kb, k_end), load_w(bn + 48u, kb, k_end));
  // acc[j][i]: channel ty + 16j, pixel tx + 16i. vec4s rather than a scalar array: the same FMAs, and llvmpipe
  // (lavapipe, the CI device) compiles them several times faster.
  var acc: array<vec4<f32>, 4>;
  for (var k0 = k_begin; k0 < k_end; k0 += BK) {
    tile_a[ak * BM + am] = ra.x;
    tile_a[(ak + 4u) * BM + am] = ra.y;
    tile_a[(ak + 8u) * BM + am] = ra.z;
    tile_a[(ak + 12u) * BM + am] = ra.w;
    let sb = bk * SB + t / BK;
    tile_b[sb] = rb.x;
    tile_b[sb + 16u] = rb.y;
    tile_b[sb + 32u] = rb.z;
    tile_b[sb + 48u] = rb.w;
    workgroupBarrier();
    if (k0 + BK < k_end) {
      ka += BK;
      kb += BK;
      ra = vec4(load_a(px, ka, k_end), load_a(px, ka + 4u, k_end), load_a(px, ka + 8u, k_end), load_a(px, ka + 12u, k_end));
      rb = vec4(load_w(bn, kb, k_end), load_w(bn + 16u, kb, k_end), load_w(bn + 32u, kb, k_end), load_w(bn + 48u, kb, k_end));
    }
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
    // #if !SPLIT_K
    let bias = f32(b[co]);
    // #endif
    for (var i = 0u; i < 4u; i++) {
      let om = m0 + lid.x + 16u * i;
      if (om >= p.m) { break; }
      let oimg = om / hw_out;
      let idx = (oimg * p.cout + co) * hw_out + (om - oimg * hw_out);
      // #if SPLIT_K
      part[wid.z * p.m * p.cout + idx] = acc[j][i];
      // #else
      var v = acc[j][i] + bias;
      // #if RESIDUAL
      v += f32(res[idx]);
      // #endif
      // #if RELU
      v = max(v, 0.0);
      // #endif
      y[idx] = E(v);
      // #endif
    }
  }
}
