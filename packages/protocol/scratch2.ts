import { encode, decode, type DomainMessage, type RequestId } from "./src/index.ts"
const rid = 7 as RequestId
const small: DomainMessage = { requestId: rid, body: { _tag: "TokenEvent", index: 3, token: 42 } }
const N = 1000000
const sb = encode(small)
const mode = process.argv[2]
let t = performance.now()
if (mode === "enc") for (let i = 0; i < N; i++) encode(small)
else for (let i = 0; i < N; i++) decode(sb)
console.log(mode, (performance.now() - t) * 1000 / N)
