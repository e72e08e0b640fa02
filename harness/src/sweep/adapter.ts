import type { AdapterDescription } from "@djinn/gpu"
import { adapterName } from "@djinn/gpu"
import type { BaselineEnvironment } from "../result.ts"

/** The result file's view of a WebGPU adapter (GPUAdapterInfo + backend), named with the engine's `adapterName`. */
export const adapterEnvironment = (a: AdapterDescription, extra: Record<string, string> = {}): BaselineEnvironment => ({
  adapter: {
    vendor: a.vendor,
    architecture: a.architecture,
    device: a.device,
    description: a.description,
    backend: a.backend === "default" ? "dawn" : `dawn/${a.backend}`,
  },
  gpu: adapterName(a),
  ...(Object.keys(extra).length > 0 ? { packages: extra } : {}),
})
