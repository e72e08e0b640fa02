// The matrix work of the tensor-core flash attention (appended to flash_sgmat.wgsl by the spec): fragments of the
// staged q, k and v tiles, S = Q·Kᵀ into the scores (scores) and O += P·V (accumulate). flash_sgmat_probe.wgsl has
// the timing probes' versions of the last two.

// Fragment kk (dims 16·kk ..) of row block rb's 16 q rows, and of key columns c·16 .. of the staged k block (as Kᵀ).
fn qfrag(rb: u32, kk: u32) -> Left {
  // #if Q128
  return subgroupMatrixLoad<Left, row_major>(&kv, rb * 16u * 64u + (kk % 4u) * 16u, 64u);
  // #else
  return subgroupMatrixLoad<Left, row_major>(&qs, rb * 16u * SQ + kk * 16u, SQ);
  // #endif
}
fn kfrag(c: u32, kk: u32) -> Right {
  return subgroupMatrixLoad<Right, col_major>(&kv, c * 16u * SQ + kk * 16u, SQ);
}
fn vfrag(kk: u32, n: u32) -> Right {
  return subgroupMatrixLoad<Right, row_major>(&kv, VT + kk * 16u * SQ + n * 16u, SQ);
}

// #if PROBE_NOMMA
struct Q8 { q0: Left, q1: Left, q2: Left, q3: Left, q4: Left, q5: Left, q6: Left, q7: Left, kept: F16 }
struct O8 { o0: Acc, o1: Acc, o2: Acc, o3: Acc, o4: Acc, o5: Acc, o6: Acc, o7: Acc, kept: F16, p0: Left, p1: Left }
// #else
struct Q8 { q0: Left, q1: Left, q2: Left, q3: Left, q4: Left, q5: Left, q6: Left, q7: Left }
struct O8 { o0: Acc, o1: Acc, o2: Acc, o3: Acc, o4: Acc, o5: Acc, o6: Acc, o7: Acc }
// #endif

// #if !PROBE_MATRIX
// S = Q·Kᵀ for the staged block into row block rb's scores (16 × 32, row-major); PAIRED: keys 16·part .. + 16.
fn scores(qf: ptr<function, Q8>, rb: u32, part: u32) {
  // #if PAIRED
  var s: Acc;
  s = subgroupMatrixMultiplyAccumulate((*qf).q0, kfrag(part, 0u), s);
  s = subgroupMatrixMultiplyAccumulate((*qf).q1, kfrag(part, 1u), s);
  s = subgroupMatrixMultiplyAccumulate((*qf).q2, kfrag(part, 2u), s);
  s = subgroupMatrixMultiplyAccumulate((*qf).q3, kfrag(part, 3u), s);
  if (HD > 64u) {
    s = subgroupMatrixMultiplyAccumulate((*qf).q4, kfrag(part, 4u), s);
    s = subgroupMatrixMultiplyAccumulate((*qf).q5, kfrag(part, 5u), s);
    s = subgroupMatrixMultiplyAccumulate((*qf).q6, kfrag(part, 6u), s);
    s = subgroupMatrixMultiplyAccumulate((*qf).q7, kfrag(part, 7u), s);
  }
  subgroupMatrixStore<row_major>(&sc, rb * 16u * BK + part * 16u, s, BK);
  // #else
  var s0: Acc;
  var s1: Acc;
  s0 = subgroupMatrixMultiplyAccumulate((*qf).q0, kfrag(0u, 0u), s0);
  s1 = subgroupMatrixMultiplyAccumulate((*qf).q0, kfrag(1u, 0u), s1);
  s0 = subgroupMatrixMultiplyAccumulate((*qf).q1, kfrag(0u, 1u), s0);
  s1 = subgroupMatrixMultiplyAccumulate((*qf).q1, kfrag(1u, 1u), s1);
  s0 = subgroupMatrixMultiplyAccumulate((*qf).q2, kfrag(0u, 2u), s0);
  s1 = subgroupMatrixMultiplyAccumulate((*qf).q2, kfrag(1u, 2u), s1);
  s0 = subgroupMatrixMultiplyAccumulate((*qf).q3, kfrag(0u, 3u), s0);
  s1 = subgroupMatrixMultiplyAccumulate((*qf).q3, kfrag(1u, 3u), s1);
  if (HD > 64u) {
    s0 = subgroupMatrixMultiplyAccumulate((*qf).q4, kfrag(0u, 4u), s0);
    s1 = subgroupMatrixMultiplyAccumulate((*qf).q4, kfrag(1u, 4u), s1);
    s0 = subgroupMatrixMultiplyAccumulate((*qf).q5, kfrag(0u, 5u), s0);
    s1 = subgroupMatrixMultiplyAccumulate((*qf).q5, kfrag(1u, 5u), s1);
    s0 = subgroupMatrixMultiplyAccumulate((*qf).q6, kfrag(0u, 6u), s0);
    s1 = subgroupMatrixMultiplyAccumulate((*qf).q6, kfrag(1u, 6u), s1);
    s0 = subgroupMatrixMultiplyAccumulate((*qf).q7, kfrag(0u, 7u), s0);
    s1 = subgroupMatrixMultiplyAccumulate((*qf).q7, kfrag(1u, 7u), s1);
  }
  subgroupMatrixStore<row_major>(&sc, rb * 16u * BK, s0, BK);
  subgroupMatrixStore<row_major>(&sc, rb * 16u * BK + 16u, s1, BK);
  // #endif
}

