/**
 * The CLI as an outside user runs it: `npx sandbox-cli` in a directory that holds only the installed tarballs,
 * on the built-in local profile, on a Daytona profile (the emulator on loopback, the real SDK inside the bundle),
 * with third-party provider packages loaded by name and by relative path (one CommonJS, one ESM-only), and from a
 * global install with its own prefix.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { repoRoot } from "./globalSetup.js"
import { KEY, pack, run, scratch, withEmulator } from "./helpers.js"

const AGENT = "cat in.txt; echo made in the sandbox > out.txt; exit 3"

let s: ReturnType<typeof scratch>
beforeAll(() => {
  s = scratch()
})
afterAll(() => s.done())

/** A workspace inside the install directory, as a project would have. */
const workspace = (name: string) => {
  const ws = join(pack().project, "ws", name)
  mkdirSync(ws, { recursive: true })
  writeFileSync(join(ws, "in.txt"), "from the host\n")
  return ws
}

const sandboxCli = (args: ReadonlyArray<string>, cwd: string, env: Record<string, string> = {}) =>
  run("npx", ["--no-install", "sandbox-cli", ...args], { cwd, env: { ...s.env, ...env } })

const expectRan = (r: { code: number | null; stdout: string; stderr: string }, ws: string) => {
  expect(r.stderr).not.toMatch(/Cannot find module|ERR_|provider module/)
  expect(r.stdout, r.stderr).toContain("from the host")
  expect(r.code).toBe(3)
  expect(readFileSync(join(ws, "out.txt"), "utf8")).toBe("made in the sandbox\n")
}

describe("npx sandbox-cli from the installed tarballs", () => {
  it("runs a command on the built-in local profile", async () => {
    const ws = workspace("local")
    expectRan(await sandboxCli(["run", "--", "sh", "-c", AGENT], ws), ws)
  })

  it("runs a command on a Daytona profile against the emulator (the SDK's upload and download included)", () =>
    withEmulator(async (emu) => {
      const ws = workspace("daytona")
      writeFileSync(
        join(ws, ".sandbox-cli.toml"),
        `[sandboxes.cloud]\nbackend = "daytona"\n[sandboxes.cloud.daytona]\napi_url = "${emu.url}"\n`
      )
      const r = await sandboxCli(["run", "--profile", "cloud", "--", "sh", "-c", AGENT], ws, { DAYTONA_API_KEY: KEY })
      expectRan(r, ws)
      expect(emu.sandboxes().filter((x) => x.state !== "destroyed")).toEqual([])
    }))

  // The CommonJS package is also unpacked into a directory of its own and named by a relative path to it; the
  // ESM-only one by a relative path to its installed directory.
  const providers = [
    ["esm-name", "tmpdir", "@example/sandbox-tmpdir"],
    ["cjs-name", "cjs-tmpdir", "@example/sandbox-cjs"],
    ["esm-path", "tmpdir", "./node_modules/@example/sandbox-tmpdir"],
    ["cjs-path", "cjs-tmpdir", "./vendor/sandbox-cjs"]
  ] as const
  for (const [profile, backend, spec] of providers) {
    it(`runs on a third-party provider loaded as ${spec}`, async () => {
      const project = pack().project
      cpSync(join(project, "node_modules/@example/sandbox-cjs"), join(project, "vendor/sandbox-cjs"), {
        recursive: true
      })
      const root = join(s.dir, `root-${profile}`)
      const config = join(project, `${profile}.toml`)
      writeFileSync(
        config,
        `[providers]\n${backend} = "${spec}"\n\n[sandboxes.${profile}]\nbackend = "${backend}"\n\n` +
          `[sandboxes.${profile}.${backend}]\nroot = ${JSON.stringify(root)}\n`
      )
      const ws = workspace(profile)
      const r = await sandboxCli(["run", "--config", config, "--profile", profile, "--", "sh", "-c", AGENT], ws)
      expectRan(r, ws)
      expect(readdirSync(root)).toEqual([])
    })
  }
})

