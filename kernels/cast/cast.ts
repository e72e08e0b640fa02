import { f16ToF32, f32ToF16, grid, u32s, type Binding, type GpuDevice, type KernelSpec } from "@djinn/gpu"
import { wgsl } from "../source.ts"

export const spec: KernelSpec = { id: "cast", wgsl: wgsl("cast"), storage: ["read", "read_write"], uniforms: true }

export interface CastArgs {
  /** n values in the other dtype (f32 storage when `to` is "f16", f16 storage when `to` is "f32"). */
  readonly x: Binding
  readonly y: Binding
  readonly n: number
  readonly to: "f16" | "f32"
}

const WG = 256

export const encode = (gpu: GpuDevice, args: CastArgs): void => {
  if (!gpu.adapter.f16) throw new Error("cast: f32↔f16 conversion needs the shader-f16 feature, which this adapter lacks")
  const pipeline = gpu.pipeline(spec.id, { dtype: "f16", defines: args.to === "f32" ? ["TO_F32"] : [] })
  const workgroups = grid(Math.ceil(args.n / WG))
  gpu.dispatch({ pipeline, bindings: [args.x, args.y], uniforms: u32s(args.n, workgroups[0] * WG, 0, 0), workgroups })
}

/** CPU reference: the values y holds, as f32 (round to nearest even into f16; f16 → f32 is exact). */
export const reference = (x: Float32Array, to: "f16" | "f32"): Float32Array => (to === "f16" ? f16ToF32(f32ToF16(x)) : x.slice())
