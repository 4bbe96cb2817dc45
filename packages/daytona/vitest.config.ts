import { defineConfig } from "vitest/config"

export default defineConfig({
  // Vitest resolves modules with the SSR conditions, so "source" must be set there too for workspace packages.
  resolve: { conditions: ["source"] },
  ssr: { resolve: { conditions: ["source"] } },
  // The SDK's waits poll once a second and other suites share the machine: generous limits, no wall-clock asserts.
  test: { include: ["test/**/*.test.ts"], testTimeout: 60_000, hookTimeout: 60_000 }
})
