import { spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const main = fileURLToPath(new URL("../src/main.ts", import.meta.url))
const fixtures = fileURLToPath(new URL("../../../../shared/fixtures/", import.meta.url))
const djinn = (...args: string[]) => {
  const r = spawnSync(process.execPath, [main, ...args], { encoding: "utf8", env: { ...process.env, XDG_RUNTIME_DIR: "/tmp" }, timeout: 120_000 })
  const stderr = r.stderr.split("\n").filter((l) => l !== "" && !l.startsWith("Warning:"))
  return { code: r.status, stdout: r.stdout, stderr }
}

describe("djinn CLI", () => {
  it("generate --json reproduces gpt2-mini's greedy_32 and prints only the JSON", () => {
    const golden = JSON.parse(readFileSync(`${fixtures}gpt2-mini/golden.json`, "utf8"))
    const r = djinn("generate", "--model-dir", `${fixtures}gpt2-mini`, "--input-ids", golden.input_ids.join(","), "--max-new-tokens", "32", "--json")
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toEqual({ tokens: golden.greedy_32 })
  })
  const bad: [string, string[], number, RegExp][] = [
    ["an unknown flag", ["generate", "--bogus"], 2, /Unrecognized flag: --bogus/],
    ["a malformed number", ["generate", "--max-new-tokens", "abc"], 2, /--max-new-tokens/],
    ["an unknown model id", ["generate", "--model", "nope/none", "--input-ids", "1"], 1, /unknown model id 'nope\/none'/],
    ["malformed ids", ["generate", "--model", "tiny-gpt2", "--input-ids", "1,x"], 1, /--input-ids/],
    ["a missing model dir", ["generate", "--model-dir", "/nonexistent/dir", "--input-ids", "1"], 2, /nonexistent/],
    ["a file that is not safetensors", ["forward", "--model-dir", `${fixtures}gpt2-tiny`, "--inputs", `${fixtures}gpt2-tiny/config.json`, "--out", "/tmp/djinn-cli-x"], 1, /ModelFile/],
    ["inputs without input_ids", ["forward", "--model-dir", `${fixtures}gpt2-tiny`, "--inputs", `${fixtures}gpt2-tiny/model.safetensors`, "--out", "/tmp/djinn-cli-x"], 1, /input_ids/],
  ]
  for (const [what, args, code, message] of bad) {
    it(`rejects ${what} with one line on stderr and exit ${code}`, () => {
      const r = djinn(...args)
      expect(r.code).toBe(code)
      expect(r.stderr).toHaveLength(1)
      expect(r.stderr[0]).toMatch(message)
      expect(r.stdout).toBe("")
    })
  }
})
