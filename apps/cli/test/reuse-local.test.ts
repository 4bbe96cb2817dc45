/**
 * `persistence = "reuse"` on the local backend (issue 12, items 1 and 2), as on the Daytona emulator: a reattached
 * session syncs against the real ancestor (host edits and deletions between sessions reach the sandbox, with no
 * false conflict), and a kept runtime that vanished (a `/tmp` cleaned at reboot) is replaced by a fresh one.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { existsSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { expectOk, fixture, json } from "./helpers.js"

const TIMEOUT = 120_000

layer(NodeContext.layer)("sandbox-cli reuse on the local backend", (it) => {
  it.scoped(
    "a reattached run syncs against the real ancestor, and a vanished runtime is replaced",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        const roots = join(cli.tmp, "roots")
        yield* cli.write(
          "cwd/.sandbox-cli.toml",
          `[sandboxes.kept]\nbackend = "local"\npersistence = "reuse"\nruntime_root = ${JSON.stringify(roots)}\n`
        )
        const ws = yield* cli.mkdir("cwd/project")
        yield* cli.write("cwd/project/edited.txt", "v1\n")
        yield* cli.write("cwd/project/deleted.txt", "bye\n")
        const run = (script: string) =>
          cli.run(["run", "--profile", "kept", "--workspace", ws, "--", "sh", "-c", script])
        const runtimes = () => readdirSync(roots).filter((n) => !n.startsWith("."))
        expectOk(yield* run("echo one > one.txt"))
        expect(runtimes()).toHaveLength(1)
        // between sessions the user edits one file and deletes another
        writeFileSync(join(ws, "edited.txt"), "v2\n")
        rmSync(join(ws, "deleted.txt"))
        const second = expectOk(yield* run("cat edited.txt; test ! -e deleted.txt && echo deleted-too"))
        expect(second.stdout).toBe("v2\ndeleted-too\n")
        expect(existsSync(join(ws, "deleted.txt"))).toBe(false)
        expect(readdirSync(ws).filter((n) => n.includes(".sandbox-conflict-"))).toEqual([])
        expect(runtimes()).toHaveLength(1)

        // the kept runtime vanishes (a /tmp cleaned at reboot): the next run starts over with a fresh one
        const gone = runtimes()[0]!
        rmSync(join(roots, gone), { recursive: true, force: true })
        const third = expectOk(yield* run("cat one.txt edited.txt"))
        expect(third.stdout).toBe("one\nv2\n")
        expect(runtimes()).toHaveLength(1)
        const sessions = json<ReadonlyArray<{ id: string }>>(yield* cli.run(["session", "list", "-o", "json"]))
        const events = yield* Effect.forEach(sessions, (s) =>
          Effect.map(
            cli.run(["session", "events", s.id, "-o", "json"]),
            (r) => json<ReadonlyArray<{ type: string }>>(r).map((e) => e.type)
          ))
        expect(events.filter((types) => types.includes("sandbox.replaced"))).toHaveLength(1)
      }),
    TIMEOUT
  )
})
