import { gpuError } from "./errors.ts"
import type { AdapterDescription, KernelRegistry, PipelineId, Variant } from "./types.ts"
import { fastVariantKey, preprocess, variantKey } from "./wgsl.ts"

/** A compute pipeline built from a registry kernel's variant, with what dispatching it needs. */
export interface PipelineEntry {
  readonly pipeline: GPUComputePipeline
  readonly layout: GPUBindGroupLayout
  readonly uniforms: boolean
  /** The variant key (kernel and variant), for profiles. */
  readonly label: string
}

/** A device's pipelines: built once per kernel variant (preprocessed WGSL, "auto" layout) and named by index. */
export class Pipelines {
  private readonly entries: PipelineEntry[] = []
  private readonly ids = new Map<string, PipelineId>()
  /** The same pipelines by `fastVariantKey`: the per-call path, which skips sorting the variant. */
  private readonly fastIds = new Map<string, PipelineId>()

  private readonly device: GPUDevice
  private readonly adapter: AdapterDescription
  private readonly kernels: KernelRegistry

  constructor(device: GPUDevice, adapter: AdapterDescription, kernels: KernelRegistry) {
    this.device = device
    this.adapter = adapter
    this.kernels = kernels
  }

  id(kernel: string, variant: Variant = {}): PipelineId {
    const fast = fastVariantKey(kernel, variant)
    const hit = this.fastIds.get(fast)
    if (hit !== undefined) return hit
    const id = this.canonical(kernel, variant)
    this.fastIds.set(fast, id)
    return id
  }

  /** The pipeline of an id this cache gave, or undefined for any other number. */
  entry(id: PipelineId): PipelineEntry | undefined {
    return this.entries[id]
  }

  private canonical(kernel: string, variant: Variant): PipelineId {
    const key = variantKey(kernel, variant)
    const cached = this.ids.get(key)
    if (cached !== undefined) return cached
    const spec = this.kernels.get(kernel)
    if (spec === undefined) throw gpuError("UnknownKernel", `no kernel '${kernel}' in the registry`)
    if (variant.dtype === "f16" && !this.adapter.f16) throw gpuError("Unsupported", `kernel '${kernel}': shader-f16 is not available on this adapter`)
    const code = preprocess(spec.wgsl, variant)
    const module = this.device.createShaderModule({ code, label: key })
    const pipeline = this.device.createComputePipeline({
      layout: "auto",
      label: key,
      compute: { module, entryPoint: spec.entryPoint ?? "main", constants: { ...(variant.constants ?? {}) } },
    })
    const id = this.entries.length
    this.entries.push({ pipeline, layout: pipeline.getBindGroupLayout(0), uniforms: spec.uniforms, label: key })
    this.ids.set(key, id)
    return id
  }
}
