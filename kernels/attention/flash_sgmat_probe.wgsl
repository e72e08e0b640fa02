// Timing probes of flash_sgmat.wgsl's matrix work (appended to it; 64-row tiles only): wrong results by design.
//   PROBE_NOMATRIX: no fragment loads and no multiplies (zero scores stored, O stays zero).
//   PROBE_NOFRAG: the multiplies, but 2 k fragments a block in S (one per accumulator) instead of 16 and one v fragment
//     in P·V instead of 16 (P's two still loaded); O's accumulators start apart so no two chains are the same.
//   PROBE_NOMMA: every fragment load, no multiply. The loaded fragments are kept alive across the block's next
//     barrier into a store that never runs (p._p0 is 0): a compiler may not move a workgroup load past a barrier, so
//     it can neither drop the loads nor sink them into the untaken branch. (More registers live than in the kernel.)
// #if PROBE_MATRIX
struct F16 {
  f0: Right, f1: Right, f2: Right, f3: Right, f4: Right, f5: Right, f6: Right, f7: Right,
  f8: Right, f9: Right, f10: Right, f11: Right, f12: Right, f13: Right, f14: Right, f15: Right,
}

// #if PROBE_NOMMA
// (Q8 and O8 carry the kept fragments: subgroup matrices may not be private variables.)
fn keep16(f: F16) {
  subgroupMatrixStore<row_major>(&kv, 0u, f.f0, SQ); subgroupMatrixStore<row_major>(&kv, 16u, f.f1, SQ);
  subgroupMatrixStore<row_major>(&kv, 32u, f.f2, SQ); subgroupMatrixStore<row_major>(&kv, 48u, f.f3, SQ);
  subgroupMatrixStore<row_major>(&kv, 64u, f.f4, SQ); subgroupMatrixStore<row_major>(&kv, 80u, f.f5, SQ);
  subgroupMatrixStore<row_major>(&kv, 96u, f.f6, SQ); subgroupMatrixStore<row_major>(&kv, 112u, f.f7, SQ);
  subgroupMatrixStore<row_major>(&kv, VT, f.f8, SQ); subgroupMatrixStore<row_major>(&kv, VT + 16u, f.f9, SQ);
  subgroupMatrixStore<row_major>(&kv, VT + 32u, f.f10, SQ); subgroupMatrixStore<row_major>(&kv, VT + 48u, f.f11, SQ);
  subgroupMatrixStore<row_major>(&kv, VT + 64u, f.f12, SQ); subgroupMatrixStore<row_major>(&kv, VT + 80u, f.f13, SQ);
  subgroupMatrixStore<row_major>(&kv, VT + 96u, f.f14, SQ); subgroupMatrixStore<row_major>(&kv, VT + 112u, f.f15, SQ);
}
fn keep_k(qf: ptr<function, Q8>) { if (p._p0 == 1u) { keep16((*qf).kept); } }
fn keep_v(o: ptr<function, O8>) {
  if (p._p0 == 1u) {
    keep16((*o).kept);
    subgroupMatrixStore<row_major>(&ps, 0u, (*o).p0, SP);
    subgroupMatrixStore<row_major>(&ps, 16u, (*o).p1, SP);
  }
}
// #endif

// #if PROBE_NOFRAG
fn nofrag_init(o: ptr<function, O8>) {
  (*o).o0 = subgroupMatrixLoad<Acc, row_major>(&sc, 0u, BK); (*o).o1 = subgroupMatrixLoad<Acc, row_major>(&sc, 1u, BK);
  (*o).o2 = subgroupMatrixLoad<Acc, row_major>(&sc, 2u, BK); (*o).o3 = subgroupMatrixLoad<Acc, row_major>(&sc, 3u, BK);
  (*o).o4 = subgroupMatrixLoad<Acc, row_major>(&sc, 4u, BK); (*o).o5 = subgroupMatrixLoad<Acc, row_major>(&sc, 5u, BK);
  (*o).o6 = subgroupMatrixLoad<Acc, row_major>(&sc, 6u, BK); (*o).o7 = subgroupMatrixLoad<Acc, row_major>(&sc, 7u, BK);
}
// #endif