// O += P·V for the staged block: P from row block rb's weights (two 16×16 left fragments over the 32 keys).
// PAIRED: the accumulators o0 .. o3 (o0, o1 at HD = 64) hold dims 16·(n0 + i) .., n0 = part · HD / 32.
fn accumulate(o: ptr<function, O8>, rb: u32, part: u32) {
  let p0 = subgroupMatrixLoad<Left, row_major>(&ps, rb * 16u * SP, SP);
  let p1 = subgroupMatrixLoad<Left, row_major>(&ps, rb * 16u * SP + 16u, SP);
  // #if PAIRED
  let n0 = part * (HD / 32u);
  (*o).o0 = subgroupMatrixMultiplyAccumulate(p1, vfrag(1u, n0), subgroupMatrixMultiplyAccumulate(p0, vfrag(0u, n0), (*o).o0));
  (*o).o1 = subgroupMatrixMultiplyAccumulate(p1, vfrag(1u, n0 + 1u), subgroupMatrixMultiplyAccumulate(p0, vfrag(0u, n0 + 1u), (*o).o1));
  if (HD > 64u) {
    (*o).o2 = subgroupMatrixMultiplyAccumulate(p1, vfrag(1u, n0 + 2u), subgroupMatrixMultiplyAccumulate(p0, vfrag(0u, n0 + 2u), (*o).o2));
    (*o).o3 = subgroupMatrixMultiplyAccumulate(p1, vfrag(1u, n0 + 3u), subgroupMatrixMultiplyAccumulate(p0, vfrag(0u, n0 + 3u), (*o).o3));
  }
  // #else
  (*o).o0 = subgroupMatrixMultiplyAccumulate(p1, vfrag(1u, 0u), subgroupMatrixMultiplyAccumulate(p0, vfrag(0u, 0u), (*o).o0));
  (*o).o1 = subgroupMatrixMultiplyAccumulate(p1, vfrag(1u, 1u), subgroupMatrixMultiplyAccumulate(p0, vfrag(0u, 1u), (*o).o1));
  (*o).o2 = subgroupMatrixMultiplyAccumulate(p1, vfrag(1u, 2u), subgroupMatrixMultiplyAccumulate(p0, vfrag(0u, 2u), (*o).o2));
  (*o).o3 = subgroupMatrixMultiplyAccumulate(p1, vfrag(1u, 3u), subgroupMatrixMultiplyAccumulate(p0, vfrag(0u, 3u), (*o).o3));
  if (HD > 64u) {
    (*o).o4 = subgroupMatrixMultiplyAccumulate(p1, vfrag(1u, 4u), subgroupMatrixMultiplyAccumulate(p0, vfrag(0u, 4u), (*o).o4));
    (*o).o5 = subgroupMatrixMultiplyAccumulate(p1, vfrag(1u, 5u), subgroupMatrixMultiplyAccumulate(p0, vfrag(0u, 5u), (*o).o5));
    (*o).o6 = subgroupMatrixMultiplyAccumulate(p1, vfrag(1u, 6u), subgroupMatrixMultiplyAccumulate(p0, vfrag(0u, 6u), (*o).o6));
    (*o).o7 = subgroupMatrixMultiplyAccumulate(p1, vfrag(1u, 7u), subgroupMatrixMultiplyAccumulate(p0, vfrag(0u, 7u), (*o).o7));
  }
  // #endif
}
// #endif
