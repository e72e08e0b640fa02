import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Effect, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { describeAdapter, describeWeights, Environment, gitState, makeEnvironment, runtimeInfo } from "../src/index.ts"

const repo = fileURLToPath(new URL("../../", import.meta.url))

describe("environment", () => {
  it("records runtime, commit, config hash and weights source in a schema-valid shape", async () => {
    const git = await Effect.runPromise(gitState(repo))
    expect(git.commit).toMatch(/^[0-9a-f]{40}$/)
    const env = makeEnvironment({
      loaded: { file: "configs/default.yaml", hash: "a".repeat(64) },
      weightsSource: { kind: "checkpoint", model_id: "sshleifer/tiny-gpt2", dir: "shared/fixtures/gpt2-tiny" },
      adapter: { vendor: "mesa", architecture: "", device: "llvmpipe", description: "", backend: "dawn/vulkan" },
      git,
    })
    expect(Schema.is(Environment)(env)).toBe(true)
    expect(env.runtime).toEqual(runtimeInfo())
    expect(env.runtime.name).toBe("node")
    expect(describeAdapter(env)).toBe("llvmpipe (mesa, dawn/vulkan)")
    expect(describeWeights(env.weights_source)).toBe("checkpoint shared/fixtures/gpt2-tiny")
  })

  it("outside a git checkout the commit is null, not an error", async () => {
    expect(await Effect.runPromise(gitState(mkdtempSync(join(tmpdir(), "djinn-nogit-"))))).toEqual({ commit: null, dirty: null })
  })

  it("describeAdapter prefers the driver's GPU name and says when nothing is known", () => {
    expect(describeAdapter({ adapter: null, gpu: null })).toBe("unknown adapter")
    expect(describeAdapter({ adapter: null, gpu: "NVIDIA H100 80GB HBM3" })).toBe("NVIDIA H100 80GB HBM3")
    expect(describeAdapter({
      adapter: { vendor: "nvidia", architecture: "hopper", device: "", description: "" },
      gpu: "NVIDIA H100 80GB HBM3",
    })).toBe("NVIDIA H100 80GB HBM3 (nvidia hopper)")
  })
})

describe("gitState off the repository", () => {
  it("reads the commit a bundle recorded in BUILD.json", async () => {
    const dir = mkdtempSync(join(tmpdir(), "djinn-build-"))
    expect(await Effect.runPromise(gitState(dir))).toEqual({ commit: null, dirty: null })
    writeFileSync(join(dir, "BUILD.json"), JSON.stringify({ commit: "abc123", dirty: false }))
    expect(await Effect.runPromise(gitState(dir))).toEqual({ commit: "abc123", dirty: false })
  })
})
