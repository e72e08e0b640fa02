/**
 * matmul_sgmat with its subgroup matrices emulated, for tests on adapters without them (lavapipe): the kernel's own
 * WGSL (main loop, staging, fragment offsets, epilogue) with the subgroup-matrix builtins replaced by per-invocation
 * code. A "subgroup" is 32 consecutive invocations (sg = t / 32, lane = t % 32, whatever the adapter's subgroup size);
 * lane l holds row l / 2 of a left fragment, columns 8 (l % 2) .. + 8 of a right fragment (all 16 rows) and those 8
 * values of row l / 2 of an accumulator: the very elements the epilogue reads back from the scratch, so the scratch
 * becomes 8 private values a lane (a read of any other element fails the test, see emu_own). With it out of workgroup
 * memory and the tile rows without their bank padding (SA = BK, SB = BK or BN, constants the code uses throughout),
 * the tiles fit lavapipe's 32 KiB. Everything else is the kernel as it runs on the tensor cores, preprocessed with the
 * same defines. Cold, lavapipe compiles a variant with vec4 tiles in ~3–25 s, one with f16 tiles in up to ~70 s (the
 * loops here unrolled: faster to compile than not, measured).
 */
import type { KernelSpec } from "@djinn/gpu"
import { spec } from "./sgmat.ts"

const OPS = `
// Emulated subgroup matrices (sgmat_emulate.ts): lane = emu_lane of a virtual subgroup of 32 invocations.
struct Left { e: array<f32, 16> }   // row lane / 2, columns 0 .. 16
struct Right { e: array<f32, 128> } // [k · 8 + j]: rows k = 0 .. 16, columns 8 (lane % 2) + j
struct Acc { e: array<f32, 8> }     // row lane / 2, columns 8 (lane % 2) + j
var<private> emu_lane: u32;

// Tile offsets and strides count the tile's elements: halves, or 16-byte pieces with VEC_TILES.
// #if VEC_TILES
const EMU_PIECE: u32 = 8u;
fn emu_a(h: u32) -> f32 { return unpack2x16float(tile_a[h / 8u][(h % 8u) / 2u])[h % 2u]; }
fn emu_b(h: u32) -> f32 { return unpack2x16float(tile_b[h / 8u][(h % 8u) / 2u])[h % 2u]; }
// #else
const EMU_PIECE: u32 = 1u;
fn emu_a(h: u32) -> f32 { return f32(tile_a[h]); }
fn emu_b(h: u32) -> f32 { return f32(tile_b[h]); }
// #endif

fn emu_load_Left_row_major_tile_a(at: u32, stride: u32) -> Left {
  var m: Left;
  let base = (at + (emu_lane / 2u) * stride) * EMU_PIECE;
  for (var c = 0u; c < 16u; c++) { m.e[c] = emu_a(base + c); }
  return m;
}

// Element (k, n) at at + n · stride + k.
fn emu_load_Right_col_major_tile_b(at: u32, stride: u32) -> Right {
  var m: Right;
  let c0 = (emu_lane % 2u) * 8u;
  for (var k = 0u; k < 16u; k++) {
    for (var j = 0u; j < 8u; j++) { m.e[k * 8u + j] = emu_b((at + (c0 + j) * stride) * EMU_PIECE + k); }
  }
  return m;
}

// Element (k, n) at at + k · stride + n.
fn emu_load_Right_row_major_tile_b(at: u32, stride: u32) -> Right {
  var m: Right;
  let c0 = (emu_lane % 2u) * 8u;
  for (var k = 0u; k < 16u; k++) {
    for (var j = 0u; j < 8u; j++) { m.e[k * 8u + j] = emu_b((at + k * stride) * EMU_PIECE + c0 + j); }
  }
  return m;
}

fn emu_mma(a: Left, b: Right, c: Acc) -> Acc {
  var r = c;
  for (var j = 0u; j < 8u; j++) {
    var s = r.e[j];
    for (var k = 0u; k < 16u; k++) { s += a.e[k] * b.e[k * 8u + j]; }
    r.e[j] = s;
  }
  return r;
}

// The scratch holds this lane's 8 values of the accumulator stored last (its offset and row stride kept), then a
// value that fails any test: the epilogue's reads go through emu_own, which sends a read of another lane's element
// (on the tensor cores the scratch is shared by the subgroup) to that value.
var<private> emu_at: u32;
var<private> emu_stride: u32;
fn emu_store_row_major_scratch(at: u32, c: Acc, stride: u32) {
  emu_at = at;
  emu_stride = stride;
  for (var j = 0u; j < 8u; j++) { scratch[j] = c.e[j]; }
  scratch[8] = -3.0e38;
}
fn emu_own(i: u32) -> u32 {
  let d = i - emu_at;
  let col = d % emu_stride;
  if (i < emu_at || d / emu_stride != emu_lane / 2u || col / 8u != emu_lane % 2u || col >= 16u) { return 8u; }
  return col % 8u;
}
`

