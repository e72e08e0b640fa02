// Memory-bandwidth probe: every invocation reads its share of `src` (vec4 words, grid-stride, four loads in flight)
// and sums it; the sum is stored only if it equals a value it never takes, so no load can be optimised away and
// nearly nothing is written. Bytes moved = bytes of `src`.
struct Params {
  n: u32,
  // Invocations in the grid (the grid stride).
  threads: u32,
  never: f32,
  _p0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> sink: array<vec4<f32>>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let s = p.threads;
  var a = vec4<f32>(0.0);
  var b = vec4<f32>(0.0);
  var i = gid.x;
  for (; i + 3u * s < p.n; i += 4u * s) {
    a += src[i] + src[i + s];
    b += src[i + 2u * s] + src[i + 3u * s];
  }
  for (; i < p.n; i += s) { a += src[i]; }
  let t = a + b;
  if (t.x == p.never) { sink[0] = t; }
}