describe("a third-party provider gets what the built-in local one gets, from the installed CLI", () => {
  /** A config with one profile on the CommonJS provider, its table's root set, and `extra` lines on the profile. */
  const claimed = (name: string, extra: string) => {
    const project = pack().project
    const root = join(s.dir, `root-${name}`)
    const config = join(project, `${name}.toml`)
    writeFileSync(
      config,
      `[providers]\ncjs-tmpdir = "@example/sandbox-cjs"\n\n[sandboxes.${name}]\nbackend = "cjs-tmpdir"\n${extra}` +
        `\n[sandboxes.${name}.cjs-tmpdir]\nroot = ${JSON.stringify(root)}\n`
    )
    return {
      config,
      run: (cmd: string) =>
        sandboxCli(["run", "--config", config, "--profile", name, "--", "sh", "-c", cmd], workspace(name))
    }
  }

  it("a key it claims on the profile table is checked by its schema and reaches it; its default applies", async () => {
    const strict = await claimed("claims", `confinement = "strict"\n`).run("echo confinement=$CJS_CONFINEMENT")
    expect(strict.stdout, strict.stderr).toContain("confinement=strict")
    expect(strict.code).toBe(0)
    const byDefault = await claimed("defaults", "").run("echo confinement=$CJS_CONFINEMENT")
    expect(byDefault.stdout, byDefault.stderr).toContain("confinement=off")
  })

  for (
    const [name, extra, line, message] of [
      [
        "wrong",
        `confinement = "loose"\n`,
        6,
        /key sandboxes\.wrong\.confinement: expected "off" or "strict", got "loose"/
      ],
      ["unknown", `confinment = "strict"\n`, 6, /key sandboxes\.unknown\.confinment: .*unknown key/],
      [
        "local-key",
        `isolation = "bubblewrap"\n`,
        6,
        /key sandboxes\.local-key\.isolation: .*applies to backend local only/
      ]
    ] as const
  ) {
    it(`${name}: refused in one line naming the file, line and key`, async () => {
      const { config, run: runIt } = claimed(name, extra)
      const r = await runIt("true")
      expect(r.code).toBe(2)
      const lines = r.stderr.trim().split("\n")
      expect(lines, r.stderr).toHaveLength(1)
      expect(lines[0]).toContain(`${config}:${line}:`)
      expect(lines[0]).toMatch(message)
    })
  }

  it("session stop ends a command that never ends by itself (sleep infinity under an async generator)", async () => {
    const project = pack().project
    const root = join(s.dir, "root-stop")
    writeFileSync(
      join(project, "stop.toml"),
      `[providers]\ntmpdir = "@example/sandbox-tmpdir"\n\n[sandboxes.stop]\nbackend = "tmpdir"\n\n` +
        `[sandboxes.stop.tmpdir]\nroot = ${JSON.stringify(root)}\n`
    )
    const ws = workspace("stop")
    const cli = (words: ReadonlyArray<string>, rest: ReadonlyArray<string> = []) =>
      sandboxCli([...words, "--config", join(project, "stop.toml"), ...rest], ws)
    expect((await cli(["workspace", "add", ws], ["--name", "stopper", "--sandbox", "stop"])).code).toBe(0)
    const created = await cli(["session", "new"], [
      "--workspace",
      "stopper",
      "-o",
      "json",
      "--",
      "sh",
      "-c",
      "echo $$ > pid.txt; exec sleep infinity"
    ])
    expect(created.code, created.stderr).toBe(0)
    const id = (JSON.parse(created.stdout) as { id: string }).id
    let pid: number | undefined
    for (let i = 0; i < 300 && pid === undefined; i++) {
      const dirs = existsSync(root) ? readdirSync(root) : []
      const file = dirs.length === 1 ? join(root, dirs[0]!, "work", "pid.txt") : ""
      const text = file !== "" && existsSync(file) ? readFileSync(file, "utf8") : ""
      if (/^\d+\n$/.test(text)) pid = Number(text)
      else await new Promise((r) => setTimeout(r, 100))
    }
    expect(pid, "the command wrote its pid").toBeDefined()
    try {
      const stopped = await cli(["session", "stop", id])
      expect(stopped.code, stopped.stderr).toBe(0)
      expect(() => process.kill(pid!, 0), "the sleep outlived session stop").toThrow()
      expect(readFileSync(join(ws, "pid.txt"), "utf8")).toBe(`${pid}\n`)
    } finally {
      try {
        process.kill(pid!, "SIGKILL")
      } catch {
        // gone, as it should be
      }
    }
  })
})

