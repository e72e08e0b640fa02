// Row argmax: out[out_offset + r] = the index of the largest of x[x_offset + r*cols ..][0..cols), as i32; the first
// index on ties; NaN ranks as -inf; -1 for cols = 0. One workgroup per row: a strided scan, then a tree reduction
// over (key, index). Floats compare through an order-preserving u32 key, so NaN and ±0 need no special cases there.
alias E = f32; // @dtype

struct Params {
  rows: u32,
  cols: u32,
  x_offset: u32,
  out_offset: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<E>;
@group(0) @binding(2) var<storage, read_write> out: array<i32>;

// A power of two.
override WG: u32 = 256;

var<workgroup> keys: array<u32, WG>;
var<workgroup> idxs: array<u32, WG>;

const NONE: u32 = 0xffffffffu;

// Monotone map f32 → u32 (a < b ⇔ key(a) < key(b)); NaN maps to key(-inf), -0 to key(+0); never 0.
fn key_of(v: f32) -> u32 {
  let b = bitcast<u32>(v);
  let mag = b & 0x7fffffffu;
  if (mag > 0x7f800000u) { return 0x007fffffu; }
  if (mag == 0u) { return 0x80000000u; }
  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.rows) { return; }
  let base = p.x_offset + row * p.cols;
  // Key 0 with index NONE loses to every element; a strict > keeps this thread's first index on ties.
  var bk = 0u;
  var bi = NONE;
  var c = lid;
  for (; c + 3u * WG < p.cols; c += 4u * WG) { // four loads in flight, compared in index order
    let k0 = key_of(f32(x[base + c]));
    let k1 = key_of(f32(x[base + c + WG]));
    let k2 = key_of(f32(x[base + c + 2u * WG]));
    let k3 = key_of(f32(x[base + c + 3u * WG]));
    if (k0 > bk) { bk = k0; bi = c; }
    if (k1 > bk) { bk = k1; bi = c + WG; }
    if (k2 > bk) { bk = k2; bi = c + 2u * WG; }
    if (k3 > bk) { bk = k3; bi = c + 3u * WG; }
  }
  for (; c < p.cols; c += WG) {
    let k = key_of(f32(x[base + c]));
    if (k > bk) { bk = k; bi = c; }
  }
  keys[lid] = bk;
  idxs[lid] = bi;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      let ok = keys[lid + s];
      let oi = idxs[lid + s];
      if (ok > keys[lid] || (ok == keys[lid] && oi < idxs[lid])) {
        keys[lid] = ok;
        idxs[lid] = oi;
      }
    }
    workgroupBarrier();
  }
  if (lid == 0u) { out[p.out_offset + row] = bitcast<i32>(idxs[0]); }
}
