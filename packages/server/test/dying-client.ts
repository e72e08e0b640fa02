// A client that starts a long streamed generation and prints "streaming" at its first token; the test kills it.
import { connect } from "@djinn/client"

const [address, modelId, tokens] = process.argv.slice(2)
const conn = await connect(address)
const model = await conn.ensureModel({ modelId })
const session = await conn.openSession({ kvBudgetBytes: 1 << 20 })
let first = true
await session.generate(model, [1, 2, 3, 4], {
  maxNewTokens: Number(tokens),
  onToken: () => {
    if (first) console.log("streaming")
    first = false
  },
})
console.log("finished")
