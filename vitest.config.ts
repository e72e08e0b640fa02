import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["packages/*/test/**/*.test.ts", "kernels/**/*.test.ts", "harness/test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // GPU tests share one lavapipe device per worker; two workers fit a 2-core CI machine.
    pool: "threads", // Dawn aborts in forked workers (futex error); worker threads are fine
    maxWorkers: 2,
  },
})
