import type { Priority } from "@djinn/protocol"

/** Strict priority order of the classes (the wire's enum order is different). */
export const CLASS_ORDER: ReadonlyArray<Priority> = ["realtime", "interactive", "batch"]

export interface Limits {
  readonly concurrency: number
  readonly maxQueued: number
}

export interface Waiter {
  readonly priority: Priority
  readonly gpu: number
  readonly enqueuedAt: number
  readonly grant: () => void
}

export interface ClassStats {
  readonly queued: number
  readonly running: number
  readonly admitted: number
  readonly rejected: number
  readonly completed: number
  readonly concurrency: number
  readonly maxQueued: number
}

/**
 * The QoS queue's bookkeeping, free of effects so it can be tested exhaustively: one executor turn per GPU; per class
 * a FIFO of waiters, a concurrency limit (requests of the class running at once over all GPUs) and a queue bound.
 * A free GPU goes to the first waiter for it of the highest class that is under its limit.
 */
export class QosCore {
  private readonly waiting: Record<Priority, Waiter[]> = { realtime: [], interactive: [], batch: [] }
  private readonly running: Record<Priority, number> = { realtime: 0, interactive: 0, batch: 0 }
  private readonly counts: Record<Priority, { admitted: number; rejected: number; completed: number }> = {
    realtime: { admitted: 0, rejected: 0, completed: 0 },
    interactive: { admitted: 0, rejected: 0, completed: 0 },
    batch: { admitted: 0, rejected: 0, completed: 0 },
  }
  private readonly busy: boolean[]
  private readonly limits: Readonly<Record<Priority, Limits>>

  constructor(gpus: number, limits: Readonly<Record<Priority, Limits>>) {
    this.busy = Array.from({ length: gpus }, () => false)
    this.limits = limits
  }

  /** Queues a request; undefined when its class's queue is full. `grant` runs (synchronously) when its turn comes. */
  enqueue(priority: Priority, gpu: number, grant: () => void, now: number): Waiter | undefined {
    const queue = this.waiting[priority]
    if (queue.length >= this.limits[priority].maxQueued) {
      this.counts[priority].rejected++
      return undefined
    }
    const waiter: Waiter = { priority, gpu, enqueuedAt: now, grant }
    queue.push(waiter)
    this.counts[priority].admitted++
    this.schedule()
    return waiter
  }

  /** Withdraws a waiter; false when it had already been granted its turn (the caller must then call `done`). */
  cancel(waiter: Waiter): boolean {
    const queue = this.waiting[waiter.priority]
    const i = queue.indexOf(waiter)
    if (i === -1) return false
    queue.splice(i, 1)
    return true
  }

  /** The turn granted to a request of `priority` on `gpu` is over. */
  done(priority: Priority, gpu: number): void {
    this.running[priority]--
    this.counts[priority].completed++
    this.busy[gpu] = false
    this.schedule()
  }

  private schedule(): void {
    for (let gpu = 0; gpu < this.busy.length; gpu++) {
      if (this.busy[gpu]) continue
      for (const priority of CLASS_ORDER) {
        if (this.running[priority] >= this.limits[priority].concurrency) continue
        const queue = this.waiting[priority]
        const i = queue.findIndex((w) => w.gpu === gpu)
        if (i === -1) continue
        const [waiter] = queue.splice(i, 1)
        this.busy[gpu] = true
        this.running[priority]++
        waiter.grant()
        break
      }
    }
  }

  stats(): Record<Priority, ClassStats> {
    const out = {} as Record<Priority, ClassStats>
    for (const p of CLASS_ORDER) {
      out[p] = { queued: this.waiting[p].length, running: this.running[p], ...this.counts[p], ...this.limits[p] }
    }
    return out
  }

  gpuBusy(): ReadonlyArray<boolean> {
    return this.busy
  }
}