/** Replaces `from` (which must occur exactly `count` times) by `to`. */
const swap = (source: string, from: string | RegExp, to: string, count = 1): string => {
  const found = typeof from === "string" ? source.split(from).length - 1 : [...source.matchAll(from)].length
  if (found !== count) throw new Error(`sgmat_emulate: '${String(from)}' found ${found} times, expected ${count}`)
  return source.replaceAll(from, to)
}

/** The spec's WGSL with emulated subgroup matrices (raw: `// #if` blocks intact, preprocessed with the same defines). */
export const emulatedWgsl = (source: string): string => {
  let s = source
  // The epilogue's scratch reads first (the emulation's own accesses come in with OPS).
  if (!/scratch\[/.test(s)) throw new Error("sgmat_emulate: no scratch reads")
  s = s.replaceAll(/scratch\[([^\]]+)\]/g, "scratch[emu_own($1)]")
  s = swap(s, "var<workgroup> scratch: array<f32, SG_M * SG_N * 256u>;", "var<private> scratch: array<f32, 9>;")
  s = swap(s, "enable subgroups;\n", "")
  s = swap(s, "enable chromium_experimental_subgroup_matrix;\n", "")
  s = swap(s, "alias Left = subgroup_matrix_left<f16, 16, 16>;\nalias Right = subgroup_matrix_right<f16, 16, 16>;\nalias Acc = subgroup_matrix_result<f32, 16, 16>;\n", OPS)
  s = swap(s, "const SA: u32 = BK + 8u;", "const SA: u32 = BK;")
  s = swap(s, "const SB: u32 = BK + 8u;", "const SB: u32 = BK;")
  s = swap(s, "const SB: u32 = BN + 8u;", "const SB: u32 = BN;")
  s = swap(s, /,\s*@builtin\(subgroup_id\) sg: u32, @builtin\(subgroup_invocation_id\) lane: u32\) \{\n/g, ") {\n  let sg = t / 32u;\n  let lane = t % 32u;\n  emu_lane = lane;\n")
  s = s.replaceAll(/subgroupMatrixLoad<(\w+), (\w+)>\(&(\w+), /g, "emu_load_$1_$2_$3(")
  s = s.replaceAll(/subgroupMatrixStore<(\w+)>\(&(\w+), /g, "emu_store_$1_$2(")
  s = s.replaceAll("subgroupMatrixMultiplyAccumulate(", "emu_mma(")
  const left = /subgroupMatrix|subgroup_matrix|@builtin\(subgroup/.exec(s)
  if (left !== null) throw new Error(`sgmat_emulate: '${left[0]}' left in the WGSL`)
  return s
}

/**
 * matmul_sgmat's spec (same id, bindings and uniforms) with emulated subgroup matrices. Built on call: importing this
 * module never throws, so the test file still loads on the H100 if the kernel's text drifts from what is replaced.
 */
export const emulatedSpec = (): KernelSpec => ({ ...spec, wgsl: emulatedWgsl(spec.wgsl) })
