import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["packages/*/test/**/*.test.ts", "kernels/**/*.test.ts", "harness/test/**/*.test.ts"],
    // Benchmarks written as test files so the GPU host's bundle runs them (scripts/device/bundle-tests.ts): they time,
    // not check, and need the H100's subgroup matrices, so the suite leaves them out rather than listing them skipped.
    exclude: ["**/node_modules/**", "**/*_bench.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // GPU tests share one lavapipe device per worker; two workers fit a 2-core CI machine.
    pool: "threads", // Dawn aborts in forked workers (futex error); worker threads are fine
    maxWorkers: 2,
  },
})
