// Writes seeded inputs for the full-size CLI runs on a GPU host: BERT-base input_ids [1,128] and ResNet-50 input
// [8,3,224,224] (safetensors), into the folder given (default .devbundle/inputs).
import { writeSafetensors } from "@djinn/engine"
import { mkdirSync } from "node:fs"

const dir = process.argv[2] ?? ".devbundle/inputs"
mkdirSync(dir, { recursive: true })
let s = 12345
const next = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32)
writeSafetensors(`${dir}/bert-s128.safetensors`, {
  input_ids: { dtype: "I32", shape: [1, 128], data: Int32Array.from({ length: 128 }, () => 1000 + Math.floor(next() * 29000)) },
})
writeSafetensors(`${dir}/resnet-b8.safetensors`, {
  input: { dtype: "F32", shape: [8, 3, 224, 224], data: Float32Array.from({ length: 8 * 3 * 224 * 224 }, () => next() * 2 - 1) },
})
console.log(`wrote ${dir}/bert-s128.safetensors, ${dir}/resnet-b8.safetensors`)
