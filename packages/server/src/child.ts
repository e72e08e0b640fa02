import { spawn, type ChildProcess } from "node:child_process"
import { fileURLToPath } from "node:url"

export interface SpawnedServer {
  readonly host: string
  readonly port: number
  readonly httpPort: number | undefined
  /** host:port of the djinn protocol. */
  readonly address: string
  readonly process: ChildProcess
  /** Everything the server printed so far (stdout and stderr). */
  readonly log: () => string
  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  readonly stop: (graceMs?: number) => Promise<number | null>
}

// Bundled (dist/), the server is server.mjs beside the bundle that spawns it.
const MAIN = fileURLToPath((globalThis as { __DJINN_BUNDLED__?: boolean }).__DJINN_BUNDLED__ === true
  ? new URL("./server.mjs", import.meta.url)
  : new URL("./main.ts", import.meta.url))
const LISTENING = /djinn server listening on (\S+):(\d+)(?: \(http \S+:(\d+)\))?/

/**
 * Starts a server in a child process (tests, benchmarks, a baseline's own process) on a free port unless `args` name
 * one, and resolves once it listens.
 */
export const spawnServer = (
  args: ReadonlyArray<string> = [],
  options: { readonly env?: Readonly<Record<string, string | undefined>>; readonly timeoutMs?: number; readonly node?: string } = {},
): Promise<SpawnedServer> =>
  new Promise((resolve, reject) => {
    const withPort = args.includes("--port") ? args : ["--port", "0", ...args]
    const child = spawn(options.node ?? process.execPath, [MAIN, ...withPort], { env: { ...options.env }, stdio: ["ignore", "pipe", "pipe"] })
    let output = ""
    let ready = false
    const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)))
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`the server did not start within ${options.timeoutMs ?? 60_000} ms:\n${output}`))
    }, options.timeoutMs ?? 60_000)
    const onOutput = (chunk: Buffer) => {
      output += chunk.toString()
      const m = ready ? null : LISTENING.exec(output)
      if (m === null) return
      ready = true
      clearTimeout(timer)
      const host = m[1]
      const port = Number(m[2])
      resolve({
        host,
        port,
        httpPort: m[3] === undefined ? undefined : Number(m[3]),
        address: `${host}:${port}`,
        process: child,
        log: () => output,
        stop: async (graceMs = 10_000) => {
          if (child.exitCode !== null || child.signalCode !== null) return child.exitCode
          child.kill("SIGTERM")
          const killer = setTimeout(() => child.kill("SIGKILL"), graceMs)
          const code = await exited
          clearTimeout(killer)
          return code
        },
      })
    }
    child.stdout!.on("data", onOutput)
    child.stderr!.on("data", onOutput)
    void exited.then((code) => {
      if (ready) return
      clearTimeout(timer)
      reject(new Error(`the server exited (${code}) before listening:\n${output}`))
    })
  })
