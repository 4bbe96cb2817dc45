import { defineConfig } from "vitest/config"

export default defineConfig({
  resolve: { conditions: ["source"] },
  test: {
    include: ["test/**/*.test.ts"],
    // Real agents start slowly on a busy machine; one file at a time keeps them from starving each other.
    fileParallelism: false,
    testTimeout: 240_000,
    hookTimeout: 60_000
  }
})
