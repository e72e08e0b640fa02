import { readFileSync } from "node:fs"

/**
 * Where the .wgsl files live: beside this file in the workspace; in the bundle (`pnpm bundle`), `kernels/` beside
 * the bundled script (the bundler defines `__DJINN_BUNDLED__`).
 */
const root = (globalThis as { __DJINN_BUNDLED__?: boolean }).__DJINN_BUNDLED__ === true
  ? new URL("./kernels/", import.meta.url)
  : new URL("./", import.meta.url)

/** Reads `kernels/<op>/<file>` as text. */
export const wgsl = (op: string, file = `${op}.wgsl`): string => readFileSync(new URL(`${op}/${file}`, root), "utf8")
