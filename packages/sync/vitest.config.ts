import { defineConfig } from "vitest/config"

export default defineConfig({
  resolve: { conditions: ["source"] },
  // workspace packages resolve to their TypeScript sources (the "source" export condition) in the node environment too
  ssr: { resolve: { conditions: ["source"] } },
  // generous: the suite runs real tar, find and sh processes on shared 2-core machines
  test: { include: ["test/**/*.test.ts"], testTimeout: 60_000, hookTimeout: 60_000 }
})
