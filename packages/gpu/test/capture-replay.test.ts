import { registry } from "@djinn/kernels"
import * as add from "@djinn/kernels/add/add.ts"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { openGpu, WebGpuDevice } from "../src/index.ts"

describe("capture and replay", () => {
  let gpu: WebGpuDevice
  beforeAll(async () => {
    const opened = await openGpu(registry)
    if (!(opened instanceof WebGpuDevice)) throw new Error("replay needs a WebGpuDevice")
    gpu = opened
  })
  afterAll(() => gpu?.destroy())

  const n = 64
  const f32 = (values: number[]) => new Uint8Array(new Float32Array(values).buffer)
  const floats = async (id: number, offset = 0) => Array.from(new Float32Array((await gpu.read(id, offset, 4 * n)).buffer))
  const range = (k: number) => Array.from({ length: n }, (_, i) => i * k)
  const setup = () => {
    const a = gpu.createBuffer(4 * n), b = gpu.createBuffer(4 * n), c = gpu.createBuffer(4 * n), out = gpu.createBuffer(4 * n)
    const bind = (buffer: number) => ({ buffer, offset: 0, size: 4 * n })
    // out = (a + b) + c over two submits, with a write of c made inside the recording.
    const record = () => {
      add.encode(gpu, { a: bind(a), b: bind(b), out: bind(out), n, bLen: n })
      gpu.submit()
      gpu.writeBuffer(c, 0, f32(range(100)))
      add.encode(gpu, { a: bind(out), b: bind(c), out: bind(a), n, bLen: n })
    }
    return { a, b, c, out, record }
  }

  it("a replay redoes the dispatches on the buffers' new contents, and the writes made while recording", async () => {
    gpu.setReplay(true)
    const { a, b, c, record } = setup()
    gpu.writeBuffer(a, 0, f32(range(1)))
    gpu.writeBuffer(b, 0, f32(range(2)))
    gpu.takeCpuStats()
    const recording = gpu.capture(record)
    expect(recording?.dispatches).toBe(2)
    expect(await floats(a)).toEqual(range(103))
    gpu.writeBuffer(a, 0, f32(range(5)))
    gpu.writeBuffer(c, 0, f32(range(7)))
    expect(gpu.replay(recording!)).toBe(true)
    expect(await floats(a)).toEqual(range(107))
    expect(await floats(c)).toEqual(range(100))
    const stats = gpu.takeCpuStats()
    expect([stats.captures, stats.replays]).toEqual([1, 1])
    // Off: refused, and capture only runs.
    gpu.setReplay(false)
    expect(gpu.replay(recording!)).toBe(false)
    expect(gpu.capture(record)).toBeUndefined()
    gpu.setReplay(true)
    recording!.release()
    expect(gpu.replay(recording!)).toBe(false)
    await gpu.checkErrors()
  })

  it("a capture that creates or destroys a buffer, or reads, is not kept", async () => {
    gpu.setReplay(true)
    const { a, out, record } = setup()
    expect(gpu.capture(() => { record(); gpu.destroyBuffer(gpu.createBuffer(16)) })).toBeUndefined()
    expect(gpu.capture(() => { record(); void gpu.read(out, 0, 16) })).toBeUndefined()
    // Capturing still ran the calls.
    expect(gpu.capture(() => gpu.createBuffer(16))).toBeUndefined()
    await floats(a)
    await gpu.checkErrors()
  })

  it("a recording whose buffer was destroyed is refused, with nothing issued", async () => {
    gpu.setReplay(true)
    const { a, b, c, record } = setup()
    const recording = gpu.capture(record)!
    gpu.writeBuffer(a, 0, f32(range(1)))
    gpu.destroyBuffer(c)
    expect(gpu.replay(recording)).toBe(false)
    expect(await floats(a)).toEqual(range(1))
    expect(b).toBeGreaterThan(0)
    await gpu.checkErrors()
  })

  it("dispatch profiling turns replay off while it is on", () => {
    gpu.setReplay(true)
    const { record } = setup()
    const recording = gpu.capture(record)!
    if (gpu.setDispatchProfiling(true)) {
      expect(gpu.replayOn).toBe(false)
      expect(gpu.replay(recording)).toBe(false)
      gpu.setDispatchProfiling(false)
    }
    expect(gpu.replay(recording)).toBe(true)
  })
})