describe("provider load and start failures, from the installed CLI", () => {
  it("a package that is not installed: one line naming the config file and line, suggesting the install", async () => {
    const project = pack().project
    const config = join(project, "missing.toml")
    writeFileSync(
      config,
      `# a provider nobody installed\n[providers]\ngone = "@acme/sandbox-gone"\n\n` +
        `[sandboxes.g]\nbackend = "gone"\n`
    )
    const r = await sandboxCli(["run", "--config", config, "--profile", "g", "--", "true"], workspace("missing"))
    expect(r.code).toBe(2)
    const lines = r.stderr.trim().split("\n")
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain(`${config}:3`)
    expect(lines[0]).toContain("npm install @acme/sandbox-gone")
    expect(lines[0]).not.toContain("noop.js")
  })

  it("doctor reports a provider whose factory throws as failing", async () => {
    const project = pack().project
    writeFileSync(
      join(project, "boom.mjs"),
      `export default { backend: "boom", contract_version: 1, ` +
        `provider: async () => { throw new Error("no credentials for boom") } }\n`
    )
    const config = join(project, "boom.toml")
    writeFileSync(config, `[providers]\nboom = "./boom.mjs"\n\n[sandboxes.b]\nbackend = "boom"\n`)
    const r = await sandboxCli(["doctor", "--config", config, "-o", "json"], project)
    expect(r.code).toBe(1)
    const report = JSON.parse(r.stdout) as { checks: Array<{ name: string; status: string; detail: string }> }
    expect(report.checks.find((c) => c.name === "profile.b")).toMatchObject({ status: "fail" })
    expect(report.checks.find((c) => c.name === "profile.b")?.detail).toContain("no credentials for boom")
  })
})

describe("sandbox-cli installed alone (npm install --global from the tarball, its own prefix)", () => {
  let bin: string
  beforeAll(async () => {
    const prefix = join(s.dir, "global")
    const cli = pack().packed.find((p) => p.name === "sandbox-cli")!
    const installed = await run(
      "npm",
      ["install", "--global", "--prefix", prefix, "--no-audit", "--no-fund", join(pack().tarballs, cli.filename)],
      { cwd: s.dir }
    )
    expect(installed.code, installed.stderr).toBe(0)
    bin = join(prefix, "bin", "sandbox-cli")
  })

  /** A workspace outside the install directory: nothing but the CLI's own files can be resolved. */
  const alone = (name: string) => {
    const ws = join(s.dir, "alone", name)
    mkdirSync(ws, { recursive: true })
    writeFileSync(join(ws, "in.txt"), "from the host\n")
    return ws
  }

  it("runs a command on the built-in local profile", async () => {
    const ws = alone("local")
    expectRan(await run(bin, ["run", "--", "sh", "-c", AGENT], { cwd: ws, env: s.env }), ws)
  })

  it("runs a command on a Daytona profile: the SDK's upload and download modules are in the bundle", () =>
    withEmulator(async (emu) => {
      const ws = alone("daytona")
      writeFileSync(
        join(ws, ".sandbox-cli.toml"),
        `[sandboxes.cloud]\nbackend = "daytona"\n[sandboxes.cloud.daytona]\napi_url = "${emu.url}"\n`
      )
      const r = await run(bin, ["run", "--profile", "cloud", "--", "sh", "-c", AGENT], {
        cwd: ws,
        env: { ...s.env, DAYTONA_API_KEY: KEY }
      })
      expectRan(r, ws)
      expect(emu.sandboxes().filter((x) => x.state !== "destroyed")).toEqual([])
    }))
})

describe("sandbox-cli installed globally from a clone (the README's way before a release)", () => {
  it("npm install --global ./apps/cli puts a working sandbox-cli on the PATH", async () => {
    const prefix = join(s.dir, "global-from-clone")
    const installed = await run(
      "npm",
      ["install", "--global", "--prefix", prefix, "--no-audit", "--no-fund", join(repoRoot, "apps/cli")],
      { cwd: s.dir }
    )
    expect(installed.code, installed.stderr).toBe(0)
    const ws = join(s.dir, "from-clone")
    mkdirSync(ws, { recursive: true })
    writeFileSync(join(ws, "in.txt"), "from the host\n")
    const r = await run(join(prefix, "bin", "sandbox-cli"), ["run", "--", "sh", "-c", AGENT], {
      cwd: ws,
      env: { ...s.env, PATH: `${join(prefix, "bin")}:${process.env["PATH"] ?? ""}` }
    })
    expectRan(r, ws)
  })
})
