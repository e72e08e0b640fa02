// Deno smoke check: the same kernels on Deno's own WebGPU (navigator.gpu): `deno task test:kernels`.
import { openGpu } from "../packages/gpu/src/index.ts"
import { registry } from "../kernels/index.ts"
import * as add from "../kernels/add/add.ts"

const gpu = await openGpu(registry)
const a = gpu.createBuffer(16), b = gpu.createBuffer(16), out = gpu.createBuffer(16)
gpu.writeBuffer(a, 0, new Uint8Array(Float32Array.from([1, 2, 3, 4]).buffer))
gpu.writeBuffer(b, 0, new Uint8Array(Float32Array.from([10, 20, 30, 40]).buffer))
add.encode(gpu, { a: { buffer: a }, b: { buffer: b }, out: { buffer: out }, n: 4, bLen: 4 })
const got = Array.from(new Float32Array((await gpu.read(out, 0, 16)).buffer))
if (got.join() !== "11,22,33,44") throw new Error(`deno smoke: got ${got}`)
console.log(`deno smoke ok on ${gpu.adapter.description || gpu.adapter.vendor}: ${got}`)
gpu.destroy()
