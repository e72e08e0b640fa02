// Deno check: the same engine and kernels on Deno's own WebGPU (navigator.gpu) — gpt2-mini's greedy_32 reproduced.
// `deno run -A --unstable-webgpu scripts/deno-smoke.ts [fixtures dir]` (the test suite runs it where deno is installed).
declare const Deno: { args: string[]; version: { deno: string }; exit(code: number): never }

import { openGpu } from "@djinn/gpu"
import { registry } from "@djinn/kernels"
import { directMemory, generate, loadCausalLM, resolveModel } from "@djinn/engine"
import { readFileSync } from "node:fs"

const fixtures = Deno.args[0] ?? new URL("../../shared/fixtures/", import.meta.url).pathname
const golden = JSON.parse(readFileSync(`${fixtures}/gpt2-mini/golden.json`, "utf8")) as { input_ids: number[]; greedy_32: number[] }
const gpu = await openGpu(registry)
const mem = directMemory(gpu)
const lm = loadCausalLM(gpu, mem, resolveModel({ modelDir: `${fixtures}/gpt2-mini` }), "f32")
const { tokens } = await generate(gpu, mem, lm, golden.input_ids, { maxNewTokens: 32 })
const same = tokens.every((t, i) => t === golden.greedy_32[i])
console.log(JSON.stringify({ runtime: `deno ${Deno.version.deno}`, adapter: gpu.adapter.description || gpu.adapter.vendor, tokens, matches_greedy_32: same }))
gpu.destroy()
if (!same) Deno.exit(1)
