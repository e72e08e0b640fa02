/**
 * f16 bits → f32 values with WebAssembly SIMD, eight halves a step, branch-free: the same values as `fromHalf` per
 * element (subnormals exact, ±0, ±Inf, NaN as the canonical quiet NaN 0x7fc00000). The module is assembled here, byte
 * by byte (no toolchain), and validated before use; `simdF16ToF32` is undefined where the runtime lacks SIMD.
 *
 * For each lane h (a half widened to 32 bits):
 *   normal    (h & 0x8000) << 16 | ((h & 0x7fff) + 0x1c000) << 13     (the exponent rebiased by 112)
 *   e = 0     sign | bits of f32(m) · 2^-24                              (zero and subnormals, exact in f32)
 *   e = 0x1f  m = 0 ? sign | 0x7f800000 : 0x7fc00000
 * chosen with bitselect on e = 0 and e = 0x1f masks.
 */

// ---- a tiny assembler ---------------------------------------------------------------------------------------------

const uleb = (n: number): number[] => {
  const out: number[] = []
  do {
    let b = n & 0x7f
    n >>>= 7
    if (n !== 0) b |= 0x80
    out.push(b)
  } while (n !== 0)
  return out
}
const sleb = (n: number): number[] => {
  const out: number[] = []
  for (;;) {
    const b = n & 0x7f
    n >>= 7
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) return [...out, b]
    out.push(b | 0x80)
  }
}
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body]
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()]
const str = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))]

const I32 = 0x7f, V128 = 0x7b
const simd = (op: number): number[] => [0xfd, ...uleb(op)]
const localGet = (i: number) => [0x20, ...uleb(i)]
const localSet = (i: number) => [0x21, ...uleb(i)]
const localTee = (i: number) => [0x22, ...uleb(i)]
const i32Const = (n: number) => [0x41, ...sleb(n)]
const splatI32 = (n: number) => [...i32Const(n), ...simd(0x11)]
const splatF32 = (x: number) => [0x43, ...new Uint8Array(Float32Array.of(x).buffer), ...simd(0x13)]
const AND = simd(0x4e), OR = simd(0x50), BITSELECT = simd(0x52), I32X4_EQ = simd(0x37)
const I32X4_SHL = simd(0xab), I32X4_ADD = simd(0xae), F32X4_CONVERT_U = simd(0xfb), F32X4_MUL = simd(0xe6)
const EXTEND_LOW_U = simd(0xa9), EXTEND_HIGH_U = simd(0xaa)
const load = (offset: number) => [...simd(0x00), 0x04, ...uleb(offset)]
const store = (offset: number) => [...simd(0x0b), 0x04, ...uleb(offset)]

// Locals: params src (0), dst (1), n8 (2: groups of eight halves); v128 h (3), m (4), sign (5), r (6), raw (7).
const SRC = 0, DST = 1, N8 = 2, H = 3, M = 4, SIGN = 5, R = 6, RAW = 7

/** Converts the widened halves in local H and leaves the f32 bits on the stack. */
const convert = (): number[] => [
  // sign = (h & 0x8000) << 16; m = h & 0x3ff
  ...localGet(H), ...splatI32(0x8000), ...AND, ...i32Const(16), ...I32X4_SHL, ...localSet(SIGN),
  ...localGet(H), ...splatI32(0x3ff), ...AND, ...localSet(M),
  // r = normal: sign | ((h & 0x7fff) + 0x1c000) << 13
  ...localGet(SIGN), ...localGet(H), ...splatI32(0x7fff), ...AND, ...splatI32(0x1c000), ...I32X4_ADD, ...i32Const(13), ...I32X4_SHL, ...OR,
  ...localSet(R),
  // e = 0: sign | f32(m) · 2^-24
  ...localGet(SIGN), ...localGet(M), ...F32X4_CONVERT_U, ...splatF32(2 ** -24), ...F32X4_MUL, ...OR,
  ...localGet(R),
  ...localGet(H), ...splatI32(0x7c00), ...AND, ...splatI32(0), ...I32X4_EQ,
  ...BITSELECT, ...localSet(R),
  // e = 0x1f: m = 0 ? sign | Inf : canonical NaN
  ...localGet(SIGN), ...splatI32(0x7f800000), ...OR, ...splatI32(0x7fc00000), ...localGet(M), ...splatI32(0), ...I32X4_EQ, ...BITSELECT,
  ...localGet(R),
  ...localGet(H), ...splatI32(0x7c00), ...AND, ...splatI32(0x7c00), ...I32X4_EQ,
  ...BITSELECT,
]

