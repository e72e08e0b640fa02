import { adapterName } from "@djinn/gpu"
import { Console, Effect } from "effect"
import { Command } from "effect/cli"
import { gpuFlags, toGpuConfig } from "../flags.ts"
import { withGpu } from "../run-engine.ts"

export const info = Command.make("info", { ...gpuFlags }, (flags) =>
  Effect.gen(function* () {
    const adapter = yield* withGpu(toGpuConfig(flags), async (gpu) => gpu.adapter)
    yield* Console.log(JSON.stringify({ adapter: adapterName(adapter), ...adapter }, null, 2))
  })).pipe(Command.withDescription("Print the GPU adapter, its features and limits"))
