import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Packs every package and installs the tarballs once (npm install from the registry for third-party deps).
    globalSetup: ["test/globalSetup.ts"],
    // One install directory shared by every file: the files run one after another.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 300_000
  }
})
