// The transport floor for a large request on this host: N bytes client → server over loopback TCP, a 16-byte reply,
// with nothing but Node's sockets in between (no framing library, no capnp, no GPU). What the remote tax of a large
// input (ResNet-50 b8: 4.8 MB of f32 images) cannot go below with TCP on this machine.
//   node bench/loopback.ts [--bytes 4817116] [--n 60] [--out f.json]
// Two readers: Node's 'data' events (a fresh buffer a read, copied into the destination), and `onread` into the
// destination buffer itself (what packages/protocol's in-place reads do). Plus memcpy of the same bytes, for scale.
// The reader runs in a child process, as the server does in the tax bench.
import { once } from "node:events"
import { writeFileSync } from "node:fs"
import * as net from "node:net"
import { parseArgs } from "node:util"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

const { values } = parseArgs({
  options: {
    bytes: { type: "string", default: "4817116" }, n: { type: "string", default: "60" }, out: { type: "string" },
    // Internal: run as the reading process, connecting to this port.
    reader: { type: "string" }, mode: { type: "string", default: "onread" },
  },
})
const BYTES = Number(values.bytes)
const N = Number(values.n)
if (!Number.isInteger(BYTES) || BYTES < 1 || !Number.isInteger(N) || N < 1) throw new Error("--bytes and --n must be positive integers")

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const min = (xs: number[]) => Math.min(...xs)

type Mode = "data" | "onread"

/** The reading process: connects, answers every BYTES-byte message with 16 bytes. */
const runReader = (port: number, mode: Mode): void => {
  const dest = Buffer.allocUnsafe(BYTES)
  const reply = Buffer.alloc(16)
  let got = 0
  const arrived = (n: number) => { got += n; if (got === BYTES) { got = 0; reader.write(reply) } }
  const reader = mode === "onread"
    ? net.connect({ port, host: "127.0.0.1", noDelay: true, onread: { buffer: () => dest.subarray(got), callback: (n: number) => { arrived(n); return true } } } as net.NetConnectOpts)
    : net.connect({ port, host: "127.0.0.1", noDelay: true })
  if (mode === "data") reader.on("data", (chunk: Buffer) => { chunk.copy(dest, got); arrived(chunk.length) })
  reader.on("close", () => process.exit(0))
  reader.on("error", () => process.exit(1))
}

/**
 * The writer listens; a child process connects and reads every BYTES-byte message by 'data' events (a fresh buffer a
 * read, copied into place) or with `onread` straight into the destination, answering 16 bytes. (The reading side
 * connects only because a connecting socket is the one that takes `onread`; the bytes cross loopback the same way.)
 * Returns the writer's round trips.
 */
const roundTrips = async (mode: Mode): Promise<number[]> => {
  const server = net.createServer({ noDelay: true })
  server.listen(0, "127.0.0.1")
  await once(server, "listening")
  const port = (server.address() as net.AddressInfo).port
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), "--reader", String(port), "--mode", mode, "--bytes", String(BYTES)], { stdio: "inherit" })
  const [writer] = (await once(server, "connection")) as [net.Socket]
  writer.setNoDelay(true)
  let pending: (() => void) | undefined
  let back = 0
  writer.on("data", (chunk: Buffer) => { back += chunk.length; if (back >= 16) { back -= 16; pending?.() } })
  const payload = Buffer.alloc(BYTES, 7)
  const times: number[] = []
  for (let i = 0; i < N + 3; i++) {
    const t0 = performance.now()
    const done = new Promise<void>((resolve) => { pending = resolve })
    writer.write(payload)
    await done
    if (i >= 3) times.push(performance.now() - t0)
  }
  writer.destroy()
  server.close()
  await once(child, "exit")
  return times
}

const copies = (): number[] => {
  const a = Buffer.alloc(BYTES, 7)
  const b = Buffer.allocUnsafe(BYTES)
  const times: number[] = []
  for (let i = 0; i < N + 3; i++) {
    const t0 = performance.now()
    a.copy(b)
    if (i >= 3) times.push(performance.now() - t0)
  }
  return times
}

const main = async (): Promise<void> => {
  const results: Record<string, { median_ms: number; min_ms: number; gb_per_s: number }> = {}
  for (const [name, times] of [["memcpy", copies()], ["tcp_data_events", await roundTrips("data")], ["tcp_onread_in_place", await roundTrips("onread")]] as const) {
    const m = median(times)
    results[name] = { median_ms: m, min_ms: min(times), gb_per_s: BYTES / m / 1e6 }
    console.log(`${name.padEnd(20)} median ${m.toFixed(3)} ms  min ${min(times).toFixed(3)} ms  ${(BYTES / m / 1e6).toFixed(2)} GB/s (${BYTES} bytes, ${N} runs)`)
  }
  if (values.out !== undefined) writeFileSync(values.out, JSON.stringify({ bench: "bench/loopback.ts", date: new Date().toISOString(), bytes: BYTES, runs: N, results }, null, 2))
}

if (values.reader !== undefined) runReader(Number(values.reader), values.mode === "data" ? "data" : "onread")
else await main()
