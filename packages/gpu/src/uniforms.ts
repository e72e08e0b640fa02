/** Packs a kernel's uniform block: u32/i32/f32 fields in WGSL struct order (all 4-byte scalars). */
export const u32s = (...values: number[]): Uint8Array => new Uint8Array(new Uint32Array(values).buffer)

export type UniformField = readonly [kind: "u32" | "i32" | "f32", value: number]

export const packUniforms = (fields: readonly UniformField[]): Uint8Array => {
  const bytes = new ArrayBuffer(Math.max(16, Math.ceil((fields.length * 4) / 16) * 16))
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