const body = (): number[] => {
  const code = [
    // block { loop { br_if n8 == 0 → out; … ; n8 -= 1; br loop } }
    0x02, 0x40, 0x03, 0x40,
    ...localGet(N8), 0x45, 0x0d, 0x01,
    ...localGet(SRC), ...load(0), ...localTee(RAW),
    ...EXTEND_LOW_U, ...localSet(H),
    ...localGet(DST), ...convert(), ...store(0),
    ...localGet(RAW), ...EXTEND_HIGH_U, ...localSet(H),
    ...localGet(DST), ...convert(), ...store(16),
    ...localGet(SRC), ...i32Const(16), 0x6a, ...localSet(SRC),
    ...localGet(DST), ...i32Const(32), 0x6a, ...localSet(DST),
    ...localGet(N8), ...i32Const(1), 0x6b, ...localSet(N8),
    0x0c, 0x00,
    0x0b, 0x0b,
    0x0b,
  ]
  const locals = vec([[5, V128]])
  const fn = [...locals, ...code]
  return [...uleb(fn.length), ...fn]
}

const moduleBytes = (): Uint8Array<ArrayBuffer> => new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  ...section(1, vec([[0x60, ...vec([[I32], [I32], [I32]]), ...vec([])]])), // type 0: (i32, i32, i32) → ()
  ...section(2, vec([[...str("m"), ...str("mem"), 0x02, 0x00, ...uleb(1)]])), // import memory (min 1 page)
  ...section(3, vec([[0x00]])), // function 0: type 0
  ...section(7, vec([[...str("cvt"), 0x00, 0x00]])), // export "cvt" = function 0
  ...section(10, vec([body()])),
])

// ---- the converter ------------------------------------------------------------------------------------------------

type Cvt = (src: number, dst: number, n8: number) => void

/** Halves a pass: the module's memory holds one chunk of halves and its floats (384 KiB), whatever the tensor's size. */
const CHUNK = 1 << 16

const instantiate = (): { src: Uint16Array; dst: Float32Array; cvt: Cvt } | undefined => {
  try {
    const bytes = moduleBytes()
    if (!WebAssembly.validate(bytes)) return undefined
    const memory = new WebAssembly.Memory({ initial: Math.ceil((CHUNK * 6) / 65536) })
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { m: { mem: memory } })
    // The memory never grows, so these views stay valid.
    return { src: new Uint16Array(memory.buffer, 0, CHUNK), dst: new Float32Array(memory.buffer, CHUNK * 2, CHUNK), cvt: instance.exports.cvt as Cvt }
  } catch {
    return undefined
  }
}

const wasm = typeof WebAssembly === "object" ? instantiate() : undefined

/**
 * f16 bits → f32 values through the SIMD module, a chunk at a time (the halves copied into its memory, the floats
 * copied out); undefined where WebAssembly SIMD is unavailable. A chunk whose length is not a multiple of 8 converts
 * its tail in zero-padded lanes.
 */
export const simdF16ToF32: ((halves: Uint16Array) => Float32Array) | undefined = wasm === undefined ? undefined : (halves) => {
  const n = halves.length
  const out = new Float32Array(n)
  for (let at = 0; at < n; at += CHUNK) {
    const len = Math.min(CHUNK, n - at)
    const n8 = Math.ceil(len / 8)
    wasm.src.set(halves.subarray(at, at + len))
    if (len % 8 !== 0) wasm.src.fill(0, len, n8 * 8)
    wasm.cvt(0, CHUNK * 2, n8)
    out.set(wasm.dst.subarray(0, len), at)
  }
  return out
}
