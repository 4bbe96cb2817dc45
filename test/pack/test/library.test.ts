/**
 * Library users outside the repository, from the installed tarballs: a program without Effect on the Promise facade
 * (`@org/sandbox-node`, the README's own program among them), a program on `@org/sandbox-daytona` and
 * `@org/sandbox-sync` in Effect form against the emulator (the README's copy checked against it), and a provider author's types — the Promise contract's `.d.ts` closure mentions no `effect`, and a
 * `PromiseCreateSpec` types with nothing else installed.
 */
import { execFileSync } from "node:child_process"
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { repoRoot } from "./globalSetup.js"
import { KEY, pack, run, withEmulator } from "./helpers.js"

const programs = fileURLToPath(new URL("../fixtures/programs", import.meta.url))

/** The first ```ts block after a README heading, as written. */
const readmeBlock = (heading: string): string => {
  const readme = readFileSync(join(repoRoot, "README.md"), "utf8")
  const at = readme.indexOf(`\n${heading}\n`)
  expect(at, heading).toBeGreaterThan(-1)
  const open = readme.indexOf("```ts\n", at)
  return readme.slice(open + "```ts\n".length, readme.indexOf("```\n", open + 5))
}

/** A workspace with one file, and a copy of the named program in the install directory. */
const setup = (program: string) => {
  const ws = mkdtempSync(join(tmpdir(), "sandbox-pack-lib-"))
  writeFileSync(join(ws, "in.txt"), "from the host\n")
  const file = join(pack().project, program)
  cpSync(join(programs, program), file)
  return { ws, file, done: () => rmSync(ws, { recursive: true, force: true }) }
}

/** Every file a `.d.ts` reaches through relative imports, and every package it names. */
const closure = (entry: string) => {
  const files = new Set<string>()
  const packages = new Set<string>()
  const visit = (file: string) => {
    if (files.has(file)) return
    files.add(file)
    // comments hold examples ("import … from the package itself"), not references
    const text = readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "")
    for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)["']([^"']+)["']/g)) {
      const spec = m[1]!
      if (spec.startsWith(".")) visit(resolve(dirname(file), spec.replace(/\.js$/, ".d.ts")))
      else packages.add(spec)
    }
  }
  visit(entry)
  return { files: [...files], packages: [...packages] }
}

