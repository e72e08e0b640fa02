// Elementwise binary ops over n elements: out = a (op) b, with b broadcast when its length divides n
// (a bias row over a [rows, cols] tensor has length cols). Variants: ADD (default) | MUL.
alias E = f32; // @dtype

struct Params {
  n: u32,
  b_len: u32,
  // Threads per row of the 2-D grid (x workgroups × 256), for n beyond 65535 workgroups.
  stride: u32,
  _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<E>;
@group(0) @binding(2) var<storage, read> b: array<E>;
@group(0) @binding(3) var<storage, read_write> out: array<E>;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.stride;
  if (i >= p.n) { return; }
  let x = a[i];
  let y = b[i % p.b_len];
  // #if MUL
  out[i] = x * y;
  // #else
  out[i] = x + y;
  // #endif
}
