import { writeResults, tinyGpt2, bert } from "./test/synthetic.ts"
const dir = await writeResults([tinyGpt2("t0", "2025-12-01T10:00:00.000Z"), tinyGpt2(), bert()])
console.log(dir)
