// The `native` baseline's process: the engine on the local GPU, driven by JSON lines on stdin, one reply line per
// request on stdout. Timing is taken here, around the engine call only, so the stdio hop to the harness is not
// counted. Exits when stdin closes (the harness went away) or on {"op":"exit"}.
//   → {"op":"setup","job":ModelJob}            ← {"ok":true,"info":HostInfo}
//   → {"op":"run","input":WorkInput}            ← {"ok":true,"ms":n,"output":WorkOutputJson}
//   any failure                                  ← {"ok":false,"error":"…"}
import { createInterface } from "node:readline"
import { type EngineHost, openHost } from "../engine/host.ts"
import { outputToJson } from "../engine/work.ts"

let host: EngineHost | undefined
const reply = (msg: unknown) => void process.stdout.write(`${JSON.stringify(msg)}\n`)
const describe = (e: unknown) => (e instanceof Error ? `${(e as { reason?: string }).reason ? `${(e as { reason?: string }).reason}: ` : ""}${e.message}` : String(e))

const handle = async (msg: { op: string; job?: never; input?: never }) => {
  switch (msg.op) {
    case "setup": {
      host?.close()
      host = await openHost(msg.job!)
      return { ok: true, info: host.info }
    }
    case "run": {
      if (host === undefined) return { ok: false, error: "run before setup" }
      const { output, ms } = await host.run(msg.input!)
      return { ok: true, ms, output: outputToJson(output) }
    }
    case "exit":
      host?.close()
      process.exit(0)
    default:
      return { ok: false, error: `unknown op ${JSON.stringify(msg.op)}` }
  }
}

// One request at a time, in order: the harness waits for each reply.
let queue = Promise.resolve()
createInterface({ input: process.stdin }).on("line", (line) => {
  queue = queue.then(async () => {
    try {
      reply(await handle(JSON.parse(line)))
    } catch (e) {
      reply({ ok: false, error: describe(e) })
    }
  })
}).on("close", () => {
  void queue.finally(() => {
    host?.close()
    process.exit(0)
  })
})
