import type { GpuDevice, Recording } from "@djinn/gpu"

type Entry =
  | { readonly state: "seen" }
  | { readonly state: "recorded"; readonly recording: Recording }
  /** Captures that came back unreplayable (a kernel workspace created on the way, say); after two, no more tries. */
  | { readonly state: "refused"; readonly tries: number }

const MAX_TRIES = 2

/**
 * A model's forwards kept as device recordings (`GpuDevice.capture`) and replayed (`GpuDevice.replay`) by the structure
 * of their arguments: on a replay the model's JS — tensor plans, uniform packing, pipeline and bind-group lookups — is
 * skipped and the device issues the recorded command buffers again.
 *
 * Why a replay is the forward it stands for: a model's `record` must be a function of the model (fixed at load) and of
 * the arguments' structure alone — shapes, numbers, flags and tensors as (buffer, offset, shape, dtype) — never of
 * values on the host. The request's data (token ids, masks, images) is written by the caller into its input tensors
 * before `encode`, every time, and is read by the GPU, not by the JS; those tensors' buffers are part of the key. The
 * key is every field of the arguments, walked generically (a field added later is in it without anyone remembering),
 * and an argument the walk cannot describe as structure (a typed array, a class instance) means no replay. What else
 * `record` consults is fixed too: the adapter, the pipeline cache, environment switches read at import; the per-device
 * kernel workspaces are replaced only by destroying the old buffer, which a recording notices (every buffer it touches
 * must still be the one it captured) and then falls back to recording. A capture in which a buffer was created or
 * destroyed, or anything read or waited on, is not kept. A key is first recorded normally and captured the second
 * time it is seen, so one-off forwards (fresh buffers every call, as `directMemory` gives) cost no capture.
 */
export class ForwardReplays {
  /** By key, least recently used first. */
  private readonly entries = new Map<string, Entry>()
  private readonly max: number

  constructor(max = 16) {
    this.max = max
  }

  /** Runs `record` (the forward's recording into the device), or replays its earlier capture for the same `args`. */
  run(gpu: GpuDevice, args: object, record: () => void): void {
    if (gpu.replayOn !== true || gpu.capture === undefined || gpu.replay === undefined) return record()
    const key = structuralKey(args)
    if (key === undefined) return record()
    const entry = this.entries.get(key)
    if (entry?.state === "recorded") {
      if (gpu.replay(entry.recording)) return this.put(key, entry)
      entry.recording.release()
    }
    if (entry === undefined) {
      this.put(key, { state: "seen" })
      return record()
    }
    const tries = entry.state === "refused" ? entry.tries : 0
    if (tries >= MAX_TRIES) {
      this.put(key, entry)
      return record()
    }
    const recording = gpu.capture(record)
    this.put(key, recording === undefined ? { state: "refused", tries: tries + 1 } : { state: "recorded", recording })
  }

  /** Frees every recording (their uniforms on the GPU). */
  clear(): void {
    for (const e of this.entries.values()) if (e.state === "recorded") e.recording.release()
    this.entries.clear()
  }

  private put(key: string, entry: Entry): void {
    this.entries.delete(key)
    this.entries.set(key, entry)
    if (this.entries.size <= this.max) return
    const [oldest, e] = this.entries.entries().next().value!
    if (e.state === "recorded") e.recording.release()
    this.entries.delete(oldest)
  }
}

/**
 * The structure of a value as a string: numbers, strings, booleans, undefined, null, arrays and plain objects (keys in
 * their own order: the same structure built in another order is only a miss). Undefined for anything else — typed
 * arrays, class instances, functions — whose contents a key cannot vouch for. Keys and strings are length-prefixed,
 * so no value can pass for another.
 */
export const structuralKey = (value: unknown): string | undefined => {
  const out: (string | number)[] = []
  const walk = (x: unknown): boolean => {
    switch (typeof x) {
      case "undefined": out.push("u"); return true
      case "number": out.push(Object.is(x, -0) ? "-0" : x); return true
      case "boolean": out.push(x ? "t" : "f"); return true
      case "string": out.push(`s${x.length}:${x}`); return true
      case "object": {
        if (x === null) { out.push("n"); return true }
        if (Array.isArray(x)) {
          out.push("[")
          for (let i = 0; i < x.length; i++) if (!walk(x[i])) return false
          out.push("]")
          return true
        }
        if (Object.getPrototypeOf(x) !== Object.prototype) return false
        out.push("{")
        for (const k in x) {
          if (!Object.hasOwn(x, k)) continue
          out.push(`${k.length}:${k}`)
          if (!walk((x as Record<string, unknown>)[k])) return false
        }
        out.push("}")
        return true
      }
      default: return false
    }
  }
  // One flat string (joined once: a string grown piece by piece hashes slowly as a Map key).
  return walk(value) ? out.join(",") : undefined
}
