// Seeded uniform fill: y[offset + i] = center + 2·scale·(u_i − 0.5), u_i from mulberry32's counter form
// (state_i = seed + (i+1)·0x6d2b79f5), so every element is independent and the CPU can reproduce any of them.
// Synthetic weights are written here instead of being uploaded: a 7B model fills in milliseconds.

struct Params {
  n: u32,
  seed: u32,
  center: f32,
  scale: f32,
  // Element offset of the first value written (a part of a fused tensor).
  offset: u32,
  // Threads per row of the 2-D grid (x workgroups × WG), for n beyond 65535 workgroups.
  stride: u32,
  _pad0: u32,
  _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> y: array<f32>; // @dtype

override WG: u32 = 256;

fn mulberry(i: u32) -> f32 {
  var t = p.seed + (i + 1u) * 0x6d2b79f5u;
  t = (t ^ (t >> 15u)) * (t | 1u);
  t = t ^ (t + (t ^ (t >> 7u)) * (t | 61u));
  return f32(t ^ (t >> 14u)) * (1.0 / 4294967296.0);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.stride;
  if (i >= p.n) { return; }
  let v = p.center + 2.0 * p.scale * (mulberry(i) - 0.5);
  y[p.offset + i] = f32(v); // @dtype
}
