// Exits 0 and prints the adapter when Dawn finds a WebGPU adapter on this machine, 1 otherwise.
import { create, globals } from "webgpu"

Object.assign(globalThis, globals)
const adapter = await create([]).requestAdapter()
if (adapter === null) {
  console.error("no WebGPU adapter")
  process.exit(1)
}
console.log(`adapter: ${adapter.info.vendor} ${adapter.info.architecture} ${adapter.info.device} ${adapter.info.description}`)
process.exit(0)
