/**
 * `run` on Daytona (the real SDK against the emulator) gives its command our standard input, streamed through the
 * session-input call while it runs, and a terminal when ours is one (issue 12, item 10).
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { scopedEmulator } from "./emulator.js"
import type { Fixture } from "./helpers.js"
import { fixture, paths } from "./helpers.js"

const TIMEOUT = 240_000
const KEY = "e2e-terminal-key"

/** Run `command` (no shell) with `input` on its stdin, sent once its output shows `when` (else at once, then EOF). */
const withInput = (
  cli: Fixture,
  command: string,
  args: ReadonlyArray<string>,
  input: string,
  when?: string
) =>
  Effect.promise(() =>
    new Promise<{ code: number | null; out: string }>((resolve, reject) => {
      const child = spawn(command, args, {
        cwd: cli.cwd,
        env: { ...cli.env, DAYTONA_API_KEY: KEY },
        stdio: ["pipe", "pipe", "pipe"]
      })
      let out = ""
      let sent = false
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString("utf8")
        if (when !== undefined && !sent && out.includes(when)) {
          sent = true
          child.stdin.write(input)
        }
      })
      child.stderr.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")))
      if (when === undefined) {
        child.stdin.write(input)
        child.stdin.end()
      }
      child.on("error", reject)
      child.on("close", (code) => resolve({ code, out }))
    })
  )

const quote = (word: string) => `'${word.replace(/'/g, "'\\''")}'`

layer(NodeContext.layer)("sandbox-cli run and the terminal (daytona emulator)", (it) => {
  it.scoped(
    "a pipe streams to the command; a terminal gets one and typed lines; --no-tty refuses it",
    () =>
      Effect.gen(function*() {
        const emu = yield* scopedEmulator({ apiKey: KEY })
        const cli = yield* fixture()
        yield* cli.write(
          "cwd/.sandbox-cli.toml",
          `[defaults]\nsandbox = "cloud"\n[sandboxes.cloud]\nbackend = "daytona"\n[sandboxes.cloud.daytona]\n` +
            `api_url = "${emu.url}"\n`
        )
        // a pipe that answers only once the command has asked: the input is streamed, not read whole first
        const piped = yield* withInput(
          cli,
          process.execPath,
          [
            paths.launcher,
            "run",
            "--",
            "sh",
            "-c",
            "echo ask; read line; echo \"got:$line\" > in.txt; [ -t 0 ] && echo tty || echo no-tty"
          ],
          "piped line\n",
          "ask"
        )
        expect(piped.out).toContain("no-tty")
        expect(piped.code).toBe(0)
        expect(readFileSync(join(cli.cwd, "in.txt"), "utf8")).toBe("got:piped line\n")

        const script = "if [ -t 0 ] && [ -t 1 ]; then echo is-a-tty; else echo not-a-tty; fi; echo ready; read line; " +
          "echo \"got:$line\" > got.txt"
        const cliCommand = (extra: ReadonlyArray<string>) =>
          [process.execPath, paths.launcher, "run", ...extra, "--", "sh", "-c", script].map(quote).join(" ")
        const typed = yield* withInput(cli, "script", ["-qefc", cliCommand([]), "/dev/null"], "typed line\r", "ready")
        expect(typed.out).toContain("is-a-tty")
        expect(typed.code).toBe(0)
        expect(readFileSync(join(cli.cwd, "got.txt"), "utf8")).toBe("got:typed line\n")

        const refused = yield* withInput(cli, "script", ["-qefc", cliCommand(["--no-tty"]), "/dev/null"], "", undefined)
        expect(refused.out).toContain("not-a-tty")
        expect(refused.code).toBe(0)
      }),
    TIMEOUT
  )
})
