import * as NodeContext from "@effect/platform-node/NodeContext"
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { chmodSync, existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { fixture } from "./helpers.js"

const TIMEOUT = 60_000

layer(NodeContext.layer)("sandbox-cli config hooks", (it) => {
  it.scoped(
    "a hook script changed since the user last ran it is not run: one line says how to approve it",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        const marks = join(cli.tmp, "marks")
        const hookLines = (...extra: Array<string>) =>
          ["#!/bin/sh", `echo prepare >> ${marks}`, ...extra].join("\n") + "\n"
        const script = yield* cli.write("cwd/hooks/prepare.sh", hookLines())
        chmodSync(script, 0o755)
        yield* cli.write("cwd/.sandbox-cli.toml", `[hooks]\nsandbox.prepare = "./hooks/prepare.sh"\n`)
        const marked = () => (existsSync(marks) ? readFileSync(marks, "utf8") : "")

        const first = yield* cli.run(["run", "--", "sh", "-c", "echo ran"])
        expect({ code: first.code, stdout: first.stdout }).toEqual({ code: 0, stdout: "ran\n" })
        expect(marked()).toBe("prepare\n")

        // The script changes (as an agent's edit coming home would change it): refused, nothing runs.
        yield* cli.write("cwd/hooks/prepare.sh", hookLines(`echo pwned >> ${marks}`))
        const refused = yield* cli.run(["run", "--", "sh", "-c", "echo ran"])
        expect(refused.code).toBe(1)
        expect(refused.stdout).toBe("")
        expect(refused.stderr).toContain(
          // Relative hook paths resolve against the config file's directory: the line names the file itself.
          `hook sandbox.prepare not run: ${script} changed since you last ran it; ` +
            "check it, then run again with --trust-hooks\n"
        )
        expect(marked()).toBe("prepare\n")

        // The hooks table changing is a change too.
        yield* cli.write("cwd/.sandbox-cli.toml", `[hooks]\nsandbox.prepare = "./hooks/prepare.sh --all"\n`)
        expect((yield* cli.run(["run", "--", "true"])).stderr).toContain("its command changed since you last ran it")

        const approved = yield* cli.run(["run", "--trust-hooks", "--", "sh", "-c", "echo ran"])
        expect({ code: approved.code, stdout: approved.stdout }).toEqual({ code: 0, stdout: "ran\n" })
        expect(marked()).toBe("prepare\nprepare\npwned\n")
        expect((yield* cli.run(["run", "--", "true"])).code).toBe(0)
      }),
    TIMEOUT
  )
})
