/** Packs a kernel's uniform block: u32/i32/f32 fields in WGSL struct order (all 4-byte scalars). */
export const u32s = (...values: number[]): Uint8Array => new Uint8Array(new Uint32Array(values).buffer)

export type UniformField = readonly [kind: "u32" | "i32" | "f32", value: number]

/** The bytes a uniform block binds: its size rounded up to 16, at least 16 (WGSL's uniform struct layout). */
export const uniformBindingSize = (bytes: number): number => Math.max(16, Math.ceil(bytes / 16) * 16)

/** A uniform block's share of a shared uniform buffer: bind-group offsets into it must be multiples of 256. */
export const uniformSlotSize = (bytes: number): number => Math.ceil(bytes / 256) * 256

export const packUniforms = (fields: readonly UniformField[]): Uint8Array => {
  const bytes = new ArrayBuffer(uniformBindingSize(fields.length * 4))
  const view = new DataView(bytes)
  fields.forEach(([kind, value], i) => {
    if (kind === "u32") view.setUint32(i * 4, value, true)
    else if (kind === "i32") view.setInt32(i * 4, value, true)
    else view.setFloat32(i * 4, value, true)
  })
  return new Uint8Array(bytes)
}

/** Splits a 1-D workgroup count over x and y so that neither exceeds the per-dimension limit (65535). */
export const grid = (workgroups: number, maxPerDim = 65535): [number, number, number] => {
  if (workgroups <= maxPerDim) return [Math.max(workgroups, 0), 1, 1]
  const y = Math.ceil(workgroups / maxPerDim)
  return [Math.ceil(workgroups / y), y, 1]
}
