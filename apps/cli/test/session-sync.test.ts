/**
 * `session sync ID`, exactly that, takes a short path that loads no command tree (SessionSyncNow.ts); with any
 * option it goes through the tree. Both must say and do the same: output, errors, exit codes, events.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { type CliResult, expectOk, fixture, json, poll } from "./helpers.js"

const TIMEOUT = 120_000

layer(NodeContext.layer)("session sync ID: the short path", (it) => {
  it.scoped("says and does what the command tree does, on success and on every refusal", () =>
    Effect.gen(function*() {
      const cli = yield* fixture()
      const ws = yield* cli.mkdir("cwd/project")
      yield* cli.write("cwd/project/a.txt", "one\n")
      expectOk(yield* cli.run(["workspace", "add", ws, "--name", "proj"]))
      const { id } = json<{ id: string }>(
        yield* cli.run(["session", "new", "--workspace", "proj", "-o", "json", "--", "sleep", "600"])
      )
      yield* poll(
        Effect.map(cli.run(["session", "status", id, "-o", "json"]), (r) => json<{ state: string }>(r).state),
        (state) => state === "running"
      )
      const status = json<{ sandbox: { instance_id: string } }>(yield* cli.run(["session", "status", id, "-o", "json"]))
      const runtime = join(cli.env["SANDBOX_CLI_HOME"]!, "runtimes", status.sandbox.instance_id, "workspace")

      // a change on each side: the short path syncs both ways and says so as the tree does
      yield* cli.write("cwd/project/host.txt", "from the host\n")
      writeFileSync(join(runtime, "runtime.txt"), "from the sandbox\n")
      const short = yield* cli.run(["session", "sync", id])
      expect({ code: short.code, stderr: short.stderr }).toEqual({ code: 0, stderr: "" })
      expect(short.stdout).toBe("synced: 1 file(s) to the sandbox, 1 back; 0 conflict(s)\n")
      expect(readFileSync(join(runtime, "host.txt"), "utf8")).toBe("from the host\n")
      expect(readFileSync(join(ws, "runtime.txt"), "utf8")).toBe("from the sandbox\n")
      const events = json<ReadonlyArray<{ type: string; attrs: { reason?: string } }>>(
        yield* cli.run(["session", "events", id, "-o", "json"])
      )
      expect(events.filter((e) => e.type === "sandbox.sync.after" && e.attrs.reason === "checkpoint")).toHaveLength(1)
      // nothing changed: the same line from either path
      const again = expectOk(yield* cli.run(["session", "sync", id]))
      const tree = expectOk(yield* cli.run(["session", "sync", id, "-o", "text"]))
      expect(again.stdout).toBe("synced: 0 file(s) to the sandbox, 0 back; 0 conflict(s)\n")
      expect(tree.stdout).toBe(again.stdout)

      // refusals: the same message and exit code from either path
      const same = (a: CliResult, b: CliResult) =>
        expect({ code: a.code, stdout: a.stdout, stderr: a.stderr }).toEqual({
          code: b.code,
          stdout: b.stdout,
          stderr: b.stderr
        })
      const unknown = yield* cli.run(["session", "sync", "ses_nosuch"])
      expect(unknown.code).toBe(2)
      expect(unknown.stderr).toBe("error: no session \"ses_nosuch\" (see: sandbox-cli session list)\n")
      same(unknown, yield* cli.run(["session", "sync", "ses_nosuch", "-o", "text"]))
      expectOk(yield* cli.run(["session", "stop", id]))
      const ended = yield* cli.run(["session", "sync", id])
      expect(ended.code).toBe(2)
      expect(ended.stderr).toBe(`error: session ${id} has ended (stopped)\n`)
      same(ended, yield* cli.run(["session", "sync", id, "-o", "text"]))
    }), TIMEOUT)
})
