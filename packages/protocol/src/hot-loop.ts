// Busy-polling: after socket traffic, the event loop is kept from sleeping for a while (a chain of setImmediate
// callbacks makes libuv poll with a zero timeout), so the next frame is picked up within microseconds instead of
// after the kernel wakes a thread blocked in epoll_wait — on an idle host, out of a deep CPU idle state. A latency
// mode that costs one busy core per process while it lasts (as CUDA's default spin-wait on synchronisation does);
// off unless DJINN_BUSY_POLL_MS (how long after the last traffic to keep polling) is set, or `setBusyPoll` is called.

let windowMs = (() => {
  const v = Number((globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.DJINN_BUSY_POLL_MS ?? 0)
  return Number.isFinite(v) && v > 0 ? v : 0
})()
let until = 0
let running = false
// Referenced immediates: Node polls without blocking only while a referenced one is pending (an unref'd one lets the
// poll block). A process is thus held open for at most the window after its last traffic.
const spin = (): void => {
  if (windowMs > 0 && performance.now() < until) {
    setImmediate(spin)
  } else {
    running = false
  }
}

/** Keeps the event loop polling for the configured window from now (no-op while busy-polling is off). */
export const keepHot = (): void => {
  if (windowMs === 0) return
  until = performance.now() + windowMs
  if (!running) {
    running = true
    setImmediate(spin)
  }
}

/** Sets the busy-poll window in ms (0 turns it off); for tests and in-process A/B. */
export const setBusyPoll = (ms: number): void => {
  windowMs = Number.isFinite(ms) && ms > 0 ? ms : 0
}

export const busyPollMs = (): number => windowMs

/** Whether the loop is being kept polling now. */
export const polling = (): boolean => running
