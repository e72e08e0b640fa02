import type { GpuConfig } from "@djinn/gpu"
import { Option } from "effect"
import { Flag } from "effect/cli"

/** Adapter choice, shared by every command that opens a GPU. */
export const gpuFlags = {
  backend: Flag.String("backend").pipe(Flag.withDescription("Dawn backend (vulkan, metal, d3d12, null)"), Flag.optional),
  adapter: Flag.String("adapter").pipe(Flag.withDescription("substring of the adapter name to use"), Flag.optional),
  toggles: Flag.String("dawn-toggles").pipe(
    Flag.withDescription("comma-separated Dawn toggles to enable (default: vulkan_enable_f16_on_nvidia,allow_unsafe_apis)"),
    Flag.optional,
  ),
} as const

export const toGpuConfig = (f: { backend: Option.Option<string>; adapter: Option.Option<string>; toggles: Option.Option<string> }): GpuConfig => ({
  ...(Option.isSome(f.backend) ? { backend: f.backend.value } : {}),
  ...(Option.isSome(f.adapter) ? { adapterName: f.adapter.value } : {}),
  ...(Option.isSome(f.toggles) ? { enableToggles: f.toggles.value.split(",").filter((s) => s !== "") } : {}),
})

export const dtypeFlag = Flag.Literals("dtype", ["auto", "f32", "f16"]).pipe(
  Flag.withDescription("arithmetic: f32, or f16 storage with f32 accumulation where shader-f16 exists"),
  Flag.withDefault("auto" as const),
)

export const modelFlags = {
  modelDir: Flag.Directory("model-dir", { mustExist: true }).pipe(Flag.withDescription("checkpoint folder: config.json + model.safetensors"), Flag.optional),
  model: Flag.String("model").pipe(Flag.withDescription("known model id (synthetic weights of its shape), e.g. sshleifer/tiny-gpt2"), Flag.optional),
  seed: Flag.Int("seed").pipe(Flag.withDescription("seed of synthetic weights"), Flag.withDefault(0)),
} as const
