import { envVar } from "@djinn/gpu"

/**
 * Launch shapes and timing probes of the tensor-core flash attention (flash_sgmat.wgsl), for A/B runs on the H100:
 * DJINN_FLASH_SHAPE names a shape, DJINN_FLASH_PROBE a comma-separated list of probes. Unset, `routedSgmat` picks
 * "q128" or "sg8" by the number of workgroups.
 */
export type SgmatShape = "q64" | "sg8" | "q128" | "q128sg16"

export interface SgmatShapeInfo {
  /** Rows (query, head of the group) per workgroup. */
  readonly rows: 64 | 128
  /** Subgroups of 32 per workgroup. */
  readonly subgroups: number
  readonly defines: readonly string[]
  /** Workgroup memory in bytes (either head_dim: the tiles are sized for 128). */
  readonly shared: number
}

export const SGMAT_SHAPES: Readonly<Record<SgmatShape, SgmatShapeInfo>> = {
  // q 17408 + k, v 17408 + scores 8192 + p 5120.
  q64: { rows: 64, subgroups: 4, defines: [], shared: 48128 },
  // The same memory; two subgroups a row block split the keys of S and the dims of P·V.
  sg8: { rows: 64, subgroups: 8, defines: ["PAIRED"], shared: 48128 },
  // q staged through the k, v tiles: 17408 + scores 16384 + p 10240.
  q128: { rows: 128, subgroups: 8, defines: ["Q128"], shared: 44032 },
  q128sg16: { rows: 128, subgroups: 16, defines: ["Q128", "PAIRED"], shared: 44032 },
}

/** Each probe removes one part of the kernel (results wrong by design; see flash_sgmat.wgsl and flash_sgmat_probe.wgsl). */
export const SGMAT_PROBES = ["nostage", "nomatrix", "nofrag", "nomma", "nosoftmax", "pass1only", "nobarrier"] as const
export type SgmatProbe = (typeof SGMAT_PROBES)[number]
const MATRIX_PROBES: readonly SgmatProbe[] = ["nomatrix", "nofrag", "nomma"]

export interface SgmatVariant {
  readonly shape: SgmatShape
  readonly probes: readonly SgmatProbe[]
  /**
   * "old": session 4's softmax (pass 1 keeps max and sum with an exp2 a score, pass 2 writes normalised p, every score
   * masked); unset: the new one (pass 1 max only, pass 2 sums unnormalised p, masks on diagonal blocks only, rotated
   * lanes). DJINN_FLASH_SOFTMAX=old picks the old one for every call that names none. Probes always time the old one.
   */
  readonly softmax?: "old"
}

/** The softmax the environment names (DJINN_FLASH_SOFTMAX: "old", or unset / "new"). */
export const SOFTMAX_FROM_ENV: "old" | undefined = (() => {
  const s = envVar("DJINN_FLASH_SOFTMAX")
  if (s === undefined || s === "" || s === "new") return undefined
  if (s === "old") return "old"
  throw new Error(`flash_sgmat: DJINN_FLASH_SOFTMAX '${s}' is neither 'old' nor 'new'`)
})()

export const DEFAULT_SGMAT: SgmatVariant = { shape: "q64", probes: [] }

/** A variant from its names (as the environment gives them); throws on an unknown or unsupported one. */
export const parseSgmatVariant = (shape: string | undefined, probes: string | undefined, softmax?: string): SgmatVariant => {
  const s = shape === undefined || shape === "" ? "q64" : shape
  if (!(s in SGMAT_SHAPES)) throw new Error(`flash_sgmat: no shape '${s}' (${Object.keys(SGMAT_SHAPES).join(", ")})`)
  const list = (probes ?? "").split(",").map((x) => x.trim()).filter((x) => x !== "" && x !== "none")
  for (const x of list) if (!(SGMAT_PROBES as readonly string[]).includes(x)) throw new Error(`flash_sgmat: no probe '${x}' (${SGMAT_PROBES.join(", ")})`)
  if (softmax !== undefined && softmax !== "" && softmax !== "old" && softmax !== "new") throw new Error(`flash_sgmat: no softmax '${softmax}' (old, new)`)
  const variant: SgmatVariant = { shape: s as SgmatShape, probes: list as SgmatProbe[], ...(softmax === "old" ? { softmax: "old" as const } : {}) }
  checkVariant(variant)
  return variant
}

/** Probes time the 64-row kernel only, and at most one of them touches the matrix work. */
export const checkVariant = (v: SgmatVariant): void => {
  if (v.probes.length > 0 && v.shape !== "q64") throw new Error(`flash_sgmat: probes apply to shape q64 only, not '${v.shape}'`)
  if (v.probes.filter((x) => MATRIX_PROBES.includes(x)).length > 1) throw new Error(`flash_sgmat: at most one of ${MATRIX_PROBES.join(", ")}`)
}

/** The WGSL defines of a variant. */
export const sgmatDefines = (v: SgmatVariant): string[] => {
  const probes = v.probes.map((x) => `PROBE_${x.toUpperCase()}`)
  if (v.probes.some((x) => MATRIX_PROBES.includes(x))) probes.push("PROBE_MATRIX")
  const old = v.softmax === "old" || v.probes.length > 0 ? ["SOFTMAX_OLD"] : []
  return [...SGMAT_SHAPES[v.shape].defines, ...probes, ...old]
}

/** A short name for reports: "q64", "q64+nostage", "q128", "q128:old" (the old softmax). */
export const sgmatName = (v: SgmatVariant): string => [v.shape, ...v.probes].join("+") + (v.softmax === "old" ? ":old" : "")

/** The variant a report name gives ("q128", "q64+nostage", "sg8:old"). */
export const parseSgmatName = (name: string): SgmatVariant => {
  const [variant, softmax] = name.trim().split(":")
  const [shape, ...probes] = variant.split("+")
  return parseSgmatVariant(shape, probes.join(","), softmax)
}

/** A variant with the environment's softmax where it names none. */
export const withEnvSoftmax = (v: SgmatVariant): SgmatVariant =>
  v.softmax === undefined && SOFTMAX_FROM_ENV !== undefined ? { ...v, softmax: SOFTMAX_FROM_ENV } : v

/** The variant the environment names (DJINN_FLASH_SHAPE, DJINN_FLASH_PROBE), read once; undefined when neither is set. */
export const SGMAT_FROM_ENV: SgmatVariant | undefined =
  envVar("DJINN_FLASH_SHAPE") === undefined && envVar("DJINN_FLASH_PROBE") === undefined
    ? undefined
    : parseSgmatVariant(envVar("DJINN_FLASH_SHAPE"), envVar("DJINN_FLASH_PROBE"))

/**
 * The routed shape (H100, session 4 call 9, docs/perf-notes.md "Flash attention probes"): "q128" (each staged K/V
 * block serves 128 rows) where its workgroups fill the GPU about twice (Llama-2-7B at 1k: 256 of them; 9.3 → 7.0 ms of
 * attention a prefill), else "sg8" (64 rows, 8 subgroups that split the keys and head dims; 512 tokens: 2.65 → 2.13
 * ms, where q128's 128 workgroups left SMs idle and lost).
 */
export const routedSgmat = (rowsPerGroup: number, groups: number): SgmatVariant =>
  Math.ceil(rowsPerGroup / SGMAT_SHAPES.q128.rows) * groups >= MIN_Q128_WORKGROUPS ? { shape: "q128", probes: [] } : { shape: "sg8", probes: [] }

/** About two workgroups an SM on the H100 (132 SMs). */
const MIN_Q128_WORKGROUPS = 256
