/**
 * `session conflicts`: list a session's unresolved conflicts, show both sides with a diff, and resolve each by
 * keeping the host's version, the sandbox's, or both; a resolved conflict is not reported again by the next sync.
 * On the local backend and on the Daytona emulator.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { scopedEmulator } from "./emulator.js"
import type { Fixture } from "./helpers.js"
import { expectOk, fixture, json, poll } from "./helpers.js"
import { shellSession } from "./sessions.js"

const TIMEOUT = 240_000
const KEY = "e2e-conflicts-key"

interface Entry {
  readonly path: string
  readonly runtime_copy: string | null
}

const scenario = (cli: Fixture, config: string, env: Record<string, string>) =>
  Effect.gen(function*() {
    yield* cli.write("cwd/.sandbox-cli.toml", config)
    const ws = yield* cli.mkdir("cwd/project")
    for (const name of ["f.txt", "g.txt", "h.txt"]) writeFileSync(join(ws, name), "base\n")
    expectOk(yield* cli.run(["workspace", "add", ws, "--name", "proj", "--sandbox", "box"], { env }))
    const run = (...args: ReadonlyArray<string>) => cli.run(args, { env })
    const id = yield* shellSession(
      cli,
      "proj",
      "for f in f g h; do echo sandbox-$f > $f.txt; done; echo up > up.txt; sleep 600",
      env
    )
    yield* poll(run("session", "exec", id, "--", "cat", "up.txt"), (r) => r.code === 0, "120 seconds")
    for (const name of ["f", "g", "h"]) writeFileSync(join(ws, `${name}.txt`), `host-${name}\n`)
    const synced = json<{ conflicts: ReadonlyArray<string> }>(expectOk(yield* run("session", "sync", id, "-o", "json")))
    expect([...synced.conflicts].sort()).toEqual(["f.txt", "g.txt", "h.txt"])

    const listed = json<ReadonlyArray<Entry>>(expectOk(yield* run("session", "conflicts", id, "-o", "json")))
    expect(listed.map((e) => e.path).sort()).toEqual(["f.txt", "g.txt", "h.txt"])
    expect(listed.find((e) => e.path === "f.txt")!.runtime_copy).toBe(`f.txt.sandbox-conflict-${id}`)

    const shown = expectOk(yield* run("session", "conflicts", "show", id, "f.txt")).stdout
    expect(shown).toContain("--- host/f.txt\n+++ sandbox/f.txt\n@@ -1,1 +1,1 @@\n-host-f\n+sandbox-f")
    const unknown = yield* run("session", "conflicts", "show", id, "nope.txt")
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain(`no unresolved conflict at "nope.txt" in session ${id}`)

    // the sandbox's version on both sides
    expectOk(yield* run("session", "conflicts", "resolve", id, "f.txt", "--keep", "runtime"))
    expect(readFileSync(join(ws, "f.txt"), "utf8")).toBe("sandbox-f\n")
    // the host's version on both sides
    expectOk(yield* run("session", "conflicts", "resolve", id, "g.txt", "--keep", "host"))
    expect(expectOk(yield* run("session", "exec", id, "--", "cat", "g.txt")).stdout).toBe("host-g\n")
    // both: the host's stays, the sandbox's beside it as a plain file
    const both = json<{ runtime_version_at: string }>(
      expectOk(yield* run("session", "conflicts", "resolve", id, "h.txt", "--keep", "both", "-o", "json"))
    )
    expect(both.runtime_version_at).toBe("h.txt.from-sandbox")
    expect(readFileSync(join(ws, "h.txt"), "utf8")).toBe("host-h\n")
    expect(readFileSync(join(ws, "h.txt.from-sandbox"), "utf8")).toBe("sandbox-h\n")

    // settled: no copies left, nothing listed, and the next sync reports none of them again
    expect(readdirSync(ws).filter((n) => n.includes(".sandbox-conflict-"))).toEqual([])
    expect(json<ReadonlyArray<Entry>>(expectOk(yield* run("session", "conflicts", id, "-o", "json")))).toEqual([])
    const again = json<{ conflicts: ReadonlyArray<string> }>(expectOk(yield* run("session", "sync", id, "-o", "json")))
    expect(again.conflicts).toEqual([])
    expect(expectOk(yield* run("session", "exec", id, "--", "cat", "h.txt.from-sandbox")).stdout).toBe("sandbox-h\n")
    expectOk(yield* run("session", "stop", id))
    expect(readFileSync(join(ws, "f.txt"), "utf8")).toBe("sandbox-f\n")
    expect(readFileSync(join(ws, "g.txt"), "utf8")).toBe("host-g\n")
    expect(existsSync(join(ws, `h.txt.sandbox-conflict-${id}`))).toBe(false)
  })

/** Live sync (`sync_mode = "live"`): list, show and resolve while the session watches; settled by hand, it goes. */
const liveScenario = (cli: Fixture, config: string, env: Record<string, string>) =>
  Effect.gen(function*() {
    const run = (...args: ReadonlyArray<string>) => cli.run(args, { env })
    yield* cli.write("cwd/.sandbox-cli.toml", config)
    const ws = yield* cli.mkdir("cwd/project")
    for (const n of ["f", "g", "h"]) writeFileSync(join(ws, `${n}.txt`), "base\n")
    expectOk(yield* run("workspace", "add", ws, "--name", "proj", "--sandbox", "box"))
    const id = yield* shellSession(cli, "proj", "sleep 600", env)
    const live = () =>
      Effect.map(
        run("session", "status", id, "-o", "json"),
        (r) => json<{ live: { state: string } | null; sandbox: { sync: { conflicts: ReadonlyArray<string> } } }>(r)
      )
    yield* poll(live(), (s) => s.live?.state === "watching", "120 seconds")
    // both sides change the same files while live sync is paused; the resume finds them in conflict
    expectOk(yield* run("session", "sync", id, "--pause"))
    for (const n of ["f", "g", "h"]) {
      writeFileSync(join(ws, `${n}.txt`), `host-${n}\n`)
      expectOk(yield* run("session", "exec", id, "--", "sh", "-c", `echo sandbox-${n} > ${n}.txt`))
    }
    expectOk(yield* run("session", "sync", id, "--resume"))
    yield* poll(live(), (s) => s.sandbox.sync.conflicts.length === 3, "60 seconds")
    const listed = json<ReadonlyArray<Entry>>(expectOk(yield* run("session", "conflicts", id, "-o", "json")))
    expect(listed.find((e) => e.path === "f.txt")!.runtime_copy).toBe(`f.txt.sandbox-conflict-${id}`)
    const shown = expectOk(yield* run("session", "conflicts", "show", id, "f.txt")).stdout
    expect(shown).toContain("-host-f\n+sandbox-f")

    expectOk(yield* run("session", "conflicts", "resolve", id, "f.txt", "--keep", "runtime"))
    expect(readFileSync(join(ws, "f.txt"), "utf8")).toBe("sandbox-f\n")
    // g.txt by hand: the host takes the sandbox's version and the copy goes; live sync sees both agree
    writeFileSync(join(ws, "g.txt"), "sandbox-g\n")
    for (const n of readdirSync(ws).filter((n) => n.startsWith("g.txt.sandbox-conflict-"))) rmSync(join(ws, n))
    const settled = yield* poll(live(), (s) => !s.sandbox.sync.conflicts.includes("g.txt"), "60 seconds")
    expect(settled.sandbox.sync.conflicts).toEqual(["h.txt"])
    expect(expectOk(yield* run("session", "exec", id, "--", "cat", "f.txt")).stdout).toBe("sandbox-f\n")
    expectOk(yield* run("session", "stop", id))
    expect(readFileSync(join(ws, "h.txt"), "utf8")).toBe("host-h\n")
    expect(readFileSync(join(ws, `h.txt.sandbox-conflict-${id}`), "utf8")).toBe("sandbox-h\n")
  })

