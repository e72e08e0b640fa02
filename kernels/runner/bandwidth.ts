import { packUniforms, type Binding, type GpuDevice, type KernelSpec } from "@djinn/gpu"
import { wgsl } from "../source.ts"

/** The perf runner's read-bandwidth probe; registered by the runner only, not in the kernel registry. */
export const spec: KernelSpec = { id: "bandwidth_probe", wgsl: wgsl("runner", "bandwidth.wgsl"), storage: ["read", "read_write"], uniforms: true }

/** Workgroups of the probe: enough to fill any current GPU several times over. */
export const GROUPS = 4096

/** Reads `bytes` (a multiple of 16) of `src`; `sink` holds one vec4 (never written in practice). */
export const encode = (gpu: GpuDevice, src: Binding, sink: Binding, bytes: number): void => {
  gpu.dispatch({
    pipeline: gpu.pipeline(spec.id),
    bindings: [src, sink],
    uniforms: packUniforms([["u32", bytes / 16], ["u32", GROUPS * 256], ["f32", -1.2345e-38]]),
    workgroups: [GROUPS, 1, 1],
  })
}
