// The tensor-core GEMM's epilogue (appended to matmul_sgmat.wgsl by the spec, with sgmat_stage.wgsl and
// epilogue.wgsl): each accumulator goes through its subgroup's f32 scratch in workgroup memory, gets the bias, the
// activation and the residual (finish, residual8), or pairs with its up block for SwiGLU (emit_glu), and is written as
// f16 — or, with SPLITK, as f32 partial sums.

// y[m, n] before rounding to f16: the accumulated value, the bias, the activation and the residual r (RESIDUAL; added
// before the activation with RESIDUAL_PRE).
fn finish(v: f32, n: u32, r: f32) -> f32 {
  var s = v;
  // #if BIAS
  s += f32(b[min(n, p.N - 1u)]);
  // #endif
  // #if RESIDUAL_PRE
  s += r;
  // #endif
  s = act(s);
  // #if RESIDUAL
  // #if !RESIDUAL_PRE
  s += r;
  // #endif
  // #endif
  return s;
}

// The residual's 8 values at row gm, columns gn .. gn + 8 (0 beyond N and without RESIDUAL).
fn residual8(gm: u32, gn: u32) -> array<f32, 8> {
  var r: array<f32, 8>;
  // #if RESIDUAL
  // #if ALIGNED
  if (gn < p.N) {
    let q = res[(p.r_off + gm * p.N + gn) / 8u];
    let a = unpack2x16float(q.x);
    let b2 = unpack2x16float(q.y);
    let c = unpack2x16float(q.z);
    let d = unpack2x16float(q.w);
    r = array<f32, 8>(a.x, a.y, b2.x, b2.y, c.x, c.y, d.x, d.y);
  }
  // #else
  for (var k = 0u; k < 8u; k++) {
    if (gn + k < p.N) { r[k] = f32(res[p.r_off + gm * p.N + gn + k]); }
  }
  // #endif
  // #endif
  return r;
}

// Writes accumulator (i, j) of multiplying subgroup sg: through its scratch, then lane l takes row l / 2, columns
// 8 (l % 2) .. + 8. Every invocation calls this the same number of times (the barriers need uniform control flow);
// staging subgroups (SPLIT) only pass the barriers.
fn emit(c: Acc, i: u32, j: u32, row0: u32, col0: u32, sg: u32, lane: u32) {
  let multiplies = sg < SG_M * SG_N;
  let mine = sg * 256u;
  if (multiplies) { subgroupMatrixStore<row_major>(&scratch, mine, c, 16u); }
  workgroupBarrier();
  let r = lane / 2u;
  let c0 = (lane % 2u) * 8u;
  let gm = row0 + ((sg / SG_N) * FM + i) * 16u + r;
  let gn = col0 + ((sg % SG_N) * FN + j) * 16u + c0;
  // #if SPLITK
  if (multiplies && gm < p.M) {
    let base = split_z * p.M * p.N + gm * p.N;
    for (var k = 0u; k < 8u; k++) {
      if (gn + k < p.N) { part[base + gn + k] = scratch[mine + r * 16u + c0 + k]; }
    }
  }
  // #else
  if (multiplies && gm < p.M) {
    var v: array<f32, 8>;
    let rv = residual8(gm, gn);
    for (var k = 0u; k < 8u; k++) { v[k] = finish(scratch[mine + r * 16u + c0 + k], gn + k, rv[k]); }
    // #if ALIGNED
    if (gn < p.N) {
      y[(p.y_off + gm * p.N + gn) / 8u] = vec4<u32>(pack2x16float(vec2<f32>(v[0], v[1])), pack2x16float(vec2<f32>(v[2], v[3])),
                                                    pack2x16float(vec2<f32>(v[4], v[5])), pack2x16float(vec2<f32>(v[6], v[7])));
    }
    // #else
    for (var k = 0u; k < 8u; k++) {
      if (gn + k < p.N) { y[p.y_off + gm * p.N + gn + k] = f16(v[k]); }
    }
    // #endif
  }
  // #endif
  workgroupBarrier();
}

// #if SWIGLU
// #if SPLITK
const_assert false; // SWIGLU: the split-K partials would need the reduce pass to pair gate and up
// #endif
// #if RESIDUAL
const_assert false; // SWIGLU: no residual
// #endif
// Writes the outputs of accumulators (i, j) (gate) and (i, j + 1) (up) of multiplying subgroup sg: the gate through
// the scratch into registers, then the up, then lane l writes row l / 2, outputs 8 (l % 2) .. + 8 of the 16. Four
// barriers, as two emits take.
fn emit_glu(g: Acc, u: Acc, i: u32, j: u32, row0: u32, col0: u32, sg: u32, lane: u32) {
  let multiplies = sg < SG_M * SG_N;
  let mine = sg * 256u;
  let r = lane / 2u;
  let c0 = (lane % 2u) * 8u;
  let gm = row0 + ((sg / SG_N) * FM + i) * 16u + r;
  // The gate block's first column of the GEMM (a multiple of 32), and this lane's first output.
  let gn = col0 + ((sg % SG_N) * FN + j) * 16u;
  let on = gn / 2u + c0;
  if (multiplies) { subgroupMatrixStore<row_major>(&scratch, mine, g, 16u); }
  workgroupBarrier();
  var gate: array<f32, 8>;
  for (var k = 0u; k < 8u; k++) { gate[k] = scratch[mine + r * 16u + c0 + k]; }
  workgroupBarrier();
  if (multiplies) { subgroupMatrixStore<row_major>(&scratch, mine, u, 16u); }
  workgroupBarrier();
  if (multiplies && gm < p.M) {
    var v: array<f32, 8>;
    for (var k = 0u; k < 8u; k++) {
      var gv = gate[k];
      var uv = scratch[mine + r * 16u + c0 + k];
      // #if BIAS
      gv += f32(b[min(gn + c0 + k, p.N - 1u)]);
      uv += f32(b[min(gn + 16u + c0 + k, p.N - 1u)]);
      // #endif
      v[k] = silu(gv) * uv;
    }
    // #if ALIGNED
    if (on < p.y_n) {
      y[(p.y_off + gm * p.y_n + on) / 8u] = vec4<u32>(pack2x16float(vec2<f32>(v[0], v[1])), pack2x16float(vec2<f32>(v[2], v[3])),
                                                      pack2x16float(vec2<f32>(v[4], v[5])), pack2x16float(vec2<f32>(v[6], v[7])));
    }
    // #else
    for (var k = 0u; k < 8u; k++) {
      if (on + k < p.y_n) { y[p.y_off + gm * p.y_n + on + k] = f16(v[k]); }
    }
    // #endif
  }
  workgroupBarrier();
}
// #endif
