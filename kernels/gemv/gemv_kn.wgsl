// GEMV for decode, W as [K,N] (GPT-2's Conv1D): y[m,n] = act(Σ_k x[m,k]·W[k,n] + b[n]) for m < MR ≤ MAX_M.
// Memory-bound: W is read once, in coalesced rows. A workgroup owns CT column-threads (each one V: a vec4 of columns
// with VEC4, else one column) × KS k-slices; the grid's y splits K into chunks so that narrow matrices still fill
// the GPU. The KS slices are summed in workgroup memory; with one chunk (no SPLIT) the workgroup applies bias and
// activation and stores y, with SPLIT it stores f32 partials [chunk, M, N] for gemv_splitk to sum.
// Variants: VEC4 (N and y's offset multiples of 4), SPLIT, BIAS, activation defines; override MR (rows of x).
alias E = f32; // @dtype
// #if VEC4
alias V = vec4<f32>; // @dtype
alias A = vec4<f32>;
// #else
alias V = f32; // @dtype
alias A = f32;
// #endif

struct Params {
  M: u32,
  // N and y's offset in units of V.
  nv: u32,
  K: u32,
  // In elements.
  x_off: u32,
  y_off: u32,
  // Rows of W per workgroup along the grid's y.
  k_chunk: u32,
  _p0: u32,
  _p1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<E>;
@group(0) @binding(2) var<storage, read> w: array<V>;
// #if SPLIT
@group(0) @binding(3) var<storage, read_write> part: array<A>;
// #else
@group(0) @binding(3) var<storage, read_write> y: array<V>;
// #if BIAS
@group(0) @binding(4) var<storage, read> b: array<V>;
// #endif
// #endif

override MR: u32 = 1u;
const MAX_M: u32 = 8u;
const WG: u32 = 256u;
const CT: u32 = 64u;
const KS: u32 = WG / CT;

var<workgroup> red: array<A, WG>;

fn actv(v: A) -> A {
  // #if VEC4
  return A(act(v.x), act(v.y), act(v.z), act(v.w));
  // #else
  return act(v);
  // #endif
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let c = li % CT;
  let s = li / CT;
  let nv = wid.x * CT + c;
  let N = p.nv;
  // Columns past N read a duplicate of the last one and store nothing.
  let col = min(nv, N - 1u);
  let k_begin = wid.y * p.k_chunk;
  let k_end = min(k_begin + p.k_chunk, p.K);
  var acc: array<A, MAX_M>;
  var k = k_begin + s;
  for (; k + 3u * KS < k_end; k += 4u * KS) {
    let w0 = A(w[k * N + col]);
    let w1 = A(w[(k + KS) * N + col]);
    let w2 = A(w[(k + 2u * KS) * N + col]);
    let w3 = A(w[(k + 3u * KS) * N + col]);
    for (var m = 0u; m < MR; m++) {
      let xo = p.x_off + m * p.K + k;
      acc[m] += (w0 * f32(x[xo]) + w1 * f32(x[xo + KS])) + (w2 * f32(x[xo + 2u * KS]) + w3 * f32(x[xo + 3u * KS]));
    }
  }
  for (; k < k_end; k += KS) {
    let w0 = A(w[k * N + col]);
    for (var m = 0u; m < MR; m++) { acc[m] += w0 * f32(x[p.x_off + m * p.K + k]); }
  }

  for (var m = 0u; m < MR; m++) {
    red[li] = acc[m];
    workgroupBarrier();
    if (s == 0u && nv < N) {
      var t = red[c];
      for (var i = 1u; i < KS; i++) { t += red[i * CT + c]; }
      // #if SPLIT
      part[(wid.y * MR + m) * N + nv] = t;
      // #else
      // #if BIAS
      t += A(b[nv]);
      // #endif
      y[p.y_off + m * N + nv] = V(actv(t));
      // #endif
    }
    workgroupBarrier();
  }
}
