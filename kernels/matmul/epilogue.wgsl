// Activations fused into the epilogues of the linear kernels (matmul, gemv). This file is appended to each
// kernel's source by its spec; `act` runs in f32 on the accumulated value after the bias.
// Variants: none (default) | GELU_TANH (GPT-2's gelu_new) | GELU_ERF (exact GELU) | RELU.

fn act(v: f32) -> f32 {
  // #if GELU_TANH
  // Clamped so that tanh never sees an argument its exp-based lowering overflows on (tanh(15) = 1 in f32).
  let u = clamp(0.7978845608028654 * (v + 0.044715 * v * v * v), -15.0, 15.0);
  return 0.5 * v * (1.0 + tanh(u));
  // #else
  // #if GELU_ERF
  return 0.5 * v * (1.0 + erf_f32(v * 0.7071067811865476));
  // #else
  // #if RELU
  return max(v, 0.0);
  // #else
  return v;
  // #endif
  // #endif
  // #endif
}

// silu(g) = g · sigmoid(g) (Llama's MLP gate, for SWIGLU epilogues), with exp of −|g| only so nothing overflows.
fn silu(g: f32) -> f32 {
  let e = exp(-abs(g));
  return g * select(e, 1.0, g >= 0.0) / (1.0 + e);
}

// WGSL has no erf: Abramowitz & Stegun 7.1.26, |error| ≤ 1.5e-7, about f32's own resolution near 1.
fn erf_f32(z: f32) -> f32 {
  let a = abs(z);
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return sign(z) * (1.0 - poly * exp(-a * a));
}
