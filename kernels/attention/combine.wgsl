// Second pass of split attention (attention.wgsl's SPLIT variant): merges the splits' partial states
// (m_i, l_i, acc_i[head_dim]) of one (b, t, h) per workgroup: out = Σ e^(m_i - M) acc_i / Σ e^(m_i - M) l_i, M = max m_i.
alias E = f32; // @dtype

struct Params {
  bth: u32, // B*T*H
  T: u32,
  H: u32,
  head_dim: u32,
  splits: u32,
  out_stride: u32,
  out_offset: u32,
  out_batch: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<E>;

override WG: u32 = 128;

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let w = wid.x + wid.y * nwg.x;
  if (w >= p.bth) { return; }
  let h = w % p.H;
  let t = (w / p.H) % p.T;
  let b = w / (p.H * p.T);
  let hd = p.head_dim;
  let size = hd + 2u;
  let base = w * p.splits * size;
  var mx = -3.0e38;
  for (var i = 0u; i < p.splits; i++) { mx = max(mx, part[base + i * size]); }
  var total = 0.0;
  for (var i = 0u; i < p.splits; i++) { total += exp(part[base + i * size] - mx) * part[base + i * size + 1u]; }
  let ob = p.out_offset + b * p.out_batch + t * p.out_stride + h * hd;
  for (var d = lid; d < hd; d += WG) {
    var a = 0.0;
    for (var i = 0u; i < p.splits; i++) { a += exp(part[base + i * size] - mx) * part[base + i * size + 2u + d]; }
    out[ob + d] = E(select(0.0, a / total, total > 0.0));
  }
}
