// #if SUBGROUPS
enable subgroups;
// #endif
// GEMV for decode, W as [N,K] (nn.Linear): y[m,n] = act(Σ_k x[m,k]·W[n,k] + b[n]) for m < MR ≤ MAX_M.
// Memory-bound: W is read once. T threads share one output row, walking K in vec4s (VEC4, when K and x's offset
// are multiples of 4; else scalars), four independent loads in flight per thread; the T partial sums are then reduced
// in workgroup memory, or with subgroupAdd in SUBGROUPS variants where the subgroup fits in a row.
// Every x row rides along with each W load, so W is read once for all MR rows. Arithmetic is f32.
// Variants: VEC4, SUBGROUPS, BIAS, activation defines of epilogue.wgsl; override MR (rows of x).
alias E = f32; // @dtype
// #if VEC4
alias V = vec4<f32>; // @dtype
// #else
alias V = f32; // @dtype
// #endif

struct Params {
  M: u32,
  N: u32,
  // K and x's row offset in units of V.
  kv: u32,
  x_off: u32,
  // In elements.
  y_off: u32,
  // Workgroups along x of a 2-D grid (N beyond 65535 workgroups).
  gx: u32,
  _p0: u32,
  _p1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<V>;
@group(0) @binding(2) var<storage, read> w: array<V>;
@group(0) @binding(3) var<storage, read_write> y: array<E>;
// #if BIAS
@group(0) @binding(4) var<storage, read> b: array<E>;
// #endif

override MR: u32 = 1u;
const MAX_M: u32 = 8u;
const WG: u32 = 256u;
// Threads per output row, and rows per workgroup.
const T: u32 = 32u;
const R: u32 = WG / T;

var<workgroup> red: array<f32, MAX_M * WG>;

fn dotv(a: V, c: V) -> f32 {
  // #if VEC4
  return dot(vec4<f32>(a), vec4<f32>(c));
  // #else
  return f32(a) * f32(c);
  // #endif
}

fn dot4(w0: V, w1: V, w2: V, w3: V, xo: u32) -> f32 {
  return (dotv(w0, x[xo]) + dotv(w1, x[xo + T])) + (dotv(w2, x[xo + 2u * T]) + dotv(w3, x[xo + 3u * T]));
}

fn store(m: u32, n: u32, s: f32) {
  var v = s;
  // #if BIAS
  v += f32(b[n]);
  // #endif
  y[p.y_off + m * p.N + n] = E(act(v));
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32,
// #if SUBGROUPS
        @builtin(subgroup_size) sg_size: u32, @builtin(subgroup_invocation_id) sg_lane: u32,
// #endif
) {
  let lane = li % T;
  let r = li / T;
  let n = (wid.x + wid.y * p.gx) * R + r;
  // Rows past N compute a duplicate of the last row (keeping control flow uniform) and store nothing.
  let wrow = min(n, p.N - 1u) * p.kv;
  let kv = p.kv;
  var acc: array<f32, MAX_M>;
  var k = lane;
  for (; k + 3u * T < kv; k += 4u * T) {
    let w0 = w[wrow + k];
    let w1 = w[wrow + k + T];
    let w2 = w[wrow + k + 2u * T];
    let w3 = w[wrow + k + 3u * T];
    for (var m = 0u; m < MR; m++) { acc[m] += dot4(w0, w1, w2, w3, p.x_off + m * kv + k); }
  }
  for (; k < kv; k += T) {
    let w0 = w[wrow + k];
    for (var m = 0u; m < MR; m++) { acc[m] += dotv(w0, x[p.x_off + m * kv + k]); }
  }

  // The T partial sums of each (x row, output) pair go to workgroup memory (with subgroups, one per subgroup);
  // then thread `lane` of a row adds up x row `lane`'s partials: one barrier, none in a loop.
  var parts = T;
  // #if SUBGROUPS
  if (sg_size <= T) {
    // Subgroups tile the workgroup in invocation order, so each lies within one row's T threads.
    parts = T / sg_size;
    for (var m = 0u; m < MR; m++) {
      let s = subgroupAdd(acc[m]);
      if (sg_lane == 0u) { red[m * WG + li / sg_size] = s; }
    }
  } else {
    for (var m = 0u; m < MR; m++) { red[m * WG + li] = acc[m]; }
  }
  // #else
  for (var m = 0u; m < MR; m++) { red[m * WG + li] = acc[m]; }
  // #endif
  workgroupBarrier();
  if (lane < MR && n < p.N) {
    let base = lane * WG + r * parts;
    var s = 0.0;
    for (var i = 0u; i < parts; i++) { s += red[base + i]; }
    store(lane, n, s);
  }
}
