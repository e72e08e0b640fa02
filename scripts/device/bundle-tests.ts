// Bundles test files for the GPU host, where there is Node but no node_modules: each test file becomes
// <out>/test-<name>.mjs with vitest replaced by scripts/device/vitest-shim.ts, run by `node test-<name>.mjs` in the
// bundle folder (kernels/ and node_modules/webgpu beside it, as for the other bundled programs; the fixtures from
// DJINN_FIXTURES).
//
//   node scripts/device/bundle-tests.ts <out dir> <test file>...
import { build } from "esbuild"
import { mkdirSync, writeFileSync } from "node:fs"
import { basename, join, relative, resolve } from "node:path"

const root = new URL("../..", import.meta.url).pathname
const [out, ...files] = process.argv.slice(2)
if (out === undefined || files.length === 0) throw new Error("usage: node scripts/device/bundle-tests.ts <out dir> <test file>...")
const dir = resolve(out)
const stubs = join(root, ".vitest-cache", "device-stubs")
mkdirSync(dir, { recursive: true })
mkdirSync(stubs, { recursive: true })
const shim = join(root, "scripts/device/vitest-shim.ts")
const entries: Record<string, string> = {}
for (const f of files) {
  const name = basename(f).replace(/\.test\.ts$/, "")
  const stub = join(stubs, `${name}.ts`)
  // The test registers its suites on import; the shim then collects and runs them.
  writeFileSync(stub, `import ${JSON.stringify(resolve(f))}\nimport { run } from ${JSON.stringify(shim)}\nawait run(${JSON.stringify(relative(root, resolve(f)))})\n`)
  entries[`test-${name}`] = stub
}
await build({
  entryPoints: entries,
  outdir: dir,
  outExtension: { ".js": ".mjs" },
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node22",
  // The test bundles share their code (engine, kernels, gpu) through chunks.
  splitting: true,
  chunkNames: "test-chunk-[hash]",
  external: ["webgpu"],
  alias: { vitest: shim },
  logLevel: "warning",
  // Bundled code finds kernels/ beside itself (kernels/source.ts).
  banner: { js: "globalThis.__DJINN_BUNDLED__ = true; import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
})
console.log(`tests: ${Object.keys(entries).map((n) => `${n}.mjs`).join(", ")}`)
