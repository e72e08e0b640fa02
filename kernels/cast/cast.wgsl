// f32 <-> f16 conversion over n elements. Always compiled with dtype f16 (for `enable f16;`); TO_F32 flips the
// direction: default f32 storage in, f16 storage out.
// #if TO_F32
alias In = f16;
alias Out = f32;
// #else
alias In = f32;
alias Out = f16;
// #endif

struct Params {
  n: u32,
  // Threads per row of the 2-D grid (x workgroups × WG), for n beyond 65535 workgroups.
  stride: u32,
  _pad0: u32,
  _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<In>;
@group(0) @binding(2) var<storage, read_write> y: array<Out>;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.stride;
  if (i >= p.n) { return; }
  y[i] = Out(x[i]);
}
