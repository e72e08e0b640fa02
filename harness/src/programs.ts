// Where the programs a sweep starts live: TypeScript sources in the workspace, or the bundles beside the bundled
// harness in dist/ (`pnpm bundle` defines __DJINN_BUNDLED__ and emits these names).
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const bundled = (globalThis as { __DJINN_BUNDLED__?: boolean }).__DJINN_BUNDLED__ === true

/** The workspace root, or dist/ when bundled (which mirrors the paths the sweep needs: configs/, harness/python/). */
export const repoRoot = (): string => fileURLToPath(bundled ? new URL("./", import.meta.url) : new URL("../../", import.meta.url))

export type Program = "server" | "native-worker" | "rpc-server" | "exit-with-parent"

const SOURCES: Record<Program, string> = {
  server: "packages/server/src/main.ts",
  "native-worker": "harness/src/workers/native-worker.ts",
  "rpc-server": "harness/src/rpc/server.ts",
  "exit-with-parent": "harness/src/workers/exit-with-parent.ts",
}

/** Source entry points, for the bundler. */
export const programSources: Readonly<Record<Program, string>> = SOURCES

export const programPath = (root: string, program: Program): string => join(root, bundled ? `${program}.mjs` : SOURCES[program])
