// The tensor-core GEMM's matrix work (appended to matmul_sgmat.wgsl by the spec): fragments of the staged x and W
// tiles and one K-step's multiplies into the accumulators.

// Fragment i (16 rows) of this subgroup's x rows, k from kk.
fn frag_a(at: u32, i: u32, kk: u32) -> Left {
  // #if VEC_TILES
  return subgroupMatrixLoad<Left, row_major>(&tile_a, (at + i * 16u * SA + kk) / 8u, SA / 8u);
  // #else
  return subgroupMatrixLoad<Left, row_major>(&tile_a, at + i * 16u * SA + kk, SA);
  // #endif
}

// Fragment j (16 columns) of this subgroup's W columns, k from kk.
fn frag_b(at: u32, j: u32, kk: u32) -> Right {
  // #if VEC_TILES
  // #if W_NK
  return subgroupMatrixLoad<Right, col_major>(&tile_b, (at + j * 16u * SB + kk) / 8u, SB / 8u);
  // #else
  return subgroupMatrixLoad<Right, row_major>(&tile_b, (at + kk * SB + j * 16u) / 8u, SB / 8u);
  // #endif
  // #else
  // #if W_NK
  return subgroupMatrixLoad<Right, col_major>(&tile_b, at + j * 16u * SB + kk, SB);
  // #else
  return subgroupMatrixLoad<Right, row_major>(&tile_b, at + kk * SB + j * 16u, SB);
  // #endif
  // #endif
}

// Accumulator cIJ is rows I, columns J (16 each) of a subgroup's FM×FN block; configurations use a subset.
struct Accs {
  c00: Acc, c01: Acc, c02: Acc, c03: Acc,
  c10: Acc, c11: Acc, c12: Acc, c13: Acc,
  c20: Acc, c21: Acc, c22: Acc, c23: Acc,
  c30: Acc, c31: Acc, c32: Acc, c33: Acc,
}

// One 16-deep slice (k from kk) of the staged tiles at a_at, b_at into subgroup sg's accumulators.
fn multiply_slice(acc: ptr<function, Accs>, a_at: u32, b_at: u32, kk: u32) {
  let a0 = frag_a(a_at, 0u, kk);
  let a1 = frag_a(a_at, 1u, kk);
  let b0 = frag_b(b_at, 0u, kk);
  let b1 = frag_b(b_at, 1u, kk);
  (*acc).c00 = subgroupMatrixMultiplyAccumulate(a0, b0, (*acc).c00);
  (*acc).c01 = subgroupMatrixMultiplyAccumulate(a0, b1, (*acc).c01);
  (*acc).c10 = subgroupMatrixMultiplyAccumulate(a1, b0, (*acc).c10);
  (*acc).c11 = subgroupMatrixMultiplyAccumulate(a1, b1, (*acc).c11);
  // #if FM4
  let a2 = frag_a(a_at, 2u, kk);
  let a3 = frag_a(a_at, 3u, kk);
  (*acc).c20 = subgroupMatrixMultiplyAccumulate(a2, b0, (*acc).c20);
  (*acc).c21 = subgroupMatrixMultiplyAccumulate(a2, b1, (*acc).c21);
  (*acc).c30 = subgroupMatrixMultiplyAccumulate(a3, b0, (*acc).c30);
  (*acc).c31 = subgroupMatrixMultiplyAccumulate(a3, b1, (*acc).c31);
  // #endif
  // #if FN4
  let b2 = frag_b(b_at, 2u, kk);
  let b3 = frag_b(b_at, 3u, kk);
  (*acc).c02 = subgroupMatrixMultiplyAccumulate(a0, b2, (*acc).c02);
  (*acc).c03 = subgroupMatrixMultiplyAccumulate(a0, b3, (*acc).c03);
  (*acc).c12 = subgroupMatrixMultiplyAccumulate(a1, b2, (*acc).c12);
  (*acc).c13 = subgroupMatrixMultiplyAccumulate(a1, b3, (*acc).c13);
  (*acc).c22 = subgroupMatrixMultiplyAccumulate(a2, b2, (*acc).c22);
  (*acc).c23 = subgroupMatrixMultiplyAccumulate(a2, b3, (*acc).c23);
  (*acc).c32 = subgroupMatrixMultiplyAccumulate(a3, b2, (*acc).c32);
  (*acc).c33 = subgroupMatrixMultiplyAccumulate(a3, b3, (*acc).c33);
  // #endif
}

// One step of matrix work on the staged tiles of `stage` for multiplying subgroup sg: its 16-deep slices through
// multiply_slice, or (INLINE_STEP) with multiply_slice's body written into the loop (the spec copies it in at the
// `@inline` line, sgmat.ts). Same arithmetic; on the H100 the driver makes the big tiles 6-7% faster through the
// function and "64x64/4" 7% slower (docs/perf-notes.md, session 7).
fn multiply(acc: ptr<function, Accs>, stage: u32, sg: u32) {
  let a_at = stage * A_STAGE + (sg / SG_N) * FM * 16u * SA;
  // #if W_NK
  let b_at = stage * B_STAGE + (sg % SG_N) * FN * 16u * SB;
  // #else
  let b_at = stage * B_STAGE + (sg % SG_N) * FN * 16u;
  // #endif
  // #if INLINE_STEP
  for (var kk = 0u; kk < BK; kk += 16u) {
    // @inline multiply_slice
  }
  // #else
  for (var kk = 0u; kk < BK; kk += 16u) { multiply_slice(acc, a_at, b_at, kk); }
  // #endif
}
