/**
 * The CLI with a daytona profile, end to end: the built bundle, the real SDK, and the emulator on loopback.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { expect, layer } from "@effect/vitest"
import type { Emulator } from "@org/daytona-emulator"
import { Effect, Schedule, TestServices } from "effect"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { scopedEmulator } from "./emulator.js"
import type { Fixture } from "./helpers.js"
import { expectError, expectOk, fixture, json, poll } from "./helpers.js"
import { shellSession } from "./sessions.js"

const TIMEOUT = 120_000
const KEY = "e2e-daytona-key"

/** Deletes linger briefly, as on Daytona: the sandbox keeps its state, then shows destroying. */
const emulator = (options: Partial<Parameters<typeof scopedEmulator>[0]> = {}) =>
  scopedEmulator({ apiKey: KEY, deleteLinger: { unchangedMs: 300, destroyingMs: 300 }, ...options })

const profiles = (emu: Emulator) =>
  ["transient", "archive", "reuse"].map((persistence) =>
    `[sandboxes.cloud-${persistence}]\nbackend = "daytona"\npersistence = "${persistence}"\n` +
    `[sandboxes.cloud-${persistence}.daytona]\napi_url = "${emu.url}"\n`
  ).join("\n")

/** Sandboxes the emulator still holds (deleted ones left out, lingering or not). */
const live = (emu: Emulator) =>
  emu.sandboxes().filter((s) => s.state !== "destroyed" && s.state !== "destroying" && s.desiredState !== "destroyed")

const setup = (emu: Emulator) =>
  Effect.gen(function*() {
    const cli = yield* fixture()
    yield* cli.write("cwd/.sandbox-cli.toml", profiles(emu))
    const ws = yield* cli.mkdir("cwd/project")
    yield* cli.write("cwd/project/in.txt", "from the host\n")
    yield* cli.write("cwd/project/gone.txt", "delete me\n")
    return { cli, ws, env: { DAYTONA_API_KEY: KEY } }
  })

const agentScript = fileURLToPath(new URL("../../../test/acp-agent/agent.mjs", import.meta.url))

const AGENT = "cat in.txt; echo made in the sandbox > out.txt; rm gone.txt; echo oops >&2; exit 3"

const runIn = (cli: Fixture, ws: string, profile: string, env: Record<string, string | undefined>) =>
  cli.run(["run", "--profile", profile, "--workspace", ws, "--", "sh", "-c", AGENT], { env })

const expectHome = (ws: string) => {
  expect(readFileSync(join(ws, "out.txt"), "utf8")).toBe("made in the sandbox\n")
  expect(readFileSync(join(ws, "in.txt"), "utf8")).toBe("from the host\n")
  expect(existsSync(join(ws, "gone.txt"))).toBe(false)
}

