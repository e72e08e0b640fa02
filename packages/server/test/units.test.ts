import { variantKey, type GpuDevice } from "@djinn/gpu"
import { Effect, Layer, Result } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { BumpArena, Executor, parseVariantKey, Qos, QosCore, resolveConfig, Settings, StackArena } from "../src/index.ts"

const limits = (c = 1, q = 100) => ({ realtime: { concurrency: c, maxQueued: q }, interactive: { concurrency: c, maxQueued: q }, batch: { concurrency: c, maxQueued: q } })

describe("QoS service", () => {
  it("reports the time a request queued, not the time its job ran (a turn granted at once)", async () => {
    const config = Result.getOrThrow(resolveConfig({}, {}))
    // Qos reads only the number of GPU slots from the executor.
    const layer = Qos.layer.pipe(Layer.provide(Layer.mergeAll(Settings.layer(config), Layer.succeed(Executor, { slots: [{}] } as never))))
    const { value, queueMs } = await Effect.runPromise(
      Effect.gen(function* () {
        const qos = yield* Qos
        return yield* qos.run("interactive", 0, Effect.sleep("40 millis").pipe(Effect.as(7)))
      }).pipe(Effect.provide(layer)),
    )
    expect(value).toBe(7)
    expect(queueMs).toBeLessThan(20)
  })
})

describe("QoS queue bookkeeping", () => {
  it("grants one turn per GPU: realtime before interactive before batch, FIFO within a class", () => {
    const core = new QosCore(1, limits(1))
    const order: string[] = []
    const add = (p: "realtime" | "interactive" | "batch", name: string) => core.enqueue(p, 0, () => order.push(name), 0)
    add("batch", "b1") // runs at once: the GPU is free
    add("batch", "b2")
    add("interactive", "i1")
    add("realtime", "r1")
    add("interactive", "i2")
    for (const p of ["batch", "realtime", "interactive", "interactive", "batch"] as const) core.done(p, 0)
    expect(order).toEqual(["b1", "r1", "i1", "i2", "b2"])
  })

  it("honours per-class concurrency over several GPUs and bounds each queue", () => {
    const core = new QosCore(3, { ...limits(3), batch: { concurrency: 1, maxQueued: 1 } })
    const granted: string[] = []
    core.enqueue("batch", 0, () => granted.push("b@0"), 0)
    core.enqueue("batch", 1, () => granted.push("b@1"), 0) // waits: batch may run once at a time
    expect(core.enqueue("batch", 2, () => granted.push("b@2"), 0)).toBeUndefined() // queue full
    core.enqueue("interactive", 1, () => granted.push("i@1"), 0)
    expect(granted).toEqual(["b@0", "i@1"])
    core.done("batch", 0)
    core.done("interactive", 1)
    expect(granted).toEqual(["b@0", "i@1", "b@1"])
    expect(core.stats().batch).toMatchObject({ rejected: 1, completed: 1, running: 1 })
  })

  it("a cancelled waiter leaves the queue; one already granted must be handed back", () => {
    const core = new QosCore(1, limits(1))
    const got: number[] = []
    core.enqueue("interactive", 0, () => got.push(1), 0)
    const w2 = core.enqueue("interactive", 0, () => got.push(2), 0)!
    const w3 = core.enqueue("interactive", 0, () => got.push(3), 0)!
    expect(core.cancel(w2)).toBe(true)
    core.done("interactive", 0)
    expect(got).toEqual([1, 3])
    expect(core.cancel(w3)).toBe(false)
  })

  it("never runs two requests on one GPU, never exceeds a class limit, never loses a request (property)", () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant("enqueue" as const), p: fc.constantFrom("realtime" as const, "interactive" as const, "batch" as const), gpu: fc.integer({ min: 0, max: 1 }) }),
      fc.record({ kind: fc.constant("finish" as const), pick: fc.nat() }),
    )
    fc.assert(fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
      const core = new QosCore(2, { realtime: { concurrency: 1, maxQueued: 1000 }, interactive: { concurrency: 2, maxQueued: 1000 }, batch: { concurrency: 1, maxQueued: 1000 } })
      const running: Array<{ p: "realtime" | "interactive" | "batch"; gpu: number }> = []
      let enqueued = 0
      let granted = 0
      const check = () => {
        for (const gpu of [0, 1]) expect(running.filter((r) => r.gpu === gpu).length).toBeLessThanOrEqual(1)
        expect(running.filter((r) => r.p === "realtime").length).toBeLessThanOrEqual(1)
        expect(running.filter((r) => r.p === "batch").length).toBeLessThanOrEqual(1)
      }
      for (const o of ops) {
        if (o.kind === "enqueue") {
          enqueued++
          core.enqueue(o.p, o.gpu, () => { granted++; running.push({ p: o.p, gpu: o.gpu }) }, 0)
        } else if (running.length > 0) {
          const [r] = running.splice(o.pick % running.length, 1)
          core.done(r.p, r.gpu)
        }
        check()
      }
      while (running.length > 0) {
        const r = running.shift()!
        core.done(r.p, r.gpu)
        check()
      }
      expect(granted).toBe(enqueued)
    }))
  })
})

