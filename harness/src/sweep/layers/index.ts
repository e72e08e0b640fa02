// Which Layer answers for a baseline of the config: one per system, all behind the one `Baseline` service.
import type { Layer } from "effect"
import type { Baseline as BaselineConfig } from "../../config.ts"
import type { Baseline, Job } from "../baseline.ts"
import { nativeLayer } from "./native.ts"
import { rpcLayer } from "./rpc.ts"
import { unavailableLayer } from "./unavailable.ts"

export const baselineLayer = (config: BaselineConfig, job: Job): Layer.Layer<Baseline> => {
  switch (config.type) {
    case "native":
      return nativeLayer(config, job)
    case "rpc":
      return rpcLayer(config, job)
    default:
      return unavailableLayer(`baseline type ${config.type} is not built yet`)
  }
}
