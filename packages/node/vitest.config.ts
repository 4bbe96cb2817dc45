import { defineConfig } from "vitest/config"

export default defineConfig({
  // Vitest resolves modules with the SSR conditions, so "source" must be set there too for workspace packages
  // (else a dynamic import of one reads its last build).
  resolve: { conditions: ["source"] },
  ssr: { resolve: { conditions: ["source"] } },
  // generous: CI runs every package's tests at once on a 2-core machine (real processes, real files)
  test: { include: ["test/**/*.test.ts"], testTimeout: 60_000, hookTimeout: 60_000 }
})
