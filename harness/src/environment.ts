import { readFileSync } from "node:fs"
import { join } from "node:path"
// What a number ran on: runtime, commit, config hash. The GPU adapter comes from whoever opened the device.
import { execFileSync } from "node:child_process"
import { hostname } from "node:os"
import { Effect } from "effect"
import type { LoadedConfig, WeightsSource } from "./config.ts"
import type { Adapter, Environment, Runtime } from "./result.ts"

/** The JavaScript runtime this process runs on (Node, Deno or Bun). */
export const runtimeInfo = (): Runtime => {
  const g = globalThis as { Deno?: { version: { deno: string }; build: { os: string; arch: string } }; Bun?: { version: string } }
  if (g.Deno) return { name: "deno", version: g.Deno.version.deno, platform: g.Deno.build.os, arch: g.Deno.build.arch }
  if (g.Bun) return { name: "bun", version: g.Bun.version, platform: process.platform, arch: process.arch }
  return { name: "node", version: process.versions.node, platform: process.platform, arch: process.arch }
}

export interface GitState {
  readonly commit: string | null
  readonly dirty: boolean | null
}

/**
 * The commit of what runs: a bundle's BUILD.json (written by `pnpm bundle`) when there is one — a bundle can sit inside
 * a checkout of another commit, as on the GPU host, where dist/ travels inside a copy of the working tree — else HEAD
 * and whether the tree has uncommitted changes; nulls outside a git checkout or without git.
 */
export const gitState = (cwd: string): Effect.Effect<GitState> =>
  Effect.sync(() => {
    try {
      const build = JSON.parse(readFileSync(join(cwd, "BUILD.json"), "utf8")) as { commit?: unknown; dirty?: unknown }
      return { commit: typeof build.commit === "string" ? build.commit : null, dirty: typeof build.dirty === "boolean" ? build.dirty : null }
    } catch {
      // Not a bundle.
    }
    const git = (...args: Array<string>) =>
      execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim()
    try {
      const commit = git("rev-parse", "HEAD")
      return { commit, dirty: git("status", "--porcelain", "--untracked-files=no") !== "" }
    } catch {
      return { commit: null, dirty: null }
    }
  })

export interface EnvironmentInput {
  readonly loaded: Pick<LoadedConfig, "file" | "hash">
  readonly weightsSource: WeightsSource
  readonly adapter: Adapter | null
  readonly gpu?: string | null
  readonly git: GitState
  readonly packages?: Record<string, string>
}

export const makeEnvironment = (input: EnvironmentInput): Environment => ({
  adapter: input.adapter,
  gpu: input.gpu ?? null,
  runtime: runtimeInfo(),
  hostname: hostname(),
  commit: input.git.commit,
  dirty: input.git.dirty,
  config_file: input.loaded.file,
  config_hash: input.loaded.hash,
  weights_source: input.weightsSource,
  ...(input.packages ? { packages: input.packages } : {}),
})

/** One line naming the hardware, for tables: "NVIDIA H100 (nvidia hopper, dawn/vulkan)". */
export const describeAdapter = (env: Pick<Environment, "adapter" | "gpu">): string => {
  const a = env.adapter
  const detail = a ? [a.vendor, a.architecture].filter((s) => s !== "").join(" ") : ""
  const name = env.gpu ?? (a ? (a.description || a.device || detail) : null)
  if (name === null || name === "") return "unknown adapter"
  const extra = [detail !== name ? detail : "", a?.backend ?? ""].filter((s) => s !== "").join(", ")
  return extra === "" ? name : `${name} (${extra})`
}

export const describeWeights = (w: WeightsSource): string =>
  w.kind === "checkpoint" ? `checkpoint ${w.dir ?? w.model_id}` : `synthetic (seed ${w.seed ?? 0})`
