/**
 * A crashed owner whose agent keeps writing: `reconcile` stops the agent before it brings the work home, so the
 * sync-back sees the sandbox's final state. Nothing the agent wrote is left in a kept (`persistence = "reuse"`)
 * sandbox, and the next session of the workspace reattaches cleanly. Real CLI processes, on the local backend and
 * on the Daytona emulator (the real SDK on loopback); the owner is a `session new` supervisor or a `run` process.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { scopedEmulator } from "./emulator.js"
import type { Backend, Fixture } from "./helpers.js"
import { daytonaBackend, EMULATOR_KEY, expectOk, fixture, json, localBackend, paths, poll } from "./helpers.js"
import { alive } from "./processes.js"
import { shellSession } from "./sessions.js"

const TIMEOUT = 240_000

/** The agent: a counter written into the workspace (whole, through a rename), again and again, while it runs. */
const WRITER = "i=0; while :; do i=$((i+1)); echo $i > beat.new; mv beat.new beat; sleep 0.02; done"

interface StatusJson {
  readonly state: string
  readonly exit_code: number | null
  readonly supervisor: { readonly pid: number | null }
  readonly sandbox: { readonly kept?: string; readonly state: string }
}

interface ReconcileJson {
  readonly actions: ReadonlyArray<{ readonly decision: string; readonly status: string; readonly detail: string }>
}

/** Where the sandbox's copy of a workspace file is on this machine: one directory below the runtime's root. */
const inSandbox = (roots: ReadonlyArray<string>, name: string): string | undefined =>
  roots.flatMap((root) =>
    existsSync(root) ? readdirSync(root).map((d) => join(root, d, name)).filter((f) => existsSync(f)) : []
  )[0]

const crashCase = (
  cli: Fixture,
  backend: Backend,
  sandboxRoots: () => ReadonlyArray<string>,
  owner: "session" | "run"
) =>
  Effect.gen(function*() {
    const env = backend.env
    yield* cli.write(
      "cwd/.sandbox-cli.toml",
      [`[sandboxes.keep]`, `persistence = "reuse"`, ...backend.table("keep"), ""].join("\n")
    )
    const ws = yield* cli.mkdir("cwd/ws")
    yield* cli.write("cwd/ws/readme.txt", "hello\n")
    expectOk(yield* cli.run(["workspace", "add", ws, "--name", "ws", "--sandbox", "keep"], { env }))

    // start the owner, wait until the agent writes in the sandbox, then kill the owner outright
    let pid: number
    if (owner === "session") {
      const id = yield* shellSession(cli, "ws", WRITER, env)
      const running = yield* poll(
        Effect.map(cli.run(["session", "status", id, "-o", "json"], { env }), (r) => json<StatusJson>(r)),
        (s) => s.state === "running" && s.supervisor.pid !== null,
        "120 seconds"
      )
      pid = running.supervisor.pid!
    } else {
      const child = spawn(process.execPath, [paths.launcher, "run", "--workspace", ws, "--", "sh", "-c", WRITER], {
        cwd: cli.cwd,
        env: { ...cli.env, ...env },
        stdio: "ignore"
      })
      pid = child.pid!
    }
    const beat = yield* poll(
      Effect.sync(() => inSandbox(sandboxRoots(), "beat")),
      (f) => f !== undefined && readFileSync(f, "utf8") !== "",
      "120 seconds"
    )
    process.kill(pid, "SIGKILL")
    yield* poll(Effect.sync(() => alive(pid)), (a) => !a)

    const reconciled = json<ReconcileJson>(yield* cli.run(["reconcile", "-o", "json"], { env }))
    expect(reconciled.actions.map((a) => [a.decision, a.status, a.detail])).toEqual([[
      "reattach",
      "done",
      expect.any(String)
    ]])
    // the agent no longer writes, and its last write is on the host
    const last = readFileSync(beat!, "utf8")
    expect(Number(last)).toBeGreaterThan(0)
    expect(readFileSync(join(ws, "beat"), "utf8")).toBe(last)
    const [session] = json<ReadonlyArray<{ id: string }>>(yield* cli.run(["session", "list", "-o", "json"], { env }))
    const ended = json<StatusJson>(yield* cli.run(["session", "status", session!.id, "-o", "json"], { env }))
    expect(ended).toMatchObject({ state: "crashed" })
    expect(ended.sandbox.kept).toBeUndefined()

    // the next session reattaches to the kept sandbox and ends cleanly, with the same counter on both sides
    const next = yield* cli.run(["run", "--workspace", ws, "--", "cat", "beat"], { env })
    expect({ code: next.code, stdout: next.stdout, stderr: next.stderr }).toEqual({ code: 0, stdout: last, stderr: "" })
    expect(readFileSync(join(ws, "beat"), "utf8")).toBe(last)
  })

layer(NodeContext.layer)("sandbox-cli reconcile after a crash, with an agent that keeps writing", (it) => {
  for (const owner of ["session", "run"] as const) {
    it.scoped(
      `local: the agent stops before the sync-back (${owner})`,
      () =>
        Effect.gen(function*() {
          const cli = yield* fixture()
          const runtimes = join(cli.home, "runtimes")
          const roots = () => existsSync(runtimes) ? readdirSync(runtimes).map((d) => join(runtimes, d)) : []
          yield* crashCase(cli, localBackend, roots, owner)
        }),
      TIMEOUT
    )
    it.scoped(
      `daytona: the agent stops before the sync-back (${owner})`,
      () =>
        Effect.gen(function*() {
          const emu = yield* scopedEmulator({ apiKey: EMULATOR_KEY })
          const cli = yield* fixture()
          yield* crashCase(cli, daytonaBackend(emu), () => emu.sandboxes().map((sb) => sb.homeDir), owner)
        }),
      TIMEOUT
    )
  }
})