fn scores(qf: ptr<function, Q8>, rb: u32, part: u32) {
  var s0: Acc;
  var s1: Acc;
  // #if PROBE_NOFRAG
  let a = kfrag(0u, 0u);
  let b = kfrag(1u, 0u);
  s0 = subgroupMatrixMultiplyAccumulate((*qf).q0, a, s0); s1 = subgroupMatrixMultiplyAccumulate((*qf).q0, b, s1);
  s0 = subgroupMatrixMultiplyAccumulate((*qf).q1, a, s0); s1 = subgroupMatrixMultiplyAccumulate((*qf).q1, b, s1);
  s0 = subgroupMatrixMultiplyAccumulate((*qf).q2, a, s0); s1 = subgroupMatrixMultiplyAccumulate((*qf).q2, b, s1);
  s0 = subgroupMatrixMultiplyAccumulate((*qf).q3, a, s0); s1 = subgroupMatrixMultiplyAccumulate((*qf).q3, b, s1);
  if (HD > 64u) {
    s0 = subgroupMatrixMultiplyAccumulate((*qf).q4, a, s0); s1 = subgroupMatrixMultiplyAccumulate((*qf).q4, b, s1);
    s0 = subgroupMatrixMultiplyAccumulate((*qf).q5, a, s0); s1 = subgroupMatrixMultiplyAccumulate((*qf).q5, b, s1);
    s0 = subgroupMatrixMultiplyAccumulate((*qf).q6, a, s0); s1 = subgroupMatrixMultiplyAccumulate((*qf).q6, b, s1);
    s0 = subgroupMatrixMultiplyAccumulate((*qf).q7, a, s0); s1 = subgroupMatrixMultiplyAccumulate((*qf).q7, b, s1);
  }
  // #endif
  // #if PROBE_NOMMA
  (*qf).kept.f0 = kfrag(0u, 0u); (*qf).kept.f1 = kfrag(1u, 0u); (*qf).kept.f2 = kfrag(0u, 1u); (*qf).kept.f3 = kfrag(1u, 1u);
  (*qf).kept.f4 = kfrag(0u, 2u); (*qf).kept.f5 = kfrag(1u, 2u); (*qf).kept.f6 = kfrag(0u, 3u); (*qf).kept.f7 = kfrag(1u, 3u);
  if (HD > 64u) {
    (*qf).kept.f8 = kfrag(0u, 4u); (*qf).kept.f9 = kfrag(1u, 4u); (*qf).kept.f10 = kfrag(0u, 5u); (*qf).kept.f11 = kfrag(1u, 5u);
    (*qf).kept.f12 = kfrag(0u, 6u); (*qf).kept.f13 = kfrag(1u, 6u); (*qf).kept.f14 = kfrag(0u, 7u); (*qf).kept.f15 = kfrag(1u, 7u);
  }
  // #endif
  subgroupMatrixStore<row_major>(&sc, rb * 16u * BK, s0, BK);
  subgroupMatrixStore<row_major>(&sc, rb * 16u * BK + 16u, s1, BK);
}

fn accumulate(o: ptr<function, O8>, rb: u32, part: u32) {
  // #if PROBE_NOFRAG
  let p0 = subgroupMatrixLoad<Left, row_major>(&ps, rb * 16u * SP, SP);
  let p1 = subgroupMatrixLoad<Left, row_major>(&ps, rb * 16u * SP + 16u, SP);
  let f = vfrag(0u, 0u);
  (*o).o0 = subgroupMatrixMultiplyAccumulate(p1, f, subgroupMatrixMultiplyAccumulate(p0, f, (*o).o0));
  (*o).o1 = subgroupMatrixMultiplyAccumulate(p1, f, subgroupMatrixMultiplyAccumulate(p0, f, (*o).o1));
  (*o).o2 = subgroupMatrixMultiplyAccumulate(p1, f, subgroupMatrixMultiplyAccumulate(p0, f, (*o).o2));
  (*o).o3 = subgroupMatrixMultiplyAccumulate(p1, f, subgroupMatrixMultiplyAccumulate(p0, f, (*o).o3));
  if (HD > 64u) {
    (*o).o4 = subgroupMatrixMultiplyAccumulate(p1, f, subgroupMatrixMultiplyAccumulate(p0, f, (*o).o4));
    (*o).o5 = subgroupMatrixMultiplyAccumulate(p1, f, subgroupMatrixMultiplyAccumulate(p0, f, (*o).o5));
    (*o).o6 = subgroupMatrixMultiplyAccumulate(p1, f, subgroupMatrixMultiplyAccumulate(p0, f, (*o).o6));
    (*o).o7 = subgroupMatrixMultiplyAccumulate(p1, f, subgroupMatrixMultiplyAccumulate(p0, f, (*o).o7));
  }
  // #endif
  // #if PROBE_NOMMA
  (*o).p0 = subgroupMatrixLoad<Left, row_major>(&ps, rb * 16u * SP, SP);
  (*o).p1 = subgroupMatrixLoad<Left, row_major>(&ps, rb * 16u * SP + 16u, SP);
  (*o).kept.f0 = vfrag(0u, 0u); (*o).kept.f1 = vfrag(1u, 0u); (*o).kept.f2 = vfrag(0u, 1u); (*o).kept.f3 = vfrag(1u, 1u);
  (*o).kept.f4 = vfrag(0u, 2u); (*o).kept.f5 = vfrag(1u, 2u); (*o).kept.f6 = vfrag(0u, 3u); (*o).kept.f7 = vfrag(1u, 3u);
  if (HD > 64u) {
    (*o).kept.f8 = vfrag(0u, 4u); (*o).kept.f9 = vfrag(1u, 4u); (*o).kept.f10 = vfrag(0u, 5u); (*o).kept.f11 = vfrag(1u, 5u);
    (*o).kept.f12 = vfrag(0u, 6u); (*o).kept.f13 = vfrag(1u, 6u); (*o).kept.f14 = vfrag(0u, 7u); (*o).kept.f15 = vfrag(1u, 7u);
  }
  // #endif
}
// #endif
