/**
 * Graceful stop on Daytona (the real SDK against the emulator): `session stop` and Ctrl-C on `run` give the
 * command its signal (SIGTERM; SIGINT for a Ctrl-C) and its grace, and what its trap wrote comes home.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { scopedEmulator } from "./emulator.js"
import { expectOk, fixture, json, paths, poll } from "./helpers.js"

const TIMEOUT = 240_000
const KEY = "e2e-stop-key"
const env = { DAYTONA_API_KEY: KEY }

const emulator = scopedEmulator({ apiKey: KEY })

/** Cleans up slowly (1 s) on SIGTERM or SIGINT, noting which it got; says when it is ready. */
const trapping = (file: string) =>
  `trap 'sleep 1; echo term > ${file}; exit 0' TERM; trap 'sleep 1; echo int > ${file}; exit 0' INT; ` +
  `echo ready; echo up > up.txt; while :; do sleep 0.1; done`

layer(NodeContext.layer)("sandbox-cli graceful stop (daytona emulator)", (it) => {
  it.scoped(
    "session stop sends SIGTERM and Ctrl-C on run SIGINT; each trap's work comes home",
    () =>
      Effect.gen(function*() {
        const emu = yield* emulator
        const cli = yield* fixture()
        yield* cli.write(
          "cwd/.sandbox-cli.toml",
          `[sandboxes.cloud]\nbackend = "daytona"\n[sandboxes.cloud.daytona]\napi_url = "${emu.url}"\n`
        )
        const ws = yield* cli.mkdir("cwd/project")
        expectOk(yield* cli.run(["workspace", "add", ws, "--name", "proj", "--sandbox", "cloud"], { env }))
        const { id } = json<{ id: string }>(
          yield* cli.run(
            ["session", "new", "--workspace", "proj", "-o", "json", "--", "sh", "-c", trapping("stopped.txt")],
            { env }
          )
        )
        yield* poll(cli.run(["session", "exec", id, "--", "cat", "up.txt"], { env }), (r) => r.code === 0)
        expectOk(yield* cli.run(["session", "stop", id], { env }))
        expect(readFileSync(join(ws, "stopped.txt"), "utf8")).toBe("term\n")

        const code = yield* Effect.promise(() =>
          new Promise<number | null>((resolve) => {
            const child = spawn(
              process.execPath,
              [paths.launcher, "run", "--workspace", ws, "--profile", "cloud", "--", "sh", "-c", trapping("run.txt")],
              { cwd: cli.cwd, env: { ...cli.env, ...env }, stdio: ["ignore", "pipe", "pipe"] }
            )
            let out = ""
            child.stdout.on("data", (chunk: Buffer) => {
              out += chunk.toString()
              if (out.includes("ready")) child.kill("SIGINT")
            })
            child.on("close", resolve)
          })
        )
        expect(code).toBe(130)
        expect(readFileSync(join(ws, "run.txt"), "utf8")).toBe("int\n")
      }),
    TIMEOUT
  )
})
