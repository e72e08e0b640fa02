// #if SUBGROUPS
enable subgroups;
// #endif
// GEMV for decode, W as [N,K] (nn.Linear): y[m,n] = act(Σ_k x[m,k]·W[n,k] + b[n]) for m < MR ≤ MAX_M.
// Memory-bound: W is read once. T threads share one output row, walking K in 16-byte words where K and x's offset
// allow (VEC4: vec4<f32>; PACKED: f16 as vec4<u32>, eight halves) or else scalars, U loads in flight per thread; the T partial sums are then reduced
// in workgroup memory, or with subgroupAdd in SUBGROUPS variants where the subgroup fits in a row.
// Every x row rides along with each W load, so W is read once for all MR rows. Arithmetic is f32.
// Variants: VEC4 | PACKED (f16 only), SUBGROUPS, BIAS, activation defines of epilogue.wgsl, RESIDUAL (y = act(…) +
// residual, the transformer's skip connection fused), SWIGLU (W holds gate and up rows: [gate; up], or with
// GLU_BLOCKS blocks of 16 gate rows each followed by the same 16 outputs' up rows; y[m,n] = silu(gate_n·x_m) ·
// (up_n·x_m): half of a workgroup's rows reduce gate rows, the other half the matching up rows),
// RMSNORM (Llama's RMSNorm fused: y = rstd_m · Σ_k W[n,k]·x[m,k]·g[k] — the row's threads sum the squares of the x
// elements they read anyway beside the dot product, and the reduced sum gives rstd_m at the end, so the norm costs no
// extra pass or barrier; g, the norm weight of K elements, is bound last and eps rides in the uniforms. Unlike the
// separate rmsnorm kernel, the normalized x is not rounded to E before the dot product); override MR (rows of x).
alias E = f32; // @dtype
// #if PACKED
// f16 data read as vec4<u32>: eight halves per 16-byte load.
alias V = vec4<u32>;
// Elements per V.
const VW: u32 = 8u;
// #else
// #if VEC4
alias V = vec4<f32>; // @dtype
const VW: u32 = 4u;
// #else
alias V = f32; // @dtype
const VW: u32 = 1u;
// #endif
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
  // The residual's row offset, in elements.
  r_off: u32,
  // RMSNORM's epsilon (unused otherwise).
  eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<V>;
@group(0) @binding(2) var<storage, read> w: array<V>;
@group(0) @binding(3) var<storage, read_write> y: array<E>;
// #if BIAS
@group(0) @binding(4) var<storage, read> b: array<E>;
// #endif
// The residual follows y and the bias, whichever are bound.
// #if RESIDUAL
// #if BIAS
@group(0) @binding(5) var<storage, read> res: array<E>;
// #else
@group(0) @binding(4) var<storage, read> res: array<E>;
// #endif
// #endif
// RMSNORM's weight g comes last: after y, the bias and the residual, whichever are bound.
// #if RMSNORM
// #if BIAS
// #if RESIDUAL
@group(0) @binding(6) var<storage, read> g: array<V>;
// #else
@group(0) @binding(5) var<storage, read> g: array<V>;
// #endif
// #else
// #if RESIDUAL
@group(0) @binding(5) var<storage, read> g: array<V>;
// #else
@group(0) @binding(4) var<storage, read> g: array<V>;
// #endif
// #endif
// #endif

override MR: u32 = 1u;
const MAX_M: u32 = 8u;
// Loads of W in flight per thread.
const U: u32 = 4u;
const WG: u32 = 256u;
// Threads per output row (a power of two ≤ WG), and rows per workgroup.
override T: u32 = 32u;

var<workgroup> red: array<f32, MAX_M * WG>;
// #if RMSNORM
// The partial sums of squares of x, laid out as red.
var<workgroup> red_sq: array<f32, MAX_M * WG>;
// #endif

// #if PACKED
fn h2(v: u32) -> vec2<f32> {
  return vec2<f32>(bitcast<vec2<f16>>(v));
}
// #endif

fn dotv(a: V, c: V) -> f32 {
  // #if PACKED
  return (dot(h2(a.x), h2(c.x)) + dot(h2(a.y), h2(c.y))) + (dot(h2(a.z), h2(c.z)) + dot(h2(a.w), h2(c.w)));
  // #else
  // #if VEC4
  return dot(vec4<f32>(a), vec4<f32>(c));
  // #else
  return f32(a) * f32(c);
  // #endif
  // #endif
}

// #if RMSNORM
// The squares of x's elements in a, summed in f32.
fn sumsq(a: V) -> f32 {
  // #if PACKED
  let lo = vec4<f32>(h2(a.x), h2(a.y));
  let hi = vec4<f32>(h2(a.z), h2(a.w));
  return dot(lo, lo) + dot(hi, hi);
  // #else
  // #if VEC4
  let v = vec4<f32>(a);
  return dot(v, v);
  // #else
  return f32(a) * f32(a);
  // #endif
  // #endif
}

// dotv(a, x·g): the norm weight applied elementwise in f32 (rstd comes after the sum).
fn dotg(a: V, xv: V, gv: V) -> f32 {
  // #if PACKED
  return (dot(h2(a.x), h2(xv.x) * h2(gv.x)) + dot(h2(a.y), h2(xv.y) * h2(gv.y))) + (dot(h2(a.z), h2(xv.z) * h2(gv.z)) + dot(h2(a.w), h2(xv.w) * h2(gv.w)));
  // #else
  // #if VEC4
  return dot(vec4<f32>(a), vec4<f32>(xv) * vec4<f32>(gv));
  // #else
  return f32(a) * f32(xv) * f32(gv);
  // #endif
  // #endif
}
// #endif

