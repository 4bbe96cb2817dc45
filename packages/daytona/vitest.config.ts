import { defineConfig } from "vitest/config"

// Daytona's daemon runs commands through zsh when the image has it, else bash, else sh: the whole suite (provider
// tests and conformance) runs against the emulator in each of the three shells.
const shells = ["sh", "bash", "zsh"] as const

export default defineConfig({
  // Vitest resolves modules with the SSR conditions, so "source" must be set there too for workspace packages.
  resolve: { conditions: ["source"] },
  ssr: { resolve: { conditions: ["source"] } },
  test: {
    // The SDK's waits poll once a second and other suites share the machine: generous limits, no wall-clock asserts.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    projects: shells.map((shell) => ({
      extends: true,
      test: { name: shell, include: ["test/**/*.test.ts"], env: { DAYTONA_EMULATOR_SHELL: shell } }
    }))
  }
})
