/**
 * What the built CLI holds and loads: a short command must not pay for modules no command uses, nor for the
 * commands it is not. Speed itself is measured by `npm run bench:cli`; these check the structure that makes it.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { spawnSync } from "node:child_process"
import { readdirSync, readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import { expectOk, fixture, json, paths } from "./helpers.js"

layer(NodeContext.layer)("sandbox-cli bundle", (it) => {
  it("imports Effect's modules, not its barrels: unused modules are not in the bundle at all", () => {
    const bundle = readFileSync(paths.bundle, "utf8")
    // Reached only through `import { … } from "effect"` / `"@effect/platform"` barrels: their HTTP server,
    // MessagePack codec and worker pool, and fast-check (Schema's arbitraries). No command uses any of them.
    for (
      const unused of [
        "@effect/platform/HttpServer",
        "@effect/platform/MsgPack/MsgPackError",
        "@effect/platform/Worker",
        "fast-check"
      ]
    ) {
      expect(bundle, unused).not.toContain(unused)
    }
  })

  it.scoped("a command loads only its own module; the whole tree still answers help and unknown commands", () =>
    Effect.gen(function*() {
      const cli = yield* fixture()
      const profiles = json<ReadonlyArray<{ readonly name: string }>>(
        expectOk(yield* cli.run(["profile", "list", "-o", "json"]))
      )
      expect(profiles.map((p) => p.name)).toContain("local")
      const help = expectOk(yield* cli.run(["--help"]))
      for (const name of ["run", "session", "sandbox", "workspace", "profile", "doctor", "reconcile", "prune"]) {
        expect(help.stdout).toContain(name)
      }
      const unknown = yield* cli.run(["bogus"])
      expect(unknown.code).toBe(2)
      expect(unknown.stderr).toContain("'session'")
      const wrong = yield* cli.run(["session", "bogus"])
      expect(wrong.code).toBe(2)
      expect(wrong.stderr).toMatch(/^Invalid subcommand for session - use one of .*'stop'/)
      expect(wrong.stderr).not.toContain("'doctor'")
    }))

  it.scoped("the code cache a run writes is the one the next command reads: it is not written again", () =>
    Effect.gen(function*() {
      const cli = yield* fixture()
      const dir = join(cli.env["XDG_CACHE_HOME"]!, "sandbox-cli")
      // A run changes a V8 flag of its own (its young generation's growth): a cache it wrote under that flag was
      // rejected by every later process, which compiled the whole bundle again and wrote it again at exit.
      expectOk(yield* cli.run(["run", "--", "true"]))
      const [cache] = readdirSync(dir).filter((n) => n.startsWith("v8-"))
      expect(cache).toBeDefined()
      const written = statSync(join(dir, cache!))
      expectOk(yield* cli.run(["run", "--", "true"]))
      expectOk(yield* cli.run(["profile", "list"]))
      const after = statSync(join(dir, cache!))
      expect([after.ino, after.mtimeMs]).toEqual([written.ino, written.mtimeMs])
    }))

  it.scoped("a process under other V8 flags (a supervisor) keeps its own code cache: neither rewrites the other", () =>
    Effect.gen(function*() {
      const cli = yield* fixture()
      const dir = join(cli.env["XDG_CACHE_HOME"]!, "sandbox-cli")
      const caches = () => readdirSync(dir).filter((n) => n.startsWith("v8-")).sort()
      const withFlags = (flags: ReadonlyArray<string>) => {
        const done = spawnSync(process.execPath, [...flags, paths.launcher, "profile", "list", "-o", "json"], {
          cwd: cli.cwd,
          env: cli.env,
          encoding: "utf8"
        })
        expect(done.status, done.stderr).toBe(0)
      }
      withFlags([])
      const [plain] = caches()
      expect(plain).toBeDefined()
      const written = statSync(join(dir, plain!)).mtimeMs
      withFlags(["--max-semi-space-size=4"])
      withFlags([])
      expect(caches()).toHaveLength(2)
      expect(statSync(join(dir, plain!)).mtimeMs).toBe(written)
    }))
})
