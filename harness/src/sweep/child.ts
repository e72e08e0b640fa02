// Child processes of the sweep (workers, servers, Python peers): every one is acquired with acquireRelease, so a
// finished baseline, a failure or an interrupt (Ctrl-C) stops it. Each child leads its own process group and is
// stopped as a group (SIGTERM, then SIGKILL after a grace period), so grandchildren (a Python rpc peer's other rank)
// go with it.
import { type ChildProcess, spawn } from "node:child_process"
import { createInterface } from "node:readline"
import { Effect, Scope } from "effect"
import { baselineError, type BaselineError } from "./errors.ts"

export interface ChildSpec {
  /** Names the child in errors and progress ("native worker", "djinn server"). */
  readonly label: string
  readonly command: string
  readonly args: ReadonlyArray<string>
  readonly cwd?: string
  /** Added to the harness's environment. */
  readonly env?: Readonly<Record<string, string>>
  /** How long a stop waits after SIGTERM before SIGKILL (default 3000 ms). */
  readonly graceMs?: number
}

export interface Child {
  readonly pid: number
  readonly label: string
  /** Sends one JSON line and waits for the next JSON line on stdout (the worker protocol: one reply per request). */
  readonly request: (message: unknown, timeoutMs?: number) => Effect.Effect<unknown, BaselineError>
  /** Waits for a stdout line matching `pattern` (a server announcing its port) and returns the match. */
  readonly waitForLine: (pattern: RegExp, timeoutMs: number) => Effect.Effect<RegExpMatchArray, BaselineError>
  /** The last lines of stderr, for error messages. */
  readonly stderrTail: () => string
  readonly running: () => boolean
}

const TAIL_LINES = 20

const processGone = (proc: ChildProcess) => proc.exitCode !== null || proc.signalCode !== null

const signalGroup = (proc: ChildProcess, signal: NodeJS.Signals) => {
  try {
    process.kill(-proc.pid!, signal) // the group: the child and whatever it started
  } catch {
    try {
      proc.kill(signal)
    } catch { /* already gone */ }
  }
}

const waitExit = (proc: ChildProcess, ms: number): Promise<boolean> =>
  processGone(proc)
    ? Promise.resolve(true)
    : new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms)
      proc.once("exit", () => {
        clearTimeout(timer)
        resolve(true)
      })
    })

/** Stops a child and its group: close stdin (workers exit on EOF), SIGTERM, then SIGKILL. Never fails. */
const stop = (proc: ChildProcess, graceMs: number): Promise<void> =>
  (async () => {
    if (processGone(proc)) {
      signalGroup(proc, "SIGKILL") // grandchildren may outlive a dead leader
      return
    }
    proc.stdin?.end()
    signalGroup(proc, "SIGTERM")
    if (!(await waitExit(proc, graceMs))) {
      signalGroup(proc, "SIGKILL")
      await waitExit(proc, 2000)
    } else {
      signalGroup(proc, "SIGKILL")
    }
  })()

export const spawnChild = (spec: ChildSpec): Effect.Effect<Child, BaselineError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<ChildProcess, BaselineError>((resume) => {
      const proc = spawn(spec.command, [...spec.args], {
        cwd: spec.cwd,
        env: { ...process.env, ...spec.env },
        stdio: ["pipe", "pipe", "pipe"],
        detached: true, // own process group: stopped as a group; the harness's Ctrl-C handler stops it
      })
      const onError = (e: Error) => resume(Effect.fail(baselineError("Process", `${spec.label}: cannot start ${spec.command}: ${e.message}`)))
      proc.once("error", onError)
      proc.once("spawn", () => {
        proc.off("error", onError)
        resume(Effect.succeed(proc))
      })
    }),
    (proc) => Effect.promise(() => stop(proc, spec.graceMs ?? 3000)),
  ).pipe(Effect.map((proc) => wrap(spec, proc)))

const wrap = (spec: ChildSpec, proc: ChildProcess): Child => {
  const stderr: Array<string> = []
  createInterface({ input: proc.stderr! }).on("line", (l) => {
    stderr.push(l)
    if (stderr.length > TAIL_LINES) stderr.shift()
  })
  proc.on("error", () => {}) // reported through exit / requests
  const lines: Array<string> = []
  const waiters: Array<() => void> = []
  const wake = () => waiters.splice(0).forEach((w) => w())
  createInterface({ input: proc.stdout! }).on("line", (l) => {
    lines.push(l)
    wake()
  })
  proc.once("exit", wake)
  proc.stdin!.on("error", () => {}) // EPIPE after the child died: reported as "exited"

  const tail = () => stderr.slice(-8).join("\n")
  const died = () =>
    baselineError(
      "Process",
      `${spec.label} exited (${proc.exitCode !== null ? `code ${proc.exitCode}` : `signal ${proc.signalCode}`})${tail() ? `: ${tail()}` : ""}`,
    )

  /** The next stdout line that satisfies `accept`, skipping others; fails when the child exits or time runs out. */
  const nextLine = <A>(accept: (line: string) => A | undefined, timeoutMs: number, what: string) =>
    Effect.callback<A, BaselineError>((resume) => {
      let done = false
      const finish = (e: Effect.Effect<A, BaselineError>) => {
        if (done) return
        done = true
        clearTimeout(timer)
        resume(e)
      }
      const check = () => {
        if (done) return
        while (lines.length > 0) {
          const got = accept(lines.shift()!)
          if (got !== undefined) return finish(Effect.succeed(got))
        }
        if (processGone(proc)) return finish(Effect.fail(died()))
        waiters.push(check)
      }
      const timer = setTimeout(
        () => finish(Effect.fail(baselineError("Timeout", `${spec.label}: no ${what} within ${timeoutMs} ms${tail() ? `: ${tail()}` : ""}`))),
        timeoutMs,
      )
      check()
      return Effect.sync(() => {
        done = true
        clearTimeout(timer)
      })
    })

  const parseJson = (line: string): unknown => {
    try {
      return JSON.parse(line)
    } catch {
      return undefined // a stray log line on stdout: skip it
    }
  }

  return {
    pid: proc.pid!,
    label: spec.label,
    running: () => !processGone(proc),
    stderrTail: tail,
    request: (message, timeoutMs = 600_000) =>
      Effect.suspend(() => {
        if (processGone(proc)) return Effect.fail(died())
        proc.stdin!.write(`${JSON.stringify(message)}\n`)
        return nextLine(parseJson, timeoutMs, "reply")
      }),
    waitForLine: (pattern, timeoutMs) => nextLine((l) => l.match(pattern) ?? undefined, timeoutMs, `line matching ${pattern}`),
  }
}
