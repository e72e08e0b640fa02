// The sweep's progress on stderr: a redrawn bar on a terminal, one line per baseline otherwise (CI logs, tests).
import { Effect } from "effect"

export interface Progress {
  /** Sets what is running now (workload › baseline › phase) without advancing. */
  readonly status: (text: string) => Effect.Effect<void>
  /** `count` units of work (warm-up or measured runs) done (1 by default). */
  readonly step: (text: string, count?: number) => Effect.Effect<void>
  /** A line that stays (a baseline finished, a file written). */
  readonly log: (line: string) => Effect.Effect<void>
  readonly done: Effect.Effect<void>
}

export interface ProgressOptions {
  readonly total: number
  readonly out?: NodeJS.WriteStream
  /** Redraw in place (default: whether `out` is a terminal). */
  readonly tty?: boolean
}

const WIDTH = 24

export const makeProgress = (options: ProgressOptions): Progress => {
  const out = options.out ?? process.stderr
  const tty = options.tty ?? out.isTTY === true
  const started = Date.now()
  let done = 0
  let current = ""
  const bar = () => {
    const f = options.total === 0 ? 1 : Math.min(1, done / options.total)
    const full = Math.round(f * WIDTH)
    const secs = ((Date.now() - started) / 1000).toFixed(0)
    return `[${"█".repeat(full)}${"░".repeat(WIDTH - full)}] ${done}/${options.total} ${secs}s ${current}`
  }
  const draw = () => {
    if (tty) out.write(`\r\x1b[K${bar().slice(0, (out.columns ?? 120) - 1)}`)
  }
  return {
    status: (text) => Effect.sync(() => {
      current = text
      draw()
    }),
    step: (text, count = 1) => Effect.sync(() => {
      done += count
      current = text
      draw()
    }),
    log: (line) => Effect.sync(() => {
      if (tty) out.write(`\r\x1b[K${line}\n`)
      else out.write(`${line}\n`)
      draw()
    }),
    done: Effect.sync(() => {
      if (tty) out.write(`\r\x1b[K`)
    }),
  }
}
