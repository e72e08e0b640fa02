// GEMV for decode, W as [K,N] (GPT-2's Conv1D): y[m,n] = act(Σ_k x[m,k]·W[k,n] + b[n]) for m < MR ≤ MAX_M.
// Memory-bound: W is read once, in coalesced rows. A workgroup owns CT column-threads × KS k-slices; each thread
// reads one V of columns per row (16 bytes where N allows: VEC4 = 4 floats, PACKED = 8 halves as vec4<u32>; else one
// column), U rows in flight. The grid's y splits K into chunks so that narrow matrices still fill the GPU. The KS
// slices are summed in workgroup memory; with one chunk (no SPLIT) the workgroup applies bias and activation and
// stores y, with SPLIT it stores f32 partials [chunk, M, N] for gemv_splitk to sum. Arithmetic is f32 (A).
// Variants: VEC4 | PACKED (f16, N and y's (and the residual's) offsets multiples of 4 | 8), SPLIT, BIAS, activation
// defines, RESIDUAL (y = act(…) + residual); overrides MR (rows of x), CT (column-threads).
alias E = f32; // @dtype
// #if PACKED
alias V = vec4<u32>;
alias A = mat2x4<f32>;
// #else
// #if VEC4
alias V = vec4<f32>; // @dtype
alias A = vec4<f32>;
// #else
alias V = f32; // @dtype
alias A = f32;
// #endif
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
  // The residual's row offset, in units of V.
  r_off: u32,
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
// #if RESIDUAL
// #if BIAS
@group(0) @binding(5) var<storage, read> res: array<V>;
// #else
@group(0) @binding(4) var<storage, read> res: array<V>;
// #endif
// #endif
// #endif

override MR: u32 = 1u;
const MAX_M: u32 = 8u;
// Rows of W in flight per thread.
const U: u32 = 8u;
const WG: u32 = 256u;
// Column-threads (each one V of columns) and k-slices per workgroup: CT × KS = WG.
override CT: u32 = 64u;
override KS: u32 = WG / CT;

var<workgroup> red: array<A, WG>;

// #if PACKED
fn h2(v: u32) -> vec2<f32> {
  return vec2<f32>(bitcast<vec2<f16>>(v));
}

fn p2(v: vec2<f32>) -> u32 {
  return bitcast<u32>(vec2<f16>(v));
}
// #endif

fn widen(v: V) -> A {
  // #if PACKED
  return A(vec4<f32>(h2(v.x), h2(v.y)), vec4<f32>(h2(v.z), h2(v.w)));
  // #else
  return A(v);
  // #endif
}

fn narrow(v: A) -> V {
  // #if PACKED
  return V(p2(v[0].xy), p2(v[0].zw), p2(v[1].xy), p2(v[1].zw));
  // #else
  return V(v);
  // #endif
}

fn actv(v: A) -> A {
  // #if PACKED
  return A(vec4<f32>(act(v[0].x), act(v[0].y), act(v[0].z), act(v[0].w)),
           vec4<f32>(act(v[1].x), act(v[1].y), act(v[1].z), act(v[1].w)));
  // #else
  // #if VEC4
  return A(act(v.x), act(v.y), act(v.z), act(v.w));
  // #else
  return act(v);
  // #endif
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
  for (; k + (U - 1u) * KS < k_end; k += U * KS) {
    var wu: array<A, U>;
    for (var u = 0u; u < U; u++) { wu[u] = widen(w[(k + u * KS) * N + col]); }
    for (var m = 0u; m < MR; m++) {
      let xo = p.x_off + m * p.K + k;
      var t = A();
      for (var u = 0u; u < U; u++) { t += wu[u] * f32(x[xo + u * KS]); }
      acc[m] += t;
    }
  }
  for (; k < k_end; k += KS) {
    let w0 = widen(w[k * N + col]);
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
      t += widen(b[nv]);
      // #endif
      t = actv(t);
      // #if RESIDUAL
      t += widen(res[p.r_off + m * N + nv]);
      // #endif
      y[p.y_off + m * N + nv] = narrow(t);
      // #endif
    }
    workgroupBarrier();
  }
}
