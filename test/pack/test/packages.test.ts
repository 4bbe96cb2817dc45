/**
 * What the tarballs hold and what a plain install of them brings: built code with its types, a LICENSE, a README,
 * a repository, real version ranges between our packages, Effect 3 as a peer (never Effect 4).
 */
import { execFileSync } from "node:child_process"
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { cleanEnv, repoRoot, shipped } from "./globalSetup.js"
import { pack } from "./helpers.js"

const manifest = (dir: string) => JSON.parse(readFileSync(join(dir, "package.json"), "utf8"))
const libraries = shipped.filter((w) => w.startsWith("packages/"))

describe("the packed packages", () => {
  it("every tarball holds its built entry point, its types, a LICENSE and a README", () => {
    for (const p of pack().packed) {
      const files = new Set(p.files)
      expect(files, p.name).toContain("LICENSE")
      expect(files, p.name).toContain("README.md")
      if (p.name === "sandbox-cli") {
        expect(files).toContain("dist/sandbox-cli.cjs")
        expect(files).toContain("bin/sandbox-cli.cjs")
      } else if (p.name !== "@example/sandbox-cjs") {
        expect(files, p.name).toContain("dist/index.js")
        expect(files, p.name).toContain("dist/index.d.ts")
      }
    }
  })

  it("every shipped package builds on pack and names its repository, license and real ranges of ours", () => {
    for (const w of shipped) {
      const m = manifest(join(repoRoot, w))
      expect(m.scripts?.prepack, `${w}: prepack`).toMatch(/\bbuild\b/)
      expect(m.license, w).toBe("MIT")
      if (w !== "test/example-provider") expect(m.repository?.directory, w).toBe(w)
      for (const [name, range] of Object.entries({ ...m.dependencies, ...m.peerDependencies })) {
        if (name.startsWith("@org/")) expect(range, `${w} → ${name}`).toMatch(/^\^\d+\.\d+\.\d+$/)
      }
    }
  })

  it("the installed manifests claim no URL the project does not have, and say nothing undefined", () => {
    const urls = new Set<string>()
    for (const p of pack().packed.filter((x) => !x.name.startsWith("@example/"))) {
      const text = readFileSync(join(pack().project, "node_modules", p.name, "package.json"), "utf8")
      expect(text, p.name).not.toMatch(/undefined|example\.(com|org)|github\.com\/org\//)
      const m = JSON.parse(text)
      expect(m.repository?.type, p.name).toBe("git")
      if (m.repository?.url !== undefined) urls.add(m.repository.url)
    }
    // One URL for all of them, or none until the project has one (scripts/set-repository.mjs sets it everywhere).
    expect(urls.size).toBeLessThanOrEqual(1)
  })

  it("scripts/set-repository.mjs sets one URL, with each package's directory, in every published manifest", () => {
    const dir = mkdtempSync(join(tmpdir(), "sandbox-pack-repository-"))
    try {
      writeFileSync(join(dir, "package.json"), JSON.stringify(manifest(repoRoot)))
      const workspaces = [...shipped, "test/pack", "test", "test/daytona-emulator", "test/acp-agent", "test/agents"]
      for (const w of workspaces) {
        mkdirSync(join(dir, w), { recursive: true })
        cpSync(join(repoRoot, w, "package.json"), join(dir, w, "package.json"))
      }
      const url = "git+https://git.invalid/owners/sandbox-cli.git"
      execFileSync(process.execPath, [join(repoRoot, "scripts/set-repository.mjs"), url], {
        env: { ...cleanEnv(), SANDBOX_CLI_REPO_ROOT: dir },
        stdio: "pipe"
      })
      for (const w of workspaces) {
        const m = manifest(join(dir, w))
        if (m.private) expect(m.repository, w).toBeUndefined()
        else expect(m.repository, w).toEqual({ type: "git", url, directory: w })
      }
      expect(manifest(dir).repository).toEqual({ type: "git", url })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("effect and @effect/platform are peers of every library, with Effect 3 ranges", () => {
    for (const w of libraries) {
      const m = manifest(join(repoRoot, w))
      expect(m.dependencies?.effect, w).toBeUndefined()
      expect(m.dependencies?.["@effect/platform"], w).toBeUndefined()
      expect(m.peerDependencies?.effect, w).toMatch(/^\^3\./)
      expect(m.peerDependencies?.["@effect/platform"], w).toMatch(/^\^0\./)
    }
  })

  it("a plain install of the tarballs gets Effect 3 and nothing from the repository", () => {
    const modules = join(pack().project, "node_modules")
    expect(manifest(join(modules, "effect")).version).toMatch(/^3\./)
    expect(manifest(join(modules, "@effect/platform")).version).toMatch(/^0\.97\./)
    for (const p of pack().packed) {
      // installed from the tarball, not linked: a real directory, not a symlink into the clone
      const dir = join(modules, p.name)
      expect(existsSync(join(dir, "package.json")), p.name).toBe(true)
      expect(lstatSync(dir).isSymbolicLink(), `${p.name} is a link`).toBe(false)
    }
  })

  it("the release flow: changeset version bumps every public package together, publish accepts every tarball", () => {
    // `changeset version` on a copy of the manifests and pending changesets (the working tree stays untouched)
    const dir = mkdtempSync(join(tmpdir(), "sandbox-pack-release-"))
    try {
      const root = manifest(repoRoot)
      writeFileSync(join(dir, "package.json"), JSON.stringify(root))
      cpSync(join(repoRoot, ".changeset"), join(dir, ".changeset"), { recursive: true })
      const workspaces = [...shipped, "test/pack", "test", "test/daytona-emulator", "test/acp-agent"]
      for (const w of workspaces) {
        mkdirSync(join(dir, w), { recursive: true })
        cpSync(join(repoRoot, w, "package.json"), join(dir, w, "package.json"))
      }
      const bin = createRequire(import.meta.url).resolve("@changesets/cli/bin.js")
      execFileSync(process.execPath, [bin, "version"], { cwd: dir, env: cleanEnv(), stdio: "pipe" })
      const versions = new Map<string, string>()
      for (const w of shipped.filter((x) => x !== "test/example-provider")) {
        const m = manifest(join(dir, w))
        versions.set(m.name, m.version)
        expect(existsSync(join(dir, w, "CHANGELOG.md")), w).toBe(true)
      }
      const released = [...new Set(versions.values())]
      expect(released, JSON.stringify([...versions])).toHaveLength(1)
      expect(released[0]).toMatch(/^0\./)
      for (const w of shipped) {
        for (const [name, range] of Object.entries(manifest(join(dir, w)).dependencies ?? {})) {
          if (versions.has(name)) expect(range, `${w} → ${name}`).toBe(`^${versions.get(name)}`)
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
    // what `changeset publish` runs for each package, without publishing
    for (const p of pack().packed.filter((x) => !x.name.startsWith("@example/"))) {
      execFileSync("npm", ["publish", "--dry-run", "--access", "public", join(pack().tarballs, p.filename)], {
        cwd: pack().work,
        env: cleanEnv(),
        stdio: "pipe"
      })
    }
  })
})
