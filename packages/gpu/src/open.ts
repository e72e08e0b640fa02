import { envVar } from "./env.ts"
import { gpuError } from "./errors.ts"
import type { AdapterDescription, GpuDevice, KernelRegistry } from "./types.ts"
import { WebGpuDevice } from "./webgpu-device.ts"

export interface GpuConfig {
  /** Dawn backend: "vulkan", "metal", "d3d12", "null"… (Dawn's `backend=` option). */
  readonly backend?: string
  /** A substring of the adapter's name to pick among several (Dawn's `adapter=` option). */
  readonly adapterName?: string
  readonly powerPreference?: "low-power" | "high-performance"
  /** Dawn toggles to enable. On NVIDIA `vulkan_enable_f16_on_nvidia,allow_unsafe_apis` unlock shader-f16 and subgroup-matrix. */
  readonly enableToggles?: readonly string[]
  readonly disableToggles?: readonly string[]
  /** Ask for shader-f16 when the adapter offers it (default true). */
  readonly f16?: boolean
  /**
   * Dawn's robustness: every storage, workgroup and subgroup-matrix access of every shader bounds-checked (clamped or
   * predicated). Default off (DJINN_ROBUSTNESS=1 turns it on): every kernel is this repository's own, checked against
   * CPU references with guard regions around its outputs, and clients send tensors, never shaders — as with CUDA
   * kernels, which have no such checks. The checks cost a third of the tensor-core GEMM's time on the H100: they
   * predicate each subgroup-matrix load on a computed offset, which hides its alignment from the driver
   * (docs/perf-notes.md, "Robustness").
   */
  readonly robustness?: boolean
  /** Timestamp queries around every submit (default false). */
  readonly profiling?: boolean
}

export const defaultToggles = ["vulkan_enable_f16_on_nvidia", "allow_unsafe_apis"] as const

const OPTIONAL_FEATURES = ["shader-f16", "subgroups", "timestamp-query", "chromium-experimental-subgroup-matrix"] as const
const LIMITS = [
  "maxStorageBufferBindingSize",
  "maxBufferSize",
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupSizeY",
  "maxComputeWorkgroupsPerDimension",
  "maxStorageBuffersPerShaderStage",
] as const

/** Whether Dawn's robustness checks are on: the config's choice, else DJINN_ROBUSTNESS=1, else off. */
export const robustnessOf = (config: GpuConfig): boolean => config.robustness ?? envVar("DJINN_ROBUSTNESS") === "1"

/**
 * Dawn's backend: the config's, else DJINN_DAWN_BACKEND (e.g. null: no GPU work, zeros for outputs — the host's CPU
 * path alone, for measuring the remote tax of a whole sweep without a GPU), else Dawn's choice.
 */
const backendOf = (config: GpuConfig): string | undefined => config.backend ?? envVar("DJINN_DAWN_BACKEND")

/** Deno's built-in WebGPU, where there is one (it takes no Dawn toggles). */
const denoGpu = (): GPU | undefined =>
  typeof (globalThis as { Deno?: unknown }).Deno !== "undefined" ? (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu : undefined

/** The WebGPU entry point: Deno's (and browsers') `navigator.gpu` (robustness on: it takes no toggles), else Dawn through the `webgpu` package. */
const gpuEntry = async (config: GpuConfig): Promise<GPU> => {
  const deno = denoGpu()
  if (deno !== undefined) return deno
  const dawn = await import("webgpu")
  Object.assign(globalThis, dawn.globals)
  const options: string[] = []
  // DJINN_DAWN_ENABLE / DJINN_DAWN_DISABLE add toggles (comma-separated) for A/B runs, e.g. disable_robustness.
  const extra = (name: string) => (envVar(name) ?? "").split(",").map((t) => t.trim()).filter((t) => t !== "")
  const enable = [...(config.enableToggles ?? defaultToggles), ...extra("DJINN_DAWN_ENABLE")]
  if (!robustnessOf(config)) enable.push("disable_robustness")
  if (enable.length > 0) options.push(`enable-dawn-features=${enable.join(",")}`)
  // Dawn quantises timestamps unless told not to; we want them for profiling.
  const disable = [...(config.disableToggles ?? []), ...extra("DJINN_DAWN_DISABLE"), "timestamp_quantization"]
  options.push(`disable-dawn-features=${disable.join(",")}`)
  const backend = backendOf(config)
  if (backend !== undefined) options.push(`backend=${backend}`)
  if (config.adapterName !== undefined) options.push(`adapter=${config.adapterName}`)
  return dawn.create(options)
}

/** Opens an adapter and a device with every optional feature worth having and the adapter's full limits. */
export const openGpu = async (kernels: KernelRegistry, config: GpuConfig = {}): Promise<GpuDevice> => {
  const gpu = await gpuEntry(config)
  const options: GPURequestAdapterOptions = {}
  if (config.powerPreference !== undefined) options.powerPreference = config.powerPreference
  const adapter = await gpu.requestAdapter(options)
  if (adapter === null) {
    throw gpuError("NoAdapter", "no WebGPU adapter found (on a machine without GPU install Mesa's lavapipe: mesa-vulkan-drivers + libvulkan1 from bookworm-backports)")
  }
  const wanted = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f) && (f !== "shader-f16" || config.f16 !== false))
  const requiredLimits: Record<string, number> = {}
  for (const name of LIMITS) requiredLimits[name] = (adapter.limits as unknown as Record<string, number>)[name]
  let device: GPUDevice
  try {
    device = await adapter.requestDevice({ requiredFeatures: wanted as GPUFeatureName[], requiredLimits })
  } catch (cause) {
    throw gpuError("Internal", `requestDevice failed: ${String(cause)}`)
  }
  const info = adapter.info
  const limits: Record<string, number> = {}
  for (const name of LIMITS) limits[name] = (device.limits as unknown as Record<string, number>)[name]
  const features = [...device.features].sort()
  const description: AdapterDescription = {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    backend: backendOf(config) ?? "default",
    features,
    limits,
    f16: device.features.has("shader-f16"),
    subgroups: device.features.has("subgroups"),
    timestamps: device.features.has("timestamp-query"),
    subgroupMatrix: device.features.has("chromium-experimental-subgroup-matrix"),
    robustness: robustnessOf(config) || denoGpu() !== undefined,
  }
  // Dawn's GPU object must outlive the device: once V8 collects it, Dawn crashes while processing events.
  return new WebGpuDevice(device, description, kernels, config.profiling ?? false, [gpu, adapter])
}

/** A one-line name for the adapter, for results and logs. */
export const adapterName = (a: AdapterDescription): string =>
  [a.vendor, a.architecture, a.device, a.description].filter((s) => s !== "").join(" ").trim() || "unknown adapter"
