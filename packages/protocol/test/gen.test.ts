import { execFileSync } from "node:child_process"
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"

const pkg = join(import.meta.dirname, "..")

describe("generated code", () => {
  it("src/gen/ is exactly what scripts/gen.sh produces from schema/djinn.capnp", () => {
    const out = mkdtempSync(join(tmpdir(), "djinn-protocol-gen-"))
    try {
      // Fails (rather than skips) without the capnp compiler: scripts/bootstrap.sh installs it.
      execFileSync("bash", [join(pkg, "scripts/gen.sh"), out], { stdio: "pipe" })
      const committed = readdirSync(join(pkg, "src/gen")).sort()
      expect(readdirSync(out).sort()).toEqual(committed)
      for (const f of committed) {
        const fresh = readFileSync(join(out, f), "utf8")
        // Compared as booleans first: a diff of a 70 KB file helps nobody; rerun scripts/gen.sh instead.
        expect(fresh === readFileSync(join(pkg, "src/gen", f), "utf8"), `${f} is stale: run packages/protocol/scripts/gen.sh`).toBe(true)
      }
    } finally {
      rmSync(out, { recursive: true, force: true })
    }
  })
})
