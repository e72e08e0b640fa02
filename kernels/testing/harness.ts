/**
 * The kernel test runner's pieces (in the manner of llama.cpp's test-backend-ops): one device per test file, seeded
 * inputs, outputs wrapped in guard regions that must come back untouched, and normalised error against the CPU
 * reference with a per-case tolerance.
 */
import { f16ToF32, f32ToF16, openGpu, type Binding, type DType, type GpuDevice } from "@djinn/gpu"
import { registry } from "../index.ts"

let shared: Promise<GpuDevice> | undefined

/** One device per test worker (lavapipe on CI, the real GPU elsewhere). */
export const testDevice = (): Promise<GpuDevice> => (shared ??= openGpu(registry, { profiling: false }))

/** Deterministic uniform floats in [lo, hi) (mulberry32). */
export const randomFloats = (n: number, seed: number, lo = -1, hi = 1): Float32Array => {
  let s = seed >>> 0
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    out[i] = lo + (hi - lo) * (((t ^ (t >>> 14)) >>> 0) / 4294967296)
  }
  return out
}

export const randomInts = (n: number, seed: number, max: number): Int32Array =>
  Int32Array.from(randomFloats(n, seed, 0, 1), (x) => Math.min(max - 1, Math.floor(x * max)))

/** Rounds through f16 so references see exactly what an f16 kernel reads. */
export const roundF16 = (x: Float32Array): Float32Array => f16ToF32(f32ToF16(x))

export const bytesOf = (data: Float32Array | Int32Array | Uint32Array, dtype: DType | "i32" | "u32" = "f32"): Uint8Array =>
  dtype === "f16" ? new Uint8Array(f32ToF16(data).buffer) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength)

export const upload = (gpu: GpuDevice, data: Float32Array | Int32Array | Uint32Array, dtype: DType | "i32" | "u32" = "f32"): Binding => {
  const bytes = bytesOf(data, dtype)
  const buffer = gpu.createBuffer(bytes.byteLength)
  gpu.writeBuffer(buffer, 0, bytes)
  return { buffer, offset: 0, size: Math.ceil(bytes.byteLength / 4) * 4 }
}

const GUARD = 256
const SENTINEL = 0x7f

export interface Guarded {
  readonly binding: Binding
  /** Reads the output, asserting the guard regions are intact. */
  read(): Promise<Float32Array>
  readRaw(): Promise<Uint8Array>
}

/** An output of `elements` values with guard regions before and after, poisoned before the run. */
export const guardedOutput = (gpu: GpuDevice, elements: number, dtype: DType | "i32" | "u32" = "f32"): Guarded => {
  const bytes = Math.ceil((elements * (dtype === "f16" ? 2 : 4)) / 4) * 4
  const total = GUARD + Math.ceil(bytes / GUARD) * GUARD + GUARD
  const buffer = gpu.createBuffer(total)
  gpu.writeBuffer(buffer, 0, new Uint8Array(total).fill(SENTINEL))
  const readRaw = async () => {
    const all = await gpu.read(buffer, 0, total)
    const after = GUARD + bytes
    for (let i = 0; i < total; i++) {
      if (i < GUARD || i >= after) {
        if (all[i] !== SENTINEL) throw new Error(`out-of-bounds write: guard byte ${i < GUARD ? i - GUARD : i - after} changed`)
      }
    }
    return all.slice(GUARD, GUARD + elements * (dtype === "f16" ? 2 : 4))
  }
  return {
    binding: { buffer, offset: GUARD, size: bytes },
    readRaw,
    read: async () => {
      const raw = await readRaw()
      if (dtype === "f16") return f16ToF32(new Uint16Array(raw.buffer, raw.byteOffset, elements))
      if (dtype === "i32") return Float32Array.from(new Int32Array(raw.buffer, raw.byteOffset, elements))
      if (dtype === "u32") return Float32Array.from(new Uint32Array(raw.buffer, raw.byteOffset, elements))
      return new Float32Array(raw.buffer, raw.byteOffset, elements)
    },
  }
}

/** ‖out − ref‖ / ‖ref‖ (NaN anywhere gives Infinity). */
export const relError = (out: ArrayLike<number>, ref: ArrayLike<number>): number => {
  if (out.length !== ref.length) throw new Error(`length ${out.length} ≠ reference ${ref.length}`)
  let num = 0
  let den = 0
  for (let i = 0; i < ref.length; i++) {
    const d = out[i] - ref[i]
    if (Number.isNaN(d)) return Infinity
    num += d * d
    den += ref[i] * ref[i]
  }
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den)
}

/** Tolerances by arithmetic: f32 far under 1e-4; f16 storage/arithmetic about 1e-3. */
export const tolerance = (dtype: DType): number => (dtype === "f16" ? 2e-3 : 1e-5)

/** The dtypes to test on this device: f32 always, f16 where shader-f16 exists. */
export const dtypesOf = (gpu: GpuDevice): DType[] => (gpu.adapter.f16 ? ["f32", "f16"] : ["f32"])

/**
 * Runs `check` on a device of Dawn's null backend with subgroup matrices, shader-f16 and the adapter's workgroup
 * memory: no CI adapter runs subgroup matrices, but the null backend grants the feature, so Tint parses and validates
 * the tensor-core kernels there. Undefined where the null adapter lacks the feature.
 */
export const onNullDevice = async <T>(check: (device: GPUDevice, adapter: GPUAdapter) => Promise<T>): Promise<T | undefined> => {
  const { create, globals } = await import("webgpu")
  Object.assign(globalThis, globals)
  // The instance must outlive its device (Dawn crashes once V8 collects it): keep it referenced to the end.
  const instance = create(["backend=null", "enable-dawn-features=allow_unsafe_apis"])
  const adapter = await instance.requestAdapter()
  if (adapter === null || !adapter.features.has("chromium-experimental-subgroup-matrix")) return undefined
  const device = await adapter.requestDevice({
    requiredFeatures: ["shader-f16", "subgroups", "chromium-experimental-subgroup-matrix"] as GPUFeatureName[],
    requiredLimits: { maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize },
  })
  try {
    return await check(device, adapter)
  } finally {
    device.destroy()
    await instance.requestAdapter() // keeps `instance` alive until here
  }
}

/** Tint's messages for a WGSL module, one line each, prefixed with `label`. */
export const compileMessages = async (device: GPUDevice, code: string, label = ""): Promise<string[]> => {
  const module = device.createShaderModule({ code })
  return (await module.getCompilationInfo()).messages.map((m) => `${label}${m.type} ${m.lineNum}:${m.linePos} ${m.message}`)
}
