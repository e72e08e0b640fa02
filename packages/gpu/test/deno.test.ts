import { spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const root = fileURLToPath(new URL("../../../", import.meta.url))
const deno = `${root}node_modules/.bin/deno`

describe("Deno", () => {
  it("runs the engine on Deno's own navigator.gpu and reproduces gpt2-mini's greedy_32", () => {
    expect(existsSync(deno)).toBe(true)
    const r = spawnSync(deno, ["run", "-A", "--unstable-webgpu", "scripts/deno-smoke.ts"], {
      cwd: root, encoding: "utf8", timeout: 180_000, env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? "/tmp" },
    })
    const line = r.stdout.trim().split("\n").at(-1) ?? ""
    expect(r.status, r.stderr).toBe(0)
    expect(JSON.parse(line)).toMatchObject({ matches_greedy_32: true })
  })
})
