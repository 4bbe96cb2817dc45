/**
 * `run` gives its command our standard input, and a terminal when ours is one (issue 12, item 10).
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import type { Fixture } from "./helpers.js"
import { fixture, paths } from "./helpers.js"

const TIMEOUT = 120_000

/** Run `command` (no shell) with `input` on its stdin, answering once its output shows `when`. */
const withInput = (cli: Fixture, command: string, args: ReadonlyArray<string>, input: string, when?: string) =>
  Effect.promise(() =>
    new Promise<{ code: number | null; out: string }>((resolve, reject) => {
      const child = spawn(command, args, { cwd: cli.cwd, env: cli.env, stdio: ["pipe", "pipe", "pipe"] })
      let out = ""
      let sent = false
      const send = () => {
        if (sent) return
        sent = true
        child.stdin.write(input)
      }
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString("utf8")
        if (when !== undefined && out.includes(when)) send()
      })
      child.stderr.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")))
      if (when === undefined) {
        send()
        child.stdin.end()
      }
      child.on("error", reject)
      child.on("close", (code) => resolve({ code, out }))
    })
  )

const quote = (word: string) => `'${word.replace(/'/g, "'\\''")}'`

layer(NodeContext.layer)("sandbox-cli run and the terminal", (it) => {
  it.scoped("standard input reaches the command", () =>
    Effect.gen(function*() {
      const cli = yield* fixture()
      const result = yield* withInput(cli, process.execPath, [
        paths.launcher,
        "run",
        "--",
        "sh",
        "-c",
        "cat > in.txt; [ -t 0 ] && echo tty || echo no-tty"
      ], "piped line\n")
      expect(result).toEqual({ code: 0, out: "no-tty\n" })
      expect(readFileSync(join(cli.cwd, "in.txt"), "utf8")).toBe("piped line\n")
    }), TIMEOUT)

  it.scoped(
    "on a terminal the command gets one and reads what is typed; --no-tty refuses it",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        const script = "if [ -t 0 ] && [ -t 1 ]; then echo is-a-tty; else echo not-a-tty; fi; echo ready; read line; " +
          "echo \"got:$line\" > got.txt"
        // A pseudo-terminal for the CLI itself, from script(1), as a person's terminal would be.
        const cliCommand = (extra: ReadonlyArray<string>) =>
          [process.execPath, paths.launcher, "run", ...extra, "--", "sh", "-c", script].map(quote).join(" ")
        const typed = yield* withInput(cli, "script", ["-qefc", cliCommand([]), "/dev/null"], "typed line\r", "ready")
        expect(typed.code).toBe(0)
        expect(typed.out).toContain("is-a-tty")
        expect(readFileSync(join(cli.cwd, "got.txt"), "utf8")).toBe("got:typed line\n")

        const refused = yield* withInput(cli, "script", ["-qefc", cliCommand(["--no-tty"]), "/dev/null"], "", undefined)
        expect(refused.code).toBe(0)
        expect(refused.out).toContain("not-a-tty")
        expect(readFileSync(join(cli.cwd, "got.txt"), "utf8")).toBe("got:\n")
      }),
    TIMEOUT
  )
})
