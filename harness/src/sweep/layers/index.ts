// Which Layer answers for a baseline of the config: one per system, all behind the one `Baseline` service.
import type { Layer } from "effect"
import type { Baseline as BaselineConfig } from "../../config.ts"
import type { Baseline, Job } from "../baseline.ts"
import { nativeLayer } from "./native.ts"
import { remoteDjinnLayer } from "./remote-djinn.ts"
import { pytorchLayer } from "./pytorch.ts"
import { rpcLayer } from "./rpc.ts"
import { vllmLayer } from "./vllm.ts"

export const baselineLayer = (config: BaselineConfig, job: Job): Layer.Layer<Baseline> => {
  switch (config.type) {
    case "native":
      return nativeLayer(config, job)
    case "remote_djinn":
      return remoteDjinnLayer(config, job)
    case "rpc":
      return rpcLayer(config, job)
    case "vllm":
      return vllmLayer(config, job)
    case "native_pytorch":
    case "pytorch_rpc":
      return pytorchLayer(config, job)
  }
}