layer(NodeContext.layer)("sandbox-cli with a daytona profile (emulator)", (it) => {
  it.scoped("run, transient: output streamed, work brought home, the sandbox deleted", () =>
    Effect.gen(function*() {
      const emu = yield* emulator({ deleteLinger: { unchangedMs: 10_000, destroyingMs: 10_000 } })
      const { cli, env, ws } = yield* setup(emu)
      const ran = yield* runIn(cli, ws, "cloud-transient", env)
      expect(ran.stderr).toContain("oops")
      expect(ran.stdout).toBe("from the host\n")
      expect(ran.code).toBe(3)
      expectHome(ws)
      expect(emu.sandboxes()).toHaveLength(1)
      expect(live(emu)).toEqual([])
      expect(JSON.stringify(emu.sandboxes()[0]!.labels)).toContain("sandbox-cli")
      // Deleted but still shown by the API (it lingers): no orphan for reconcile, no second DELETE.
      expect(emu.sandboxes()[0]!.desiredState).toBe("destroyed")
      const deletes = () => emu.stats().routes["DELETE /api/sandbox/{sandboxIdOrName}"] ?? 0
      const before = deletes()
      const plan = json<{ actions: ReadonlyArray<unknown> }>(yield* cli.run(["reconcile", "-o", "json"], { env }))
      expect(plan.actions).toEqual([])
      expect(deletes()).toBe(before)
      expect(emu.sandboxes()[0]!.state).not.toBe("destroyed")
    }), TIMEOUT)

  // The provider keeps a sandbox alive while each command runs; the session's stop (sync back through exec) runs
  // with interruption off, and a keep-alive forked there once kept the CLI from ever exiting.
  it.scoped(
    "run with the keep-alive on exits as soon as its work is done, for each persistence",
    () =>
      Effect.gen(function*() {
        const emu = yield* emulator()
        const { cli, env, ws } = yield* setup(emu)
        for (const persistence of ["transient", "archive", "reuse"]) {
          const started = Date.now()
          const ran = yield* cli.run(
            ["run", "--profile", `cloud-${persistence}`, "--workspace", ws, "--", "sh", "-c", "sleep 1; cat in.txt"],
            { env }
          ).pipe(Effect.timeout("60 seconds"), TestServices.provideLive)
          // The promise settles on the child's "close": the process has exited, not only finished its work.
          expect([ran.code, ran.signal, ran.stdout]).toEqual([0, null, "from the host\n"])
          expect(Date.now() - started).toBeLessThan(45_000)
        }
      }),
    TIMEOUT
  )

  it.scoped(
    "run, archive: the sandbox is archived; reuse: the next run reattaches to the same one",
    () =>
      Effect.gen(function*() {
        const emu = yield* emulator()
        const { cli, env, ws } = yield* setup(emu)
        expect((yield* runIn(cli, ws, "cloud-archive", env)).code).toBe(3)
        expectHome(ws)
        expect(live(emu).map((s) => s.state)).toEqual(["archived"])

        const reuse = yield* cli.mkdir("cwd/reused")
        yield* cli.write("cwd/reused/in.txt", "from the host\n")
        yield* cli.write("cwd/reused/gone.txt", "delete me\n")
        expect((yield* runIn(cli, reuse, "cloud-reuse", env)).code).toBe(3)
        expectHome(reuse)
        const kept = live(emu).filter((s) => s.state !== "archived")
        expect(kept).toHaveLength(1)
        // The second run of that workspace finds the kept sandbox (and its leftovers) instead of creating one.
        const again = yield* cli.run(
          [
            "run",
            "--profile",
            "cloud-reuse",
            "--workspace",
            reuse,
            "--",
            "sh",
            "-c",
            "cat out.txt; echo second > second.txt"
          ],
          { env }
        )
        expect(expectOk(again).stdout).toBe("made in the sandbox\n")
        expect(readFileSync(join(reuse, "second.txt"), "utf8")).toBe("second\n")
        expect(emu.sandboxes()).toHaveLength(2)
        expect(live(emu).filter((s) => s.state !== "archived").map((s) => s.id)).toEqual([kept[0]!.id])
      }),
    TIMEOUT
  )

  it.scoped("session new / stop on daytona: a detached supervisor, sync and stop", () =>
    Effect.gen(function*() {
      const emu = yield* emulator()
      const { cli, env, ws } = yield* setup(emu)
      expectOk(yield* cli.run(["workspace", "add", ws, "--name", "proj", "--sandbox", "cloud-transient"], { env }))
      const id = yield* shellSession(cli, "proj", "echo later > later.txt; sleep 120", env)
      const polled = yield* poll(cli.run(["session", "exec", id, "--", "cat", "later.txt"], { env }), (r) =>
        r.code === 0, "60 seconds")
      expect(polled.stdout).toBe("later\n")
      const status = json<{ sandbox: { backend: string; instance_id: string; state: string } }>(
        yield* cli.run(["session", "status", id, "-o", "json"], { env })
      )
      expect(status.sandbox).toMatchObject({ backend: "daytona", state: "running" })
      expect(
        live(emu).map((s) =>
          s.id
        )
      ).toEqual([status.sandbox.instance_id])
      const stopped = json<{ state: string; sandbox: { state: string } }>(
        yield* cli.run(["session", "stop", id, "-o", "json"], { env })
      )
      expect(stopped.state).toBe("stopped")
      expect(stopped.sandbox.state).toBe("gone")
      expect(readFileSync(join(ws, "later.txt"), "utf8")).toBe("later\n")
      expect(live(emu)).toEqual([])
    }), TIMEOUT)

  it.scoped(
    "with 30% of requests failing (429/503) a session still completes, with one sandbox",
    () =>
      Effect.gen(function*() {
        const emu = yield* emulator({
          seed: 11,
          randomFailures: { rate: 0.3, kinds: ["429", "503"], retryAfterSeconds: 0 }
        })
        const { cli, env, ws } = yield* setup(emu)
        const ran = yield* runIn(cli, ws, "cloud-transient", env)
        expect(ran.code).toBe(3)
        expectHome(ws)
        expect(emu.stats().faultsInjected).toBeGreaterThan(0)
        expect(emu.sandboxes()).toHaveLength(1)
        expect(live(emu)).toEqual([])
      }),
    TIMEOUT
  )

  // A create whose reply is lost makes a sandbox the session may never learn of: the run fails and records no
  // instance (or a gone one), but the sandbox lives. The reconciler finds it by its labels, not by the record.
  it.scoped(
    "a create whose reply was lost and could not be looked up: the run fails, reconcile and prune leave 0 sandboxes",
    () =>
      Effect.gen(function*() {
        const emu = yield* emulator()
        const { cli, env, ws } = yield* setup(emu)
        for (const persistence of ["transient", "reuse"]) {
          emu.setFaults([
            { route: "POST /api/sandbox", kind: "drop-after", times: 1 },
            // Create's first lookup of our labels passes; every later one fails until the run gives up.
            { route: "GET /api/sandbox", kind: "503", retryAfterSeconds: 0, after: 1 }
          ])
          const failed = yield* runIn(cli, ws, `cloud-${persistence}`, env)
          expect(failed.code).toBe(1)
          expect(live(emu)).toHaveLength(1)
          emu.setFaults([])
          const sessions = json<ReadonlyArray<{ state: string }>>(yield* cli.run(["session", "list", "-o", "json"]))
          expect(sessions[0]?.state).toBe("failed")
          const command = persistence === "transient" ? ["reconcile"] : ["prune"]
          const reconciled = yield* cli.run([...command, "-o", "json"], { env })
          expect(reconciled.code, reconciled.stderr).toBe(0)
          expect(live(emu), `${persistence}: ${reconciled.stdout}`).toEqual([])
        }
        expect(readFileSync(join(ws, "gone.txt"), "utf8")).toBe("delete me\n")
      }),
    TIMEOUT
  )

  it.scoped(
    "missing key, wrong key, unknown snapshot: one clear line each, nothing left behind",
    () =>
      Effect.gen(function*() {
        const emu = yield* emulator()
        const { cli, ws } = yield* setup(emu)
        const missing = expectError(yield* runIn(cli, ws, "cloud-transient", { DAYTONA_API_KEY: undefined }), 2)
        expect(missing).toContain("DAYTONA_API_KEY")
        const wrong = yield* runIn(cli, ws, "cloud-transient", { DAYTONA_API_KEY: "not-the-key" })
        const wrongLine = expectError(wrong, 1)
        expect(wrongLine).toMatch(/unauthori[sz]ed|401|api key/i)
        expect(wrong.stdout + wrong.stderr).not.toContain("not-the-key")
        yield* cli.write(
          "cwd/.sandbox-cli.toml",
          `${
            profiles(emu)
          }\n[sandboxes.nosnap]\nbackend = "daytona"\n[sandboxes.nosnap.daytona]\napi_url = "${emu.url}"\nsnapshot = "no-such-snapshot"\n`
        )
        const unknown = expectError(yield* runIn(cli, ws, "nosnap", { DAYTONA_API_KEY: KEY }), 1)
        expect(unknown).toContain("no-such-snapshot")
        expect(emu.sandboxes()).toEqual([])
        expect(existsSync(join(ws, "out.txt"))).toBe(false)
        expect(readFileSync(join(ws, "gone.txt"), "utf8")).toBe("delete me\n")
        const sessions = json<ReadonlyArray<{ state: string }>>(yield* cli.run(["session", "list", "-o", "json"]))
        expect(sessions.map((s) => s.state)).toEqual(["failed", "failed", "failed"].slice(0, sessions.length))
      }),
    TIMEOUT
  )

  it.scoped(
    "an ACP agent's file and terminal tools run in the Daytona sandbox; stop brings the writes home",
    () =>
      Effect.gen(function*() {
        const emu = yield* emulator()
        const { cli, env, ws } = yield* setup(emu)
        yield* cli.write(
          "cwd/.sandbox-cli.toml",
          `${profiles(emu)}\n[agents.scripted]\nprotocol = "acp"\ncommand = [${JSON.stringify(process.execPath)}, ${
            JSON.stringify(agentScript)
          }]\n`
        )
        expectOk(yield* cli.run(["workspace", "add", ws, "--name", "proj", "--sandbox", "cloud-transient"], { env }))
        const { id } = json<{ id: string }>(
          yield* cli.run([
            "session",
            "new",
            "--workspace",
            "proj",
            "--agent",
            "scripted",
            "--prompt",
            "read in.txt; write made.txt made by the agent; run cat made.txt; where",
            "-o",
            "json"
          ], { env })
        )
        const history = yield* cli.run(["session", "history", id, "-o", "json"], { env }).pipe(
          Effect.map((r) => json<ReadonlyArray<{ kind: string; text: string }>>(r)),
          Effect.filterOrFail((h) => h.some((e) => e.kind === "turn_end"), () => "not yet"),
          Effect.retry(Schedule.spaced("200 millis").pipe(Schedule.upTo("60 seconds"))),
          TestServices.provideLive
        )
        const said = history.filter((e) => e.kind === "message").map((e) => e.text).join("")
        expect(said).toContain("read in.txt: from the host")
        expect(said).toContain("ran cat made.txt: exit 0: made by the agent")
        // The write landed in the emulator's sandbox, not on the host, until the stop syncs it back.
        expect(existsSync(join(ws, "made.txt"))).toBe(false)
        const [box] = live(emu)
        expect(readFileSync(join(box!.homeDir, "workspace", "made.txt"), "utf8")).toBe("made by the agent")
        // The agent process itself runs inside the Daytona sandbox (over the session input and log stream).
        const cwd = /agent cwd: (.*)\n/.exec(said)?.[1]
        expect([join(box!.homeDir, "workspace"), "/home/daytona/workspace"]).toContain(cwd)
        const events = json<ReadonlyArray<{ type: string; attrs: Record<string, unknown> }>>(
          yield* cli.run(["session", "events", id, "-o", "json"], { env })
        )
        expect(events.find((e) => e.type === "sandbox.transport.open")?.attrs).toMatchObject({ location: "sandbox" })
        const stopped = json<{ state: string }>(yield* cli.run(["session", "stop", id, "-o", "json"], { env }))
        expect(stopped.state).toBe("stopped")
        expect(readFileSync(join(ws, "made.txt"), "utf8")).toBe("made by the agent")
        expect(live(emu)).toEqual([])
      }),
    TIMEOUT
  )
})
