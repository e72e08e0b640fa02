import type { KernelRegistry, KernelSpec } from "@djinn/gpu"
import * as add from "./add/add.ts"

/** Every kernel, by id: the GPU device compiles pipelines from here (locally, and on a server for blind clients). */
export const specs: readonly KernelSpec[] = [add.spec]

export const registry: KernelRegistry = new Map(specs.map((s) => [s.id, s]))

export { add }
