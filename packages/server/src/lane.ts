import { Effect, FiberSet, type Scope } from "effect"

interface Item {
  readonly effect: Effect.Effect<void>
  readonly cancel: () => void
}

/** A sequential runner: work submitted to it runs one item at a time, in submission order. */
export interface Lane {
  /** Runs `effect` after everything submitted before it; `cancel` runs instead if the lane closes first. */
  readonly submit: (effect: Effect.Effect<void>, cancel: () => void) => void
  readonly pending: () => number
}

/**
 * A lane whose fibers live in the current scope. Closing the scope cancels the queued items and interrupts the
 * running one, waiting for it: an executor job is uninterruptible, so GPU work is never abandoned halfway.
 */
export const makeLane: Effect.Effect<Lane, never, Scope.Scope> = Effect.gen(function* () {
  const fork = yield* FiberSet.makeRuntime<never, void, never>()
  const items: Item[] = []
  let running = false
  let closed = false
  // Added after the fiber set, so it runs first at close: nothing new starts while the running item is interrupted.
  yield* Effect.addFinalizer(() => Effect.sync(() => {
    closed = true
    for (const item of items.splice(0)) item.cancel()
  }))
  const pump = (): void => {
    const item = items.shift()
    if (item === undefined || closed) {
      running = false
      return
    }
    running = true
    fork(item.effect.pipe(Effect.ensuring(Effect.sync(pump))))
  }
  return {
    submit: (effect, cancel) => {
      if (closed) return cancel()
      items.push({ effect, cancel })
      if (!running) pump()
    },
    pending: () => items.length,
  }
})