fn finish(m: u32, n: u32, a: f32) {
  var v = a;
  // #if RESIDUAL
  v += f32(res[p.r_off + m * p.N + n]);
  // #endif
  y[p.y_off + m * p.N + n] = E(v);
}

// #if SWIGLU
// The W row (and bias element) of output n's gate: W is [gate; up] (N rows each), or with GLU_BLOCKS blocks of 16 gate
// rows, each followed by the same outputs' 16 up rows (what the GEMMs' swiglu epilogues read).
fn gate_row(n: u32) -> u32 {
  // #if GLU_BLOCKS
  return (n / 16u) * 32u + n % 16u;
  // #else
  return n;
  // #endif
}

// The distance from a gate row to its up row.
fn up_delta() -> u32 {
  // #if GLU_BLOCKS
  return 16u;
  // #else
  return p.N;
  // #endif
}

fn store_glu(m: u32, n: u32, gate: f32, up: f32) {
  var g = gate;
  var u = up;
  // #if BIAS
  g += f32(b[gate_row(n)]);
  u += f32(b[gate_row(n) + up_delta()]);
  // #endif
  finish(m, n, silu(g) * u);
}
// #else
fn store(m: u32, n: u32, s: f32) {
  var v = s;
  // #if BIAS
  v += f32(b[n]);
  // #endif
  finish(m, n, act(v));
}
// #endif

// The sum of row slot r's partials for x row m.
fn row_sum(m: u32, r: u32, parts: u32) -> f32 {
  let base = m * WG + r * parts;
  var s = 0.0;
  for (var i = 0u; i < parts; i++) { s += red[base + i]; }
  return s;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32,
// #if SUBGROUPS
        @builtin(subgroup_size) sg_size: u32, @builtin(subgroup_invocation_id) sg_lane: u32,
// #endif
) {
  let lane = li % T;
  let r = li / T;
  // Rows past N compute a duplicate of the last row (keeping control flow uniform) and store nothing.
  // #if SWIGLU
  // Slots r < half take gate rows of outputs n, the others the matching up rows.
  let half = WG / T / 2u;
  let n = (wid.x + wid.y * p.gx) * half + r % half;
  let wrow = (gate_row(min(n, p.N - 1u)) + select(0u, up_delta(), r >= half)) * p.kv;
  // #else
  let n = (wid.x + wid.y * p.gx) * (WG / T) + r;
  let wrow = min(n, p.N - 1u) * p.kv;
  // #endif
  let kv = p.kv;
  var acc: array<f32, MAX_M>;
  // #if RMSNORM
  var sq: array<f32, MAX_M>;
  // #endif
  var k = lane;
  for (; k + (U - 1u) * T < kv; k += U * T) {
    var wu: array<V, U>;
    for (var u = 0u; u < U; u++) { wu[u] = w[wrow + k + u * T]; }
    // #if RMSNORM
    var gu: array<V, U>;
    for (var u = 0u; u < U; u++) { gu[u] = g[k + u * T]; }
    // #endif
    for (var m = 0u; m < MR; m++) {
      let xo = p.x_off + m * kv + k;
      var s = 0.0;
      // #if RMSNORM
      var q = 0.0;
      for (var u = 0u; u < U; u++) {
        let xu = x[xo + u * T];
        s += dotg(wu[u], xu, gu[u]);
        q += sumsq(xu);
      }
      sq[m] += q;
      // #else
      for (var u = 0u; u < U; u++) { s += dotv(wu[u], x[xo + u * T]); }
      // #endif
      acc[m] += s;
    }
  }
  for (; k < kv; k += T) {
    let w0 = w[wrow + k];
    // #if RMSNORM
    let g0 = g[k];
    for (var m = 0u; m < MR; m++) {
      let x0 = x[p.x_off + m * kv + k];
      acc[m] += dotg(w0, x0, g0);
      sq[m] += sumsq(x0);
    }
    // #else
    for (var m = 0u; m < MR; m++) { acc[m] += dotv(w0, x[p.x_off + m * kv + k]); }
    // #endif
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
      // #if RMSNORM
      let q = subgroupAdd(sq[m]);
      if (sg_lane == 0u) { red_sq[m * WG + li / sg_size] = q; }
      // #endif
    }
  } else {
    for (var m = 0u; m < MR; m++) { red[m * WG + li] = acc[m]; }
    // #if RMSNORM
    for (var m = 0u; m < MR; m++) { red_sq[m * WG + li] = sq[m]; }
    // #endif
  }
  // #else
  for (var m = 0u; m < MR; m++) { red[m * WG + li] = acc[m]; }
  // #if RMSNORM
  for (var m = 0u; m < MR; m++) { red_sq[m * WG + li] = sq[m]; }
  // #endif
  // #endif
  workgroupBarrier();
  // #if RMSNORM
  // Every row slot's threads read all of x: slot r's squares give x row `lane`'s rstd.
  var rstd = 1.0;
  if (lane < MR) {
    let base = lane * WG + r * parts;
    var q = 0.0;
    for (var i = 0u; i < parts; i++) { q += red_sq[base + i]; }
    rstd = inverseSqrt(q / f32(kv * VW) + p.eps);
  }
  // #else
  let rstd = 1.0;
  // #endif
  // #if SWIGLU
  if (lane < MR && n < p.N && r < half) {
    store_glu(lane, n, rstd * row_sum(lane, r, parts), rstd * row_sum(lane, r + half, parts));
  }
  // #else
  if (lane < MR && n < p.N) {
    store(lane, n, rstd * row_sum(lane, r, parts));
  }
  // #endif
}