describe("library programs from the installed tarballs", () => {
  it("the Promise facade seeds, runs, streams, syncs back and destroys without Effect in the program", async () => {
    const { done, file, ws } = setup("facade.mjs")
    try {
      expect(readFileSync(file, "utf8")).not.toMatch(/from "effect"/)
      const r = await run("node", [file, ws], { cwd: pack().project })
      expect(r.code, r.stderr).toBe(0)
      expect(JSON.parse(r.stdout)).toEqual({
        seeded: 1,
        cat: "from the host\n",
        streamed: "streamed\n",
        exit: 0,
        back: 1
      })
      expect(readFileSync(join(ws, "out.txt"), "utf8")).toBe("made by the facade\n")
    } finally {
      done()
    }
  })

  it("the README's Promise program, as written, runs on a project from the installed tarballs", async () => {
    const program = readmeBlock("### Without Effect: the Promise facade (`@org/sandbox-node`)")
    // Beside the installed packages, so that its imports resolve there; run from a directory holding my-project.
    const file = join(pack().project, "readme-promise.mjs")
    writeFileSync(file, program)
    const cwd = mkdtempSync(join(tmpdir(), "sandbox-pack-readme-"))
    try {
      const project = join(cwd, "my-project")
      mkdirSync(project)
      const manifest = { name: "my-project", version: "1.0.0", private: true }
      writeFileSync(
        join(project, "package.json"),
        JSON.stringify({ ...manifest, scripts: { test: "echo tested > tested.txt && echo all tests passed" } })
      )
      writeFileSync(
        join(project, "package-lock.json"),
        JSON.stringify({ ...manifest, lockfileVersion: 3, requires: true, packages: { "": manifest } })
      )
      const r = await run("node", [file], { cwd })
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout).toContain("all tests passed")
      expect(readFileSync(join(project, "tested.txt"), "utf8")).toBe("tested\n")
      // npm ci's node_modules stays in the sandbox: it is one of the default excludes.
      expect(existsSync(join(project, "node_modules"))).toBe(false)
    } finally {
      rmSync(cwd, { recursive: true, force: true })
    }
  })

  it("the README's Effect program is daytona.mjs, the program run below", () => {
    const fixture = readFileSync(join(programs, "daytona.mjs"), "utf8")
    const program = readmeBlock("### With Effect: the sync engine (`@org/sandbox-sync`) and the core services")
    expect(program).toBe(fixture.slice(fixture.indexOf("\nimport ") + 1))
  })

  it("a program on @org/sandbox-daytona and @org/sandbox-sync runs against the emulator and brings work home", () =>
    withEmulator(async (emu) => {
      const { done, file, ws } = setup("daytona.mjs")
      const state = mkdtempSync(join(tmpdir(), "sandbox-pack-state-"))
      try {
        const r = await run("node", [file, ws, state], {
          cwd: pack().project,
          env: { DAYTONA_API_KEY: KEY, DAYTONA_API_URL: emu.url }
        })
        expect(r.code, r.stderr).toBe(0)
        expect(JSON.parse(r.stdout)).toEqual({ seeded: 1, stdout: "from the host\n", streamed: "streamed\n", back: 1 })
        expect(readFileSync(join(ws, "out.txt"), "utf8")).toBe("made in daytona\n")
        expect(emu.sandboxes().filter((s) => s.state !== "destroyed")).toEqual([])
      } finally {
        done()
        rmSync(state, { recursive: true, force: true })
      }
    }))
})

describe("types for people who do not use Effect", () => {
  const modules = () => join(pack().project, "node_modules")

  it("the Promise contract's and the facade's .d.ts closures mention no effect", () => {
    for (
      const entry of [
        "@org/sandbox-core/dist/PromiseProvider.d.ts",
        "@org/sandbox-node/dist/index.d.ts"
      ]
    ) {
      const file = join(modules(), entry)
      expect(existsSync(file), entry).toBe(true)
      const { files, packages } = closure(file)
      expect(packages.filter((p) => p === "effect" || p.startsWith("@effect/")), entry).toEqual([])
      for (const f of files) expect(readFileSync(f, "utf8"), f).not.toMatch(/["']effect["']|@effect\//)
      // the facade reaches the contract's types, and nothing of ours that carries Effect
      for (const p of packages) expect(["@org/sandbox-core/PromiseProvider"], `${entry} → ${p}`).toContain(p)
    }
  })

  it("a provider author types a PromiseCreateSpec and a provider with only @org/sandbox-core installed", () => {
    const dir = mkdtempSync(join(tmpdir(), "sandbox-pack-author-"))
    try {
      // only the core package: no effect beside it, so any reference to it would fail to resolve
      mkdirSync(join(dir, "node_modules/@org"), { recursive: true })
      cpSync(join(modules(), "@org/sandbox-core"), join(dir, "node_modules/@org/sandbox-core"), { recursive: true })
      cpSync(join(programs, "author.ts"), join(dir, "author.ts"))
      writeFileSync(
        join(dir, "tsconfig.json"),
        JSON.stringify({
          compilerOptions: {
            strict: true,
            noEmit: true,
            module: "nodenext",
            moduleResolution: "nodenext",
            target: "es2022",
            lib: ["es2022", "dom"],
            types: [],
            skipLibCheck: false
          },
          files: ["author.ts"]
        })
      )
      const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc")
      execFileSync(process.execPath, [tsc, "-p", dir], { cwd: dir, encoding: "utf8", stdio: "pipe" })
    } catch (e) {
      throw new Error(`tsc failed: ${(e as { stdout?: string }).stdout ?? String(e)}`)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
