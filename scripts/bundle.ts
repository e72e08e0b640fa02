// `pnpm bundle`: a self-contained dist/ for a GPU host with only Node — the CLI (and server, harness) as ES module
// bundles, the kernels' WGSL, the known model configs, and webgpu with only its linux-x64 dawn.node.
import { build } from "esbuild"
import { execFileSync } from "node:child_process"
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs"
import { join } from "node:path"

const root = new URL("..", import.meta.url).pathname
// DJINN_DIST_DIR lets several people bundle side by side (default dist/).
const dist = join(root, process.env.DJINN_DIST_DIR ?? "dist")
rmSync(dist, { recursive: true, force: true })
mkdirSync(dist, { recursive: true })

const entries: Record<string, string> = { djinn: "packages/cli/src/main.ts", "compare-golden": "scripts/compare-golden.ts" }
for (const [name, path] of [
  ["server", "packages/server/src/main.ts"],
  ["harness", "harness/src/main.ts"],
  ["native-worker", "harness/src/workers/native-worker.ts"],
  ["rpc-server", "harness/src/rpc/server.ts"],
  ["exit-with-parent", "harness/src/workers/exit-with-parent.ts"],
  ["kernels", "kernels/runner/main.ts"],
  ["zoo", "packages/engine/bench/zoo.ts"],
  ["roundtrip", "packages/server/bench/roundtrip.ts"],
  ["tax", "packages/server/bench/tax.ts"],
  ["profile", "harness/bench/profile.ts"],
] as const) {
  if (existsSync(join(root, path))) entries[name] = path
}
await build({
  entryPoints: Object.fromEntries(Object.entries(entries).map(([k, v]) => [k, join(root, v)])),
  outdir: dist,
  outExtension: { ".js": ".mjs" },
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node22",
  external: ["webgpu"],
  sourcemap: false,
  logLevel: "warning",
  // Bundled code finds kernels/ and configs/ beside itself (see kernels/source.ts).
  banner: { js: "globalThis.__DJINN_BUNDLED__ = true; import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
})

const copyWgsl = (from: string, to: string) => {
  for (const name of readdirSync(from)) {
    const src = join(from, name)
    if (name === "node_modules") continue
    if (statSync(src).isDirectory()) copyWgsl(src, join(to, name))
    else if (name.endsWith(".wgsl")) { mkdirSync(to, { recursive: true }); cpSync(src, join(to, name)) }
  }
}
copyWgsl(join(root, "kernels"), join(dist, "kernels"))
cpSync(join(root, "configs"), join(dist, "configs"), { recursive: true })
// The sweep's PyTorch peers and the report's chart script travel as files.
if (existsSync(join(root, "harness/python"))) cpSync(join(root, "harness/python"), join(dist, "harness/python"), { recursive: true })
if (existsSync(join(root, "harness/src/report-charts.js"))) cpSync(join(root, "harness/src/report-charts.js"), join(dist, "report-charts.js"))

const webgpu = join(root, "node_modules/webgpu")
const target = join(dist, "node_modules/webgpu")
mkdirSync(join(target, "dist"), { recursive: true })
for (const f of ["package.json", "index.js", "LICENSE.md"]) cpSync(join(webgpu, f), join(target, f))
cpSync(join(webgpu, "dist/linux-x64"), join(target, "dist/linux-x64"), { recursive: true })
writeFileSync(join(dist, "package.json"), JSON.stringify({ name: "djinn-dist", private: true, type: "module" }, null, 2))
// The commit the bundle was built from, for result files written on a host without the repository.
const git = (...args: string[]) => { try { return execFileSync("git", args, { cwd: root, encoding: "utf8" }).trim() } catch { return null } }
const commit = git("rev-parse", "HEAD")
writeFileSync(join(dist, "BUILD.json"), JSON.stringify({ commit, dirty: commit === null ? null : git("status", "--porcelain", "--untracked-files=no") !== "" }))
console.log(`dist/: ${Object.keys(entries).map((e) => `${e}.mjs`).join(", ")}, kernels/, configs/, node_modules/webgpu (linux-x64)`)
