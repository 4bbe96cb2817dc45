/**
 * Packs every package of the repository (as `npm publish` would ship it) and installs ONLY those tarballs into an
 * empty directory, with third-party dependencies from the npm registry: no workspace links, no repository
 * node_modules. The tests then run the CLI, providers and library programs from that directory.
 *
 * `dist` comes from turbo (this package's devDependencies make `test` wait for every package's `build`); packing
 * runs with `--ignore-scripts` so that no `prepack` rewrites a `dist` that other packages' tests are reading.
 */
import { execFileSync } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import type { TestProject } from "vitest/node"

export const repoRoot = fileURLToPath(new URL("../../..", import.meta.url))

/** Every workspace that ships, by directory. */
export const shipped = [
  "packages/core",
  "packages/sync",
  "packages/local",
  "packages/daytona",
  "packages/reconciler",
  "packages/acp",
  "packages/node",
  "apps/cli",
  "test/example-provider"
] as const

/** The environment of a child npm: none of the outer npm's settings (workspace, prefix, …) leak in. */
export const cleanEnv = (): NodeJS.ProcessEnv =>
  Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)))

const npm = (args: ReadonlyArray<string>, cwd: string): string =>
  execFileSync("npm", [...args], { cwd, env: cleanEnv(), encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] })

export default function setup(project: TestProject): () => void {
  if (process.env["TURBO_HASH"] === undefined) {
    // Run alone (not under turbo): build what is packed first.
    execFileSync("npx", ["turbo", "run", "build", "--filter=@org/sandbox-pack-test^...", "--output-logs=errors-only"], {
      cwd: repoRoot,
      stdio: "inherit"
    })
  }
  const work = mkdtempSync(join(tmpdir(), "sandbox-pack-"))
  const tarballs = join(work, "tarballs")
  mkdirSync(tarballs)
  const packed = JSON.parse(
    npm(
      ["pack", "--ignore-scripts", "--json", "--pack-destination", tarballs, ...shipped.flatMap((w) => ["-w", w])],
      repoRoot
    )
  ) as Array<{ name: string; filename: string; files: Array<{ path: string }> }>
  const fixture = fileURLToPath(new URL("../fixtures/sandbox-cjs", import.meta.url))
  packed.push(...JSON.parse(npm(["pack", "--json", "--pack-destination", tarballs], fixture)))
  const project_ = join(work, "project")
  mkdirSync(project_)
  const deps = Object.fromEntries(packed.map((p) => [p.name, `file:${join(tarballs, p.filename)}`]))
  writeFileSync(
    join(project_, "package.json"),
    JSON.stringify({ name: "outside-user", private: true, type: "module", dependencies: deps }, null, 2)
  )
  npm(["install", "--no-audit", "--no-fund", "--loglevel=error"], project_)
  project.provide("pack", {
    work,
    tarballs,
    project: project_,
    packed: packed.map((p) => ({ name: p.name, filename: p.filename, files: p.files.map((f) => f.path) }))
  })
  return () => rmSync(work, { recursive: true, force: true })
}

/** What the setup hands the tests. */
export interface Packed {
  readonly work: string
  readonly tarballs: string
  readonly project: string
  readonly packed: ReadonlyArray<{ readonly name: string; readonly filename: string; readonly files: Array<string> }>
}

declare module "vitest" {
  export interface ProvidedContext {
    pack: Packed
  }
}
