import { defineConfig } from "vitest/config"

export default defineConfig({
  // Vitest resolves modules with the SSR conditions, so "source" must be set there too for workspace packages.
  resolve: { conditions: ["source"] },
  ssr: { resolve: { conditions: ["source"] } },
  test: { include: ["test/**/*.test.ts"] }
})
