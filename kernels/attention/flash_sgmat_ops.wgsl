// flash_sgmat.wgsl's fragment operations, appended to it by the spec: loads of q, k, v and p fragments from its tiles,
// accumulator stores and loads through its scores area (row stride SS), the matrix multiply, and the combine of a
// row's two lanes. On the tensor cores they are subgroup-matrix builtins and subgroup shuffles; under EMULATE every
// invocation holds whole 16×16 f32 matrices and computes them alone, so that the kernel runs (slowly) on adapters
// without subgroup matrices or with other subgroup sizes: the tests check the kernel's indexing, masking and rescaling
// against the CPU reference there.
// #if !EMULATE
alias Left = subgroup_matrix_left<f16, 16, 16>;
alias Right = subgroup_matrix_right<f16, 16, 16>;
alias Acc = subgroup_matrix_result<f32, 16, 16>;

// Rows of q (row-major, from the k tiles where they are staged), Kᵀ (column-major: k rows are keys), v rows and p.
fn ld_q(at: u32) -> Left { return subgroupMatrixLoad<Left, row_major>(&ks, at, SQ); }
fn ld_k(at: u32) -> Right { return subgroupMatrixLoad<Right, col_major>(&ks, at, SQ); }
fn ld_v(at: u32) -> Right { return subgroupMatrixLoad<Right, row_major>(&vs, at, SQ); }
fn ld_p(at: u32) -> Left { return subgroupMatrixLoad<Left, row_major>(&ps, at, SP); }
fn st_acc(at: u32, x: Acc, lane: u32) { subgroupMatrixStore<row_major>(&sc, at, x, SS); }
fn ld_acc(at: u32) -> Acc { return subgroupMatrixLoad<Acc, row_major>(&sc, at, SS); }
fn mma(a: Left, b: Right, c: Acc) -> Acc { return subgroupMatrixMultiplyAccumulate(a, b, c); }

// The combine of lanes 2r and 2r + 1 (a row's two halves); `pad` is unused here.
fn pair_max(x: f32, pad: u32) -> f32 { return max(x, subgroupShuffleXor(x, 1u)); }
fn pair_sum(x: f32, pad: u32) -> f32 { return x + subgroupShuffleXor(x, 1u); }
// #else
// Loop bounds the compiler cannot see (p._p0 is 0): unrolled, these loops take lavapipe minutes to compile.
fn n16() -> u32 { return 16u + p._p0; }
fn n256() -> u32 { return 256u + p._p0; }

struct Left { e: array<f32, 256> } // [row · 16 + column]
struct Right { e: array<f32, 256> }
struct Acc { e: array<f32, 256> }

fn ld_q(at: u32) -> Left {
  var m: Left;
  for (var i = 0u; i < n256(); i++) { m.e[i] = f32(ks[at + (i / 16u) * SQ + i % 16u]); }
  return m;
}
fn ld_k(at: u32) -> Right {
  var m: Right;
  for (var i = 0u; i < n256(); i++) { m.e[i] = f32(ks[at + (i % 16u) * SQ + i / 16u]); }
  return m;
}
fn ld_v(at: u32) -> Right {
  var m: Right;
  for (var i = 0u; i < n256(); i++) { m.e[i] = f32(vs[at + (i / 16u) * SQ + i % 16u]); }
  return m;
}
fn ld_p(at: u32) -> Left {
  var m: Left;
  for (var i = 0u; i < n256(); i++) { m.e[i] = f32(ps[at + (i / 16u) * SP + i % 16u]); }
  return m;
}
// Each lane writes the elements ≡ lane (mod 32), so no two invocations write one element.
fn st_acc(at: u32, x: Acc, lane: u32) {
  for (var i = lane; i < n256(); i += 32u) { sc[at + (i / 16u) * SS + i % 16u] = x.e[i]; }
}
fn ld_acc(at: u32) -> Acc {
  var m: Acc;
  for (var i = 0u; i < n256(); i++) { m.e[i] = sc[at + (i / 16u) * SS + i % 16u]; }
  return m;
}
fn mma(a: Left, b: Right, c: Acc) -> Acc {
  var r = c;
  for (var i = 0u; i < n16(); i++) {
    for (var n = 0u; n < n16(); n++) {
      var s = r.e[i * 16u + n];
      for (var kk = 0u; kk < n16(); kk++) { s += a.e[i * 16u + kk] * b.e[kk * 16u + n]; }
      r.e[i * 16u + n] = s;
    }
  }
  return r;
}

// Through the lane's slot in its score row's padding (pad ^ 1 is the other lane's).
fn pair_max(x: f32, pad: u32) -> f32 {
  sc[pad] = x;
  workgroupBarrier();
  let y = sc[pad ^ 1u];
  workgroupBarrier();
  return max(x, y);
}
fn pair_sum(x: f32, pad: u32) -> f32 {
  sc[pad] = x;
  workgroupBarrier();
  let y = sc[pad ^ 1u];
  workgroupBarrier();
  return x + y;
}
// #endif
