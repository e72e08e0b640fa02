import type { GpuDevice } from "@djinn/gpu"
import { describe, expect, it } from "vitest"
import { pooledMemory } from "../src/index.ts"

describe("pooledMemory", () => {
  // Only createBuffer and destroyBuffer are called: ids in creation order stand in for buffers.
  const fakeGpu = () => {
    let next = 1
    return { createBuffer: () => next++, destroyBuffer: () => {} } as unknown as GpuDevice
  }

  it("hands a repeated request the same buffers in the same places, whatever order they were released in", () => {
    const mem = pooledMemory(fakeGpu())
    const request = () => [mem.alloc(4096, "stack"), mem.alloc(800, "stack"), mem.alloc(4096, "stack"), mem.alloc(4096, "stack")]
    const first = request()
    for (const a of first) mem.release(a)
    const second = request()
    expect(second.map((a) => a.buffer)).toEqual(first.map((a) => a.buffer))
    for (const a of [...second].reverse()) mem.release(a)
    expect(request().map((a) => a.buffer)).toEqual(first.map((a) => a.buffer))
    expect(mem.buffers()).toBe(4)
  })
})
