import type { Binding, PipelineId } from "./types.ts"

/** A cached bind group and what it binds, flat: pipeline, uniform offset and size, then buffer, offset, size per binding. */
interface Entry {
  readonly key: readonly number[]
  readonly group: GPUBindGroup
}

/** Bind groups cached before the cache is emptied (it is per device and bindings change with every new request shape). */
const MAX_BIND_GROUPS = 8192

const mix = (h: number, v: number): number => Math.imul(h ^ v, 0x01000193)

/** Whether a cached bind group's key is this dispatch's. */
const sameBindings = (key: readonly number[], pipelineId: number, uniformOffset: number, uniformSize: number, bindings: readonly Binding[]): boolean => {
  if (key.length !== 3 + 3 * bindings.length || key[0] !== pipelineId || key[1] !== uniformOffset || key[2] !== uniformSize) return false
  for (let i = 0, k = 3; i < bindings.length; i++, k += 3) {
    const b = bindings[i]
    if (key[k] !== b.buffer || key[k + 1] !== (b.offset ?? 0) || key[k + 2] !== (b.size ?? -1)) return false
  }
  return true
}

const hashOf = (pipelineId: PipelineId, bindings: readonly Binding[], uniformOffset: number, uniformSize: number): number => {
  let hash = mix(mix(mix(0x811c9dc5, pipelineId), uniformOffset), uniformSize)
  for (let i = 0; i < bindings.length; i++) {
    const b = bindings[i]
    hash = mix(mix(mix(hash, b.buffer), b.offset ?? 0), b.size ?? -1)
  }
  return hash
}

/**
 * A device's bind groups by (pipeline, uniform slot, bindings). Numbers only on the hit path (no key string per
 * dispatch): a hash to find the bucket, the flat key to confirm; a bucket holds the (rare) keys that share a hash.
 */
export class BindGroupCache {
  private groups = new Map<number, Entry[]>()
  private count = 0

  find(pipelineId: PipelineId, bindings: readonly Binding[], uniformOffset: number, uniformSize: number): GPUBindGroup | undefined {
    const bucket = this.groups.get(hashOf(pipelineId, bindings, uniformOffset, uniformSize))
    if (bucket === undefined) return undefined
    for (let i = 0; i < bucket.length; i++) {
      if (sameBindings(bucket[i].key, pipelineId, uniformOffset, uniformSize, bindings)) return bucket[i].group
    }
    return undefined
  }

  add(pipelineId: PipelineId, bindings: readonly Binding[], uniformOffset: number, uniformSize: number, group: GPUBindGroup): void {
    if (this.count > MAX_BIND_GROUPS) this.clear()
    const hash = hashOf(pipelineId, bindings, uniformOffset, uniformSize)
    const key = [pipelineId, uniformOffset, uniformSize]
    for (const b of bindings) key.push(b.buffer, b.offset ?? 0, b.size ?? -1)
    const list = this.groups.get(hash)
    if (list === undefined) this.groups.set(hash, [{ key, group }])
    else list.push({ key, group })
    this.count++
  }

  clear(): void {
    this.groups.clear()
    this.count = 0
  }
}
