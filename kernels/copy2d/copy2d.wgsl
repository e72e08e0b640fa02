// Strided row copy: dst[dst_offset + r*dst_stride + c] = src[src_offset + r*src_stride + c] for r < rows, c < cols.
// KV-cache writes: new keys [T, D] (strided inside a fused qkv row) go to rows pos..pos+T of a cache [S, D].
alias E = f32; // @dtype

struct Params {
  rows: u32,
  cols: u32,
  src_stride: u32,
  dst_stride: u32,
  src_offset: u32,
  dst_offset: u32,
  // Threads per row of the 2-D grid (x workgroups × WG), for copies beyond 65535 workgroups.
  stride: u32,
  _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<E>;
@group(0) @binding(2) var<storage, read_write> dst: array<E>;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.stride;
  if (i >= p.rows * p.cols) { return; }
  let r = i / p.cols;
  let c = i - r * p.cols;
  dst[p.dst_offset + r * p.dst_stride + c] = src[p.src_offset + r * p.src_stride + c];
}
