// The gated MLP activation of Llama: y = silu(gate) · up, silu(g) = g · sigmoid(g), over n elements.
// gate and up may be read from rows of `cols` elements `stride` apart (e.g. both halves of a fused [T, 2·I] gate_up
// output, bound twice with different offsets); y is compact. Read-only bindings may share a buffer.
alias E = f32; // @dtype

struct Params {
  n: u32,
  cols: u32,
  stride: u32,
  gate_off: u32,
  up_off: u32,
  // Threads per row of the 2-D grid, for n beyond 65535 workgroups.
  grid_stride: u32,
  _p0: u32,
  _p1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> gate: array<E>;
@group(0) @binding(2) var<storage, read> up: array<E>;
@group(0) @binding(3) var<storage, read_write> y: array<E>;

override WG: u32 = 256;

// exp of −|g| only, so nothing overflows for large |g|.
fn sigmoid(g: f32) -> f32 {
  let e = exp(-abs(g));
  return select(e, 1.0, g >= 0.0) / (1.0 + e);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.grid_stride;
  if (i >= p.n) { return; }
  let row = i / p.cols;
  let j = row * p.stride + (i - row * p.cols);
  let g = f32(gate[p.gate_off + j]);
  y[i] = E(g * sigmoid(g) * f32(up[p.up_off + j]));
}