layer(NodeContext.layer)("sandbox-cli session conflicts", (it) => {
  it.scoped(
    "local: list, show, resolve host / runtime / both; the next sync reports none again",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        yield* scenario(cli, `[sandboxes.box]\nbackend = "local"\n`, {})
      }),
    TIMEOUT
  )

  it.scoped(
    "after the session ended and its sandbox is gone, the copy kept on the host is the sandbox's side",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        yield* cli.write("cwd/.sandbox-cli.toml", `[sandboxes.box]\nbackend = "local"\n`)
        const ws = yield* cli.mkdir("cwd/project")
        writeFileSync(join(ws, "f.txt"), "base\n")
        writeFileSync(join(ws, "g.txt"), "base\n")
        expectOk(yield* cli.run(["workspace", "add", ws, "--name", "proj", "--sandbox", "box"]))
        const id = yield* shellSession(
          cli,
          "proj",
          "echo sandbox > f.txt; echo sandbox > g.txt; echo up > up.txt; sleep 600"
        )
        yield* poll(cli.run(["session", "exec", id, "--", "cat", "up.txt"]), (r) => r.code === 0, "120 seconds")
        writeFileSync(join(ws, "f.txt"), "host\n")
        writeFileSync(join(ws, "g.txt"), "host\n")
        expectOk(yield* cli.run(["session", "stop", id]))
        const listed = json<ReadonlyArray<Entry>>(expectOk(yield* cli.run(["session", "conflicts", id, "-o", "json"])))
        expect(listed.map((e) => e.path).sort()).toEqual(["f.txt", "g.txt"])
        const shown = json<{ runtime: { source: string; text: string } }>(
          expectOk(yield* cli.run(["session", "conflicts", "show", id, "f.txt", "-o", "json"]))
        )
        expect(shown.runtime).toMatchObject({ source: "copy", text: "sandbox\n" })
        expectOk(yield* cli.run(["session", "conflicts", "resolve", id, "f.txt", "--keep", "runtime"]))
        expect(readFileSync(join(ws, "f.txt"), "utf8")).toBe("sandbox\n")
        const kept = expectOk(yield* cli.run(["session", "conflicts", "resolve", id, "g.txt", "--keep", "host"])).stdout
        expect(kept).toContain("the sandbox is not running, so only the host was changed")
        expect(readFileSync(join(ws, "g.txt"), "utf8")).toBe("host\n")
        expect(readdirSync(ws).filter((n) => n.includes(".sandbox-conflict-"))).toEqual([])
        expect(json<ReadonlyArray<Entry>>(expectOk(yield* cli.run(["session", "conflicts", id, "-o", "json"]))))
          .toEqual(
            []
          )
      }),
    TIMEOUT
  )

  it.scoped(
    "a conflict settled by hand (both sides made to agree) is listed no more after the next sync",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        yield* cli.write("cwd/.sandbox-cli.toml", `[sandboxes.box]\nbackend = "local"\n`)
        const ws = yield* cli.mkdir("cwd/project")
        writeFileSync(join(ws, "f.txt"), "base\n")
        writeFileSync(join(ws, "g.txt"), "base\n")
        expectOk(yield* cli.run(["workspace", "add", ws, "--name", "proj", "--sandbox", "box"]))
        const id = yield* shellSession(
          cli,
          "proj",
          "echo sandbox > f.txt; echo sandbox > g.txt; echo up > up.txt; sleep 600"
        )
        yield* poll(cli.run(["session", "exec", id, "--", "cat", "up.txt"]), (r) => r.code === 0, "120 seconds")
        writeFileSync(join(ws, "f.txt"), "host\n")
        writeFileSync(join(ws, "g.txt"), "host\n")
        const first = json<{ conflicts: ReadonlyArray<string> }>(
          expectOk(yield* cli.run(["session", "sync", id, "-o", "json"]))
        )
        expect([...first.conflicts].sort()).toEqual(["f.txt", "g.txt"])
        // f.txt: both sides made to agree by hand, its copy removed; g.txt left as it is
        writeFileSync(join(ws, "f.txt"), "agreed\n")
        expectOk(yield* cli.run(["session", "exec", id, "--", "sh", "-c", "echo agreed > f.txt"]))
        for (const n of readdirSync(ws).filter((n) => n.startsWith("f.txt.sandbox-conflict-"))) rmSync(join(ws, n))
        const next = json<{ conflicts: ReadonlyArray<string> }>(
          expectOk(yield* cli.run(["session", "sync", id, "-o", "json"]))
        )
        expect(next.conflicts).toEqual(["g.txt"])
        const listed = json<ReadonlyArray<Entry>>(expectOk(yield* cli.run(["session", "conflicts", id, "-o", "json"])))
        expect(listed.map((e) => e.path)).toEqual(["g.txt"])
        const status = json<{ sandbox: { sync: { conflicts: ReadonlyArray<string> } } }>(
          expectOk(yield* cli.run(["session", "status", id, "-o", "json"]))
        )
        expect(status.sandbox.sync.conflicts).toEqual(["g.txt"])
        expectOk(yield* cli.run(["session", "stop", id]))
      }),
    TIMEOUT
  )

  it.scoped(
    "live sync, local: list, show and resolve while the session watches; a conflict settled by hand goes",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        yield* liveScenario(cli, `[sandboxes.box]\nbackend = "local"\nsync_mode = "live"\n`, {})
      }),
    TIMEOUT
  )

  it.scoped("live sync, daytona emulator: the same", () =>
    Effect.gen(function*() {
      const emu = yield* scopedEmulator({ apiKey: KEY })
      const cli = yield* fixture()
      yield* liveScenario(
        cli,
        `[sandboxes.box]\nbackend = "daytona"\nsync_mode = "live"\n[sandboxes.box.daytona]\napi_url = "${emu.url}"\n`,
        { DAYTONA_API_KEY: KEY }
      )
    }), TIMEOUT)

  it.scoped("daytona emulator: the same", () =>
    Effect.gen(function*() {
      const emu = yield* scopedEmulator({ apiKey: KEY })
      const cli = yield* fixture()
      yield* scenario(
        cli,
        `[sandboxes.box]\nbackend = "daytona"\n[sandboxes.box.daytona]\napi_url = "${emu.url}"\n`,
        { DAYTONA_API_KEY: KEY }
      )
    }), TIMEOUT)
})
