// Embedding lookup: out[t, :] = table[ids[ids_offset + t], :] for t < T, rows of D elements.
// POS adds a position table row (GPT-2's wte + wpe): out[t, :] += pos[pos_offset + t, :].
// An id outside the table (negative, or ≥ its rows) gives a zero row; rows come from arrayLength, so a lookup never
// reads past the bound range.
alias E = f32; // @dtype

struct Params {
  T: u32,
  D: u32,
  ids_offset: u32,
  pos_offset: u32,
  // Threads per row of the 2-D grid (x workgroups × WG), for outputs beyond 65535 workgroups.
  stride: u32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> table: array<E>;
@group(0) @binding(2) var<storage, read> ids: array<i32>;
@group(0) @binding(3) var<storage, read_write> out: array<E>;
// #if POS
@group(0) @binding(4) var<storage, read> pos: array<E>;
// #endif

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * p.stride;
  if (i >= p.T * p.D) { return; }
  let t = i / p.D;
  let d = i - t * p.D;
  let id = ids[p.ids_offset + t];
  if (id < 0 || u32(id) >= arrayLength(&table) / p.D) {
    out[i] = E(0.0);
    return;
  }
  var v = f32(table[u32(id) * p.D + d]);
  // #if POS
  let row = p.pos_offset + t;
  if (row < arrayLength(&pos) / p.D) { v += f32(pos[row * p.D + d]); }
  // #endif
  out[i] = E(v);
}
