// 2-D max pooling over NCHW, or NHWC with NHWC (ResNet's stem: 3×3, stride 2, padding 1). One thread per output
// element (with NHWC neighbouring threads take neighbouring channels); padding counts as −∞, i.e. only in-bounds
// inputs compete (PyTorch's padding ≤ k/2 leaves every window one).
alias E = f32; // @dtype

struct Params {
  // N·C planes of H×W in, Hout×Wout out.
  planes: u32,
  h: u32,
  w: u32,
  hout: u32,
  wout: u32,
  k: u32,
  stride: u32,
  pad: u32,
  n: u32,
  // Threads per row of the 2-D grid, for outputs beyond 65535 workgroups.
  grid_stride: u32,
  // Channels (NHWC only).
  c: u32,
  _p1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<E>;
@group(0) @binding(2) var<storage, read_write> y: array<E>;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.grid_stride;
  if (i >= p.n) { return; }
  // #if NHWC
  // Output [N, Hout, Wout, C]: pixel (img, oh, ow), channel ch; the input's values of a channel are C apart.
  let pix = i / p.c;
  let ow = pix % p.wout;
  let oh = (pix / p.wout) % p.hout;
  let base = (pix / (p.wout * p.hout)) * p.h * p.w * p.c + i % p.c;
  let step = p.c;
  // #else
  let ow = i % p.wout;
  let oh = (i / p.wout) % p.hout;
  let base = (i / (p.wout * p.hout)) * p.h * p.w;
  let step = 1u;
  // #endif
  let h0 = i32(oh * p.stride) - i32(p.pad);
  let w0 = i32(ow * p.stride) - i32(p.pad);
  // Clip the window to the input once, rather than test each tap.
  let hs = u32(max(h0, 0));
  let he = u32(min(h0 + i32(p.k), i32(p.h)));
  let ws = u32(max(w0, 0));
  let we = u32(min(w0 + i32(p.k), i32(p.w)));
  var m = -3.4028234663852886e38;
  for (var r = hs; r < he; r++) {
    for (var c = ws; c < we; c++) {
      m = max(m, f32(x[base + (r * p.w + c) * step]));
    }
  }
  y[i] = E(m);
}