/** A GpuDevice that only hands out buffer ids (the arenas need nothing else). */
const fakeGpu = () => {
  let next = 1
  const live = new Set<number>()
  return {
    live,
    gpu: { createBuffer: () => { live.add(next); return next++ }, destroyBuffer: (b: number) => { live.delete(b) } } as unknown as GpuDevice,
  }
}

describe("VMU arenas", () => {
  it("bump-allocates 256-aligned ranges in one buffer and fails with the typed error when full", () => {
    const { gpu, live } = fakeGpu()
    const arena = new BumpArena(gpu, 4096, "a", (need, free) => new Error(`need ${need} free ${free}`))
    const a = arena.alloc(10)
    const b = arena.alloc(300)
    expect([a.offset, b.offset, a.buffer === b.buffer]).toEqual([0, 256, true])
    expect(() => arena.alloc(4000)).toThrow(/need 4096 free 3328/)
    arena.reset()
    expect(arena.alloc(4096).offset).toBe(0)
    arena.destroy()
    expect(live.size).toBe(0)
  })

  it("the stack hands out one buffer per allocation and reuses them request after request", () => {
    const { gpu, live } = fakeGpu()
    const stack = new StackArena(gpu, 1 << 20)
    const first = [stack.alloc(1000), stack.alloc(5000), stack.alloc(1000)].map((a) => a.buffer)
    expect(new Set(first).size).toBe(3)
    stack.reset()
    expect(stack.used).toBe(0)
    const second = [stack.alloc(1000), stack.alloc(5000), stack.alloc(1000)].map((a) => a.buffer)
    // The same buffers in the same places, request after request (bind groups are cached by buffer).
    expect(second).toEqual(first)
    stack.reset()
    expect([stack.alloc(1000), stack.alloc(5000), stack.alloc(1000)].map((a) => a.buffer)).toEqual(first)
    stack.reset()
    const tiny = new StackArena(gpu, 0)
    tiny.alloc(100)
    tiny.reset() // over budget: pooled buffers are destroyed
    stack.destroy()
    expect(live.size).toBe(0)
  })
})

describe("configuration", () => {
  it("takes flags over environment over defaults, and the seed's env names", () => {
    const c = resolveConfig({ port: 7000 }, { DJINN_PORT: "6000", DJINN_HOST: "0.0.0.0", GENIE_VMU_SESSION_ARENA_MB: "64", DJINN_PRELOAD: "a, b" })
    expect(Result.isSuccess(c)).toBe(true)
    if (Result.isFailure(c)) throw c.failure
    expect(c.success).toMatchObject({ port: 7000, host: "0.0.0.0", arenaBytes: 64 * 1024 * 1024, preload: ["a", "b"], dtype: "auto" })
  })
  it("keeps request traces only when asked", () => {
    const off = resolveConfig({}, {})
    const on = resolveConfig({}, { DJINN_TRACE_REQUESTS: "on" })
    if (Result.isFailure(off) || Result.isFailure(on)) throw new Error("config refused")
    expect(off.success.traceRequests).toBe(false)
    expect(on.success.traceRequests).toBe(true)
    expect(Result.isFailure(resolveConfig({ traceRequests: "maybe" }, {}))).toBe(true)
  })
  it("names what is wrong", () => {
    const bad = resolveConfig({}, { DJINN_PORT: "http" })
    if (Result.isSuccess(bad)) throw new Error("accepted port 'http'")
    expect(bad.failure).toMatchObject({ reason: "Config", message: expect.stringContaining("port") })
    expect(Result.isFailure(resolveConfig({ arenaMb: -1 }, {}))).toBe(true)
    expect(Result.isFailure(resolveConfig({ dtype: "f64" }, {}))).toBe(true)
  })
})

describe("blind pipelines", () => {
  it("parses the GPU package's variant keys back into the variant", () => {
    for (const variant of [{}, { dtype: "f16" as const }, { defines: ["B", "A"], constants: { WG: 64, TILE: 8 } }]) {
      const key = variantKey("matmul", variant)
      expect(variantKey("matmul", parseVariantKey("matmul", key))).toBe(key)
    }
    expect(() => parseVariantKey("add", variantKey("matmul", {}))).toThrow(/variant key/)
    expect(() => parseVariantKey("add", "add|f32||WG=x")).toThrow(/constant/)
  })
})
