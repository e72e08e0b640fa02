import type { Binding, BufferId, GpuDevice } from "@djinn/gpu"

/**
 * A scratch buffer per device for one kernel family (split-K partials, attention splits), grown as needed and kept:
 * the dispatches of a submit run in order, so one buffer serves every call. Growing destroys the old buffer, which
 * submits what is recorded first. At least 1 MiB, so small shapes never regrow it.
 */
export const deviceWorkspace = (label: string): ((gpu: GpuDevice, bytes: number) => Binding) => {
  const byDevice = new WeakMap<GpuDevice, { buffer: BufferId; bytes: number }>()
  return (gpu, bytes) => {
    let ws = byDevice.get(gpu)
    if (ws === undefined || ws.bytes < bytes) {
      if (ws !== undefined) gpu.destroyBuffer(ws.buffer)
      const size = Math.max(bytes, 1 << 20)
      ws = { buffer: gpu.createBuffer(size, label), bytes: size }
      byDevice.set(gpu, ws)
    }
    return { buffer: ws.buffer, offset: 0, size: bytes }
  }
}
