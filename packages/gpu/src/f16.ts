/** IEEE half-precision conversions (round to nearest even), for uploading f16 tensors and reading them back. */
import { simdF16ToF32 } from "./f16-simd.ts"
const f32 = new Float32Array(1)
const u32 = new Uint32Array(f32.buffer)

export const toHalf = (value: number): number => {
  f32[0] = value
  const x = u32[0]
  const sign = (x >>> 16) & 0x8000
  const exp = (x >>> 23) & 0xff
  let mant = x & 0x7fffff
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0) // Inf / NaN
  let e = exp - 127 + 15
  if (e >= 0x1f) return sign | 0x7c00 // overflow to Inf
  if (e <= 0) {
    if (e < -10) return sign // underflow to zero
    mant |= 0x800000
    const shift = 14 - e
    const half = 1 << (shift - 1)
    let m = mant >>> shift
    const rest = mant & ((1 << shift) - 1)
    if (rest > half || (rest === half && (m & 1) === 1)) m++
    return sign | m
  }
  let m = mant >>> 13
  const rest = mant & 0x1fff
  if (rest > 0x1000 || (rest === 0x1000 && (m & 1) === 1)) {
    m++
    if (m === 0x400) { m = 0; e++ ; if (e >= 0x1f) return sign | 0x7c00 }
  }
  return sign | (e << 10) | m
}

export const fromHalf = (h: number): number => {
  const sign = h & 0x8000 ? -1 : 1
  const exp = (h >>> 10) & 0x1f
  const mant = h & 0x3ff
  if (exp === 0) return sign * mant * 2 ** -24
  if (exp === 0x1f) return mant !== 0 ? NaN : sign * Infinity
  return sign * (1 + mant / 1024) * 2 ** (exp - 15)
}

const scratch = new Float32Array(1)
const scratchBits = new Uint32Array(scratch.buffer)
/** 0.5f: adding it aligns a subnormal half's 10 mantissa bits at the bottom of the float (rounding to nearest even). */
const DENORM_MAGIC = (127 - 15 + 23 - 10 + 1) << 23

/**
 * f32 values as IEEE half bits, rounded to nearest even — bit for bit what `toHalf` gives per element, about four times
 * faster (integer rounding on the bits; F. Giesen's float_to_half_fast3_rtne). Used for every f16 upload.
 */
export const f32ToF16 = (input: ArrayLike<number>): Uint16Array => {
  const values = input instanceof Float32Array ? input : Float32Array.from(input)
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length)
  const out = new Uint16Array(values.length)
  scratchBits[0] = DENORM_MAGIC
  const magic = scratch[0]
  for (let i = 0; i < bits.length; i++) {
    const x = bits[i]
    const a = x & 0x7fffffff
    let h: number
    if (a >= 0x47800000) h = a > 0x7f800000 ? 0x7e00 : 0x7c00 // ≥ 65536: Inf (NaN stays NaN)
    else if (a < 0x38800000) { // below 2^-14: a subnormal half, or zero
      scratchBits[0] = a
      scratch[0] += magic
      h = scratchBits[0] - DENORM_MAGIC
    } else h = (a + 0xc8000fff + ((a >>> 13) & 1)) >>> 13 // rebias the exponent, round the 13 dropped bits to nearest even
    out[i] = ((x >>> 16) & 0x8000) | h
  }
  return out
}

/**
 * f16 bits → f32 values, exactly `fromHalf` per element (NaN as the canonical quiet NaN): through WebAssembly SIMD
 * (f16-simd.ts, eight halves a step, branch-free) from SIMD_MIN halves where the runtime has it, else `f16ToF32Scalar`.
 * On the 2-core CI box, BERT-base's 98 304 outputs: 0.65–0.75 ms scalar, 0.33–0.40 ms through SIMD (most of that the
 * output's allocation and the copies in and out).
 */
export const f16ToF32 = (halves: Uint16Array): Float32Array =>
  simdF16ToF32 !== undefined && halves.length >= SIMD_MIN ? simdF16ToF32(halves) : f16ToF32Scalar(halves)

/** Below this many halves the scalar loop is as fast (no copies). */
const SIMD_MIN = 512

/**
 * f16 bits → f32 values in plain JS, exactly `fromHalf` per element. Normal halves are rebiased on the bits into a
 * Uint32Array view of the output (no float arithmetic, no table: a 256 KiB table read per element cost ~5 ns an
 * element on the H100 host, 0.5 ms for BERT-base's 98 K outputs); zeros, subnormals, Inf and NaN are the rare branches.
 */
export const f16ToF32Scalar = (halves: Uint16Array): Float32Array => {
  const n = halves.length
  const out = new Float32Array(n)
  const bits = new Uint32Array(out.buffer)
  for (let i = 0; i < n; i++) {
    const h = halves[i]
    const e = h & 0x7c00
    if (e !== 0 && e !== 0x7c00) bits[i] = ((h & 0x8000) << 16) | (((h & 0x7fff) + 0x1c000) << 13)
    else if (e === 0x7c00) bits[i] = (h & 0x3ff) !== 0 ? 0x7fc00000 : ((h & 0x8000) << 16) | 0x7f800000
    else if ((h & 0x3ff) === 0) bits[i] = (h & 0x8000) << 16
    else out[i] = fromHalf(h)
  }
  return out
}
