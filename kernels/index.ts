import type { KernelRegistry, KernelSpec } from "@djinn/gpu"
import * as add from "./add/add.ts"
import * as matmul from "./matmul/matmul.ts"
import * as gemv from "./gemv/gemv.ts"
import * as copy2d from "./copy2d/copy2d.ts"
import * as cast from "./cast/cast.ts"
import * as gelu from "./gelu/gelu.ts"
import * as embedding from "./embedding/embedding.ts"
import * as fill from "./fill/fill.ts"
import * as argmax from "./argmax/argmax.ts"
import * as layernorm from "./layernorm/layernorm.ts"
import * as softmax from "./softmax/softmax.ts"
import * as attention from "./attention/attention.ts"
import * as rmsnorm from "./rmsnorm/rmsnorm.ts"
import * as rope from "./rope/rope.ts"
import * as silu_mul from "./silu_mul/silu_mul.ts"
import * as tanh from "./tanh/tanh.ts"
import * as maxpool from "./maxpool/maxpool.ts"
import * as avgpool from "./avgpool/avgpool.ts"
import * as conv2d from "./conv2d/conv2d.ts"
import * as im2col from "./im2col/im2col.ts"
import * as gpt2_decode from "./gpt2_decode/gpt2_decode.ts"

/** Every kernel, by id: the GPU device compiles pipelines from here (locally, and on a server for blind clients). */
export const specs: readonly KernelSpec[] = [add.spec, copy2d.spec, cast.spec, gelu.spec, embedding.spec, fill.spec, argmax.spec, layernorm.spec, softmax.spec, ...attention.specs, rope.spec, silu_mul.spec, maxpool.spec, avgpool.spec, ...conv2d.specs, im2col.spec, rmsnorm.spec, tanh.spec, ...matmul.specs, ...gemv.specs, gpt2_decode.spec]

export const registry: KernelRegistry = new Map(specs.map((s) => [s.id, s]))

export { add, copy2d, cast, gelu, embedding, fill, argmax, layernorm, softmax, attention, rmsnorm, rope, silu_mul, tanh, maxpool, avgpool, conv2d, im2col, matmul, gemv, gpt2_decode }
