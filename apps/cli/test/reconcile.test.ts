/**
 * Crash tests: real supervisors killed with SIGKILL in every lifecycle phase, then `sandbox-cli reconcile`.
 *
 * A supervisor is stopped in a phase deterministically: a `[hooks]` command (prepare, sync before seed or
 * before the stop sync), a setup command or the agent itself writes a marker with its pid and sleeps; the
 * test waits for the marker, reads the supervisor's pid from `session status -o json` and kills it.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { expect, layer } from "@effect/vitest"
import type { Emulator } from "@org/daytona-emulator"
import type { Duration } from "effect"
import { Effect, Schedule, TestServices } from "effect"
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { scopedEmulator } from "./emulator.js"
import type { Backend, CliResult, Fixture } from "./helpers.js"
import { daytonaBackend, EMULATOR_KEY, expectOk, fixture, json, localBackend, sleepers } from "./helpers.js"
import { alive } from "./processes.js"

const TIMEOUT = 420_000

interface ActionJson {
  readonly decision: string
  readonly reason: string
  readonly sandbox_id: string
  readonly session_id: string | null
  readonly instance_id: string | null
  readonly owner: string | null
  readonly sync_back: boolean
  readonly apply: string | null
  readonly crash_session: boolean
  readonly status: string
  readonly detail: string
  readonly session_state: string | null
}

interface ReportJson {
  readonly dry_run: boolean
  readonly scope: string
  readonly actions: ReadonlyArray<ActionJson>
  readonly live: number
  readonly kept: number
  readonly quarantined: ReadonlyArray<{ readonly path: string }>
  readonly warnings: ReadonlyArray<string>
}

interface StatusJson {
  readonly id: string
  readonly state: string
  readonly reason: string | null
  readonly supervisor: { readonly pid: number | null; readonly alive: boolean }
  readonly sandbox: { readonly sandbox_id: string; readonly instance_id: string | null; readonly state: string }
}

const live = <A, E, R>(effect: Effect.Effect<A, E, R>) => TestServices.provideLive(effect)

const poll = <A>(what: string, check: () => A | undefined, timeout: Duration.DurationInput = "90 seconds") =>
  Effect.suspend(() => {
    const value = check()
    return value === undefined ? Effect.fail(`waiting for ${what}`) : Effect.succeed(value)
  }).pipe(
    Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo(timeout))),
    Effect.orDie,
    live
  )

const markerPid = (file: string) =>
  poll(`marker ${file}`, () => {
    if (!existsSync(file)) return undefined
    const pid = Number(readFileSync(file, "utf8").trim())
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  })

const status = (cli: Fixture, id: string) =>
  Effect.map(cli.run(["session", "status", id, "-o", "json"]), (r) => json<StatusJson>(r))

/**
 * SIGKILL the supervisors of sessions and wait until they are really gone (reaped, not zombies). All pids are
 * read before the first kill: a session command run after a kill would finish that session itself.
 */
const killSupervisors = (cli: Fixture, ids: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const pids: Array<number> = []
    for (const id of ids) {
      const s = yield* status(cli, id)
      expect(s.supervisor.alive, `supervisor of ${id}`).toBe(true)
      pids.push(s.supervisor.pid!)
    }
    for (const pid of pids) process.kill(pid, "SIGKILL")
    for (const pid of pids) yield* poll(`pid ${pid} to die`, () => (alive(pid) ? undefined : true))
  })

const waitEnded = (cli: Fixture, id: string) =>
  status(cli, id).pipe(
    Effect.filterOrFail((s) => ["stopped", "failed", "crashed"].includes(s.state), () => "not yet"),
    Effect.retry(Schedule.spaced("200 millis").pipe(Schedule.upTo("90 seconds"))),
    Effect.orDie,
    live
  )

const report = (result: CliResult): ReportJson => {
  expect(result.code, result.stderr).toBe(0)
  return JSON.parse(result.stdout) as ReportJson
}

const newSession = (cli: Fixture, workspace: string, command: string) =>
  Effect.map(
    cli.run(["session", "new", "--workspace", workspace, "-o", "json", "--", "sh", "-c", command]),
    (r) => json<{ id: string }>(r).id
  )

const PHASES = ["preparing", "syncing", "setup", "running", "stopping"] as const
const MODES = { t: "transient", a: "archive", r: "reuse" } as const

/** Blocks the lifecycle in the phase named by the workspace (`ws-<phase>-<mode>`) unless disarmed. */
const blockScript = (markers: string) =>
  `#!/bin/sh
event=$(cat)
[ -e "${markers}/disarm" ] && exit 0
ws=$(printf '%s' "$event" | sed -n 's/.*"workspace":"\\([^"]*\\)".*/\\1/p')
phase=$(echo "$ws" | cut -d- -f2)
case "$1:$phase" in
  prepare:preparing) ;;
  sync:syncing) printf '%s' "$event" | grep -q '"reason":"start"' || exit 0 ;;
  sync:stopping) printf '%s' "$event" | grep -q '"reason":"stop"' || exit 0 ;;
  *) exit 0 ;;
esac
echo $$ > "${markers}/$ws.tmp" && mv "${markers}/$ws.tmp" "${markers}/$ws"
exec sleep 600
`

/**
 * Setup commands and agents run inside the sandbox: they leave their marker beside the workdir (`../NAME`),
 * which the host finds under the runtime directory (local) or the emulator's sandbox directory (daytona), and
 * block only once per sandbox, so that a later session of a reuse sandbox goes through.
 */
const inSandboxBlock = (name: string) =>
  `[ -e ../${name}.done ] || { touch ../${name}.done; echo $$ > ../${name}.tmp; mv ../${name}.tmp ../${name}; exec sleep 600; }`

const matrixConfig = (backend: Backend, script: string) => {
  const lines: Array<string> = []
  for (const [key, persistence] of Object.entries(MODES)) {
    lines.push(`[sandboxes.${key}]`, `persistence = "${persistence}"`, ...backend.table(key), "")
    lines.push(
      `[sandboxes.${key}-setup]`,
      `persistence = "${persistence}"`,
      `setup = [${JSON.stringify(`echo built > setup.out; ${inSandboxBlock(`ws-setup-${key}`)}`)}]`,
      ...backend.table(`${key}-setup`),
      ""
    )
  }
  lines.push(
    "[hooks.sandbox]",
    `prepare = ["sh", "${script}", "prepare"]`,
    "[hooks.sandbox.sync]",
    `before = ["sh", "${script}", "sync"]`,
    ""
  )
  return lines.join("\n")
}

/** Kill supervisors in every phase, for every persistence, on a backend; then reconcile and check everything. */
const crashMatrix = (backend: Backend, base: Fixture) =>
  Effect.gen(function*() {
    const cli: Fixture = {
      ...base,
      run: (args, options) => base.run(args, { ...options, env: { ...backend.env, ...options?.env } })
    }
    const pids: Array<number> = []
    yield* sleepers(pids)
    const markers = yield* cli.mkdir("markers")
    const script = yield* cli.write("block.sh", blockScript(markers))
    yield* cli.write("cwd/.sandbox-cli.toml", matrixConfig(backend, script))

    const cases = PHASES.flatMap((phase) =>
      Object.keys(MODES).map((mode) => ({ phase, mode, name: `ws-${phase}-${mode}` }))
    )
    const ids = new Map<string, string>()
    // Start every session first; each one blocks in its phase.
    for (const c of cases) {
      // Below the config file: a registered workspace's config is found from its own directory.
      const dir = yield* cli.mkdir(`cwd/workspaces/${c.name}`)
      yield* cli.write(`cwd/workspaces/${c.name}/input.txt`, "seeded\n")
      const profile = c.phase === "setup" ? `${c.mode}-setup` : c.mode
      expectOk(yield* cli.run(["workspace", "add", dir, "--name", c.name, "--sandbox", profile]))
      const command = c.phase === "running"
        ? `echo agent > agent.txt; ${inSandboxBlock(c.name)}`
        : "echo agent > agent.txt"
      ids.set(c.name, yield* newSession(cli, c.name, command))
    }
    for (const c of cases) {
      const inSandbox = c.phase === "setup" || c.phase === "running"
      const pid = inSandbox
        ? yield* poll(`marker ${c.name}`, () => {
          const file = backend.findMarker(cli, c.name)
          return file === undefined ? undefined : Number(readFileSync(file, "utf8").trim())
        })
        : yield* markerPid(join(markers, c.name))
      if (!inSandbox || backend.hostPids) pids.push(pid)
    }
    const sandboxOf = new Map<string, string>()
    for (const c of cases) {
      const s = yield* status(cli, ids.get(c.name)!)
      expect(s.state, c.name).toBe(c.phase === "setup" ? "launching" : c.phase)
      sandboxOf.set(c.name, s.sandbox.sandbox_id)
    }
    yield* killSupervisors(cli, [...ids.values()])

    // The plan first: it names every session, and changes nothing.
    const plan = report(yield* cli.run(["reconcile", "--dry-run", "-o", "json"]))
    expect(plan.dry_run).toBe(true)
    expect(plan.actions.map((a) => a.status)).toEqual(Array(15).fill("planned"))
    const planned = new Map(plan.actions.map((a) => [a.session_id, a]))
    for (const c of cases) {
      const a = planned.get(ids.get(c.name)!)
      expect(a?.crash_session, c.name).toBe(true)
      expect(a?.decision, c.name).toBe(c.phase === "preparing" ? "forget" : c.mode === "r" ? "reattach" : "finish")
      expect(a?.apply, c.name).toBe(
        c.phase === "preparing" ? null : c.mode === "r" ? "keep" : c.mode === "a" ? "archive" : "destroy"
      )
      // Only a runtime that holds the seeded workspace has anything to bring home.
      expect(a?.sync_back, c.name).toBe(c.phase !== "preparing" && c.phase !== "syncing")
      expect(a?.reason, c.name).toMatch(/supervisor pid \d+ is not running/)
    }
    const text = yield* cli.run(["reconcile", "--dry-run"])
    expect(text.code).toBe(0)
    expect(text.stdout).toContain("15 action(s) planned; dry run, nothing was changed")

    const acted = report(yield* cli.run(["reconcile", "-o", "json"]))
    expect(acted.actions.filter((a) => a.status !== "done")).toEqual([])
    expect(acted.actions).toHaveLength(15)

    // What was written in the runtime before the kill is on the host.
    for (const c of cases) {
      const dir = join(cli.tmp, "cwd", "workspaces", c.name)
      expect(existsSync(join(dir, "agent.txt")), `${c.name} agent.txt`).toBe(
        c.phase === "running" || c.phase === "stopping"
      )
      expect(existsSync(join(dir, "setup.out")), `${c.name} setup.out`).toBe(c.phase === "setup")
      expect(readFileSync(join(dir, "input.txt"), "utf8")).toBe("seeded\n")
    }
    for (const c of cases) {
      const s = yield* status(cli, ids.get(c.name)!)
      expect(s.state, c.name).toBe("crashed")
      expect(s.reason, c.name).toMatch(/supervisor pid \d+ is not running/)
      const events = json<ReadonlyArray<{ type: string }>>(yield* cli.run(["session", "events", s.id, "-o", "json"]))
      expect(events.map((e) => e.type), c.name).toEqual(
        expect.arrayContaining(["sandbox.reconcile.start", "session.crashed", "sandbox.reconcile.complete"])
      )
    }
    // Idempotent: nothing left to do.
    const again = report(yield* cli.run(["reconcile", "-o", "json"]))
    expect(again.actions).toEqual([])
    expect(again.kept).toBe(8) // 4 reuse sandboxes, 4 archived ones

    // A later session of each reuse workspace reattaches to the kept sandbox.
    writeFileSync(join(markers, "disarm"), "")
    for (const c of cases.filter((c) => c.mode === "r" && c.phase !== "preparing")) {
      const id = yield* newSession(cli, c.name, "test -e input.txt")
      const s = yield* waitEnded(cli, id)
      expect(s.state, c.name).toBe("stopped")
      expect(s.sandbox.sandbox_id, c.name).toBe(sandboxOf.get(c.name))
      const events = json<ReadonlyArray<{ type: string; attrs: Record<string, unknown> }>>(
        yield* cli.run(["session", "events", id, "-o", "json"])
      )
      expect(events.find((e) => e.type === "session.created")?.attrs["reattach"], c.name).toBe(true)
    }
    return { cases, sandboxOf }
  })

layer(NodeContext.layer)("sandbox-cli reconcile (crash tests, local provider)", (it) => {
  it.scoped(
    "a supervisor killed in every phase, for every persistence: reconcile finishes each one by its policy",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        const { cases, sandboxOf } = yield* crashMatrix(localBackend, cli)
        // No runtime is left but the reuse ones; archives exist for the archive ones.
        const reuseKept = cases.filter((c) => c.mode === "r" && c.phase !== "preparing").map((c) =>
          sandboxOf.get(c.name)!
        )
        expect(readdirSync(join(cli.home, "runtimes")).filter((n) => !n.startsWith(".")).sort()).toEqual(
          reuseKept.sort()
        )
        const archives = readdirSync(join(cli.home, "archives")).filter((n) => n.endsWith(".tar.gz")).sort()
        expect(archives).toEqual(
          cases.filter((c) => c.mode === "a" && c.phase !== "preparing").map((c) => `${sandboxOf.get(c.name)}.tar.gz`)
            .sort()
        )
      }),
    TIMEOUT
  )

  it.scoped(
    "a kill between the provider's create and the store write: the sandbox is found by its labels",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        const instances = yield* cli.mkdir("instances")
        const marker = join(cli.tmp, "created")
        const provider = yield* cli.write("slow-provider.mjs", slowProvider(instances, marker))
        yield* cli.write(
          "cwd/.sandbox-cli.toml",
          `[providers]\nslow = "${provider}"\n\n[sandboxes.slow]\nbackend = "slow"\n`
        )
        const ws = yield* cli.mkdir("cwd/project")
        expectOk(yield* cli.run(["workspace", "add", ws, "--name", "proj", "--sandbox", "slow"]))
        const id = yield* newSession(cli, "proj", "true")
        yield* markerPid(marker)
        const before = yield* status(cli, id)
        expect(before.sandbox.instance_id).toBeNull()
        expect(readdirSync(instances)).toHaveLength(1)
        yield* killSupervisors(cli, [id])

        const acted = report(yield* cli.run(["reconcile", "-o", "json"]))
        expect(acted.actions.map((a) => [a.session_id, a.decision, a.apply, a.status])).toEqual([[
          id,
          "finish",
          "destroy",
          "done"
        ]])
        expect(acted.actions[0]!.instance_id).toBe(`slow-${before.sandbox.sandbox_id}`)
        expect(readdirSync(instances)).toEqual([])
        const after = yield* status(cli, id)
        expect(after.state).toBe("crashed")
        expect(after.sandbox.instance_id).toBe(`slow-${before.sandbox.sandbox_id}`)
        expect(after.sandbox.state).toBe("gone")
      }),
    TIMEOUT
  )

  it.scoped(
    "two reconciles at once: every sandbox is finished once, neither reports an error",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        const pids: Array<number> = []
        yield* sleepers(pids)
        const ws = yield* cli.mkdir("cwd/project")
        expectOk(yield* cli.run(["workspace", "add", ws, "--name", "proj"]))
        const ids: Array<string> = []
        for (let i = 0; i < 4; i++) {
          ids.push(
            yield* newSession(
              cli,
              "proj",
              `echo $$ > ${cli.tmp}/agent-${i}.tmp; mv ${cli.tmp}/agent-${i}.tmp ${cli.tmp}/agent-${i}; exec sleep 600`
            )
          )
        }
        for (let i = 0; i < 4; i++) pids.push(yield* markerPid(join(cli.tmp, `agent-${i}`)))
        yield* killSupervisors(cli, ids)
        const [a, b] = yield* Effect.all([cli.run(["reconcile", "-o", "json"]), cli.run(["reconcile", "-o", "json"])], {
          concurrency: 2
        })
        const actions = [...report(a).actions, ...report(b).actions]
        expect(actions.filter((x) => x.status === "failed")).toEqual([])
        expect(actions.filter((x) => x.status === "done").map((x) => x.session_id).sort()).toEqual([...ids].sort())
        expect(readdirSync(join(cli.home, "runtimes")).filter((n) => !n.startsWith("."))).toEqual([])
        for (const id of ids) expect((yield* status(cli, id)).state).toBe("crashed")
      }),
    TIMEOUT
  )

  it.scoped(
    "a corrupt session record is reported and moved aside; its sandbox is still found by its labels",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        const pids: Array<number> = []
        yield* sleepers(pids)
        const ws = yield* cli.mkdir("cwd/project")
        expectOk(yield* cli.run(["workspace", "add", ws, "--name", "proj"]))
        const id = yield* newSession(
          cli,
          "proj",
          `echo $$ > ${cli.tmp}/agent.tmp; mv ${cli.tmp}/agent.tmp ${cli.tmp}/agent; exec sleep 600`
        )
        pids.push(yield* markerPid(join(cli.tmp, "agent")))
        const { sandbox } = yield* status(cli, id)
        yield* killSupervisors(cli, [id])
        writeFileSync(join(cli.home, "sessions", `${id}.json`), "{ not json")

        const result = yield* cli.run(["reconcile", "-o", "json"])
        expect(result.stderr).toMatch(/^warning: corrupt record .*sessions.* moved to .*quarantine/)
        const acted = report(result)
        expect(acted.quarantined).toHaveLength(1)
        expect(acted.actions.map((a) => [a.sandbox_id, a.decision, a.status])).toEqual([[
          sandbox.sandbox_id,
          "destroy",
          "done"
        ]])
        expect(acted.actions[0]!.reason).toContain("no session record")
        expect(readdirSync(join(cli.home, "runtimes")).filter((n) => !n.startsWith("."))).toEqual([])
        expect(readdirSync(join(cli.home, "quarantine")).some((n) => n.includes(id))).toBe(true)
      }),
    TIMEOUT
  )

  it.scoped(
    "sandboxes of another host are left alone unless --all-owners; prune removes orphans only",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        const foreign = "sbx_foreign0000000001"
        const mine = "sbx_mine000000000001"
        const plant = (id: string, owner: string) =>
          cli.write(
            `state/runtimes/.meta/${id}.json`,
            JSON.stringify({
              version: 1,
              sandbox_id: id,
              state: "running",
              labels: {
                "managed-by": "sandbox-cli",
                "sandbox-id": id,
                "session-id": "ses_00000000000",
                workspace: "w",
                owner
              },
              env: {},
              workspace_path: null,
              created_at: "2026-01-01T00:00:00.000Z",
              updated_at: "2026-01-01T00:00:00.000Z"
            })
          )
        // our owner label: the host identity a plan reports
        const { owner } = JSON.parse((yield* cli.run(["reconcile", "--dry-run", "-o", "json"])).stdout) as {
          owner: string
        }
        yield* cli.mkdir(`state/runtimes/${foreign}/workspace`)
        yield* cli.mkdir(`state/runtimes/${mine}/workspace`)
        yield* plant(foreign, "someone@elsewhere")
        yield* plant(mine, owner)

        const plan = report(yield* cli.run(["prune", "--dry-run", "-o", "json"]))
        expect(plan.actions.map((a) => [a.sandbox_id, a.decision])).toEqual([[mine, "destroy"]])
        const all = report(yield* cli.run(["prune", "--dry-run", "--all-owners", "-o", "json"]))
        expect(all.actions.map((a) => [a.sandbox_id, a.decision, a.owner])).toEqual([
          [foreign, "destroy", "someone@elsewhere"],
          [mine, "destroy", owner]
        ])
        expect(report(yield* cli.run(["prune", "--backend", "local", "-o", "json"])).actions.map((a) => a.status))
          .toEqual(["done"])
        expect(readdirSync(join(cli.home, "runtimes")).filter((n) => !n.startsWith("."))).toEqual([foreign])
        expect(report(yield* cli.run(["reconcile", "-o", "json"])).actions).toEqual([])
        expect(report(yield* cli.run(["reconcile", "--all-owners", "-o", "json"])).actions.map((a) => a.status))
          .toEqual(["done"])
        expect(readdirSync(join(cli.home, "runtimes")).filter((n) => !n.startsWith("."))).toEqual([])
      }),
    TIMEOUT
  )

  it.scoped(
    "a session command finishes sessions whose supervisor died before it runs; --version, --help and doctor do not",
    () =>
      Effect.gen(function*() {
        const cli = yield* fixture()
        const pids: Array<number> = []
        yield* sleepers(pids)
        const ws = yield* cli.mkdir("cwd/project")
        expectOk(yield* cli.run(["workspace", "add", ws, "--name", "proj"]))
        const id = yield* newSession(
          cli,
          "proj",
          `echo done > out.txt; echo $$ > ${cli.tmp}/agent.tmp; mv ${cli.tmp}/agent.tmp ${cli.tmp}/agent; exec sleep 600`
        )
        pids.push(yield* markerPid(join(cli.tmp, "agent")))
        yield* killSupervisors(cli, [id])
        const lock = join(cli.home, "supervisors", `${id}.json`)
        expect(existsSync(lock)).toBe(true)
        for (const args of [["--version"], ["--help"], ["doctor"], ["session", "--help"], ["reconcile", "--dry-run"]]) {
          yield* cli.run(args)
          expect(existsSync(lock), args.join(" ")).toBe(true)
        }
        const listed = yield* cli.run(["session", "list", "-o", "json"])
        expect(listed.code).toBe(0)
        expect(listed.stderr).toMatch(
          new RegExp(`^warning: session ${id} had lost its supervisor; finished it \\(finish\\)`)
        )
        const sessions = JSON.parse(listed.stdout) as ReadonlyArray<{ id: string; state: string }>
        expect(sessions.find((s) => s.id === id)?.state).toBe("crashed")
        expect(existsSync(lock)).toBe(false)
        expect(readFileSync(join(ws, "out.txt"), "utf8")).toBe("done\n")
        expect(readdirSync(join(cli.home, "runtimes")).filter((n) => !n.startsWith("."))).toEqual([])
        // nothing more to say on the next start
        expectOk(yield* cli.run(["session", "list"]))
      }),
    TIMEOUT
  )
})

const emulator = (
  options: { readonly stuck?: ReadonlyArray<{ labels: Record<string, string>; state: "creating" }> } = {}
) => scopedEmulator({ apiKey: EMULATOR_KEY, ...options })

const bySandboxId = (emu: Emulator) => new Map(emu.sandboxes().map((sb) => [sb.labels["sandbox-id"] ?? sb.id, sb]))

layer(NodeContext.layer)("sandbox-cli reconcile (crash tests, daytona emulator)", (it) => {
  it.scoped(
    "a supervisor killed in every phase, for every persistence: reconcile finishes each one by its policy",
    () =>
      Effect.gen(function*() {
        const emu = yield* emulator()
        const cli = yield* fixture()
        const { cases, sandboxOf } = yield* crashMatrix(daytonaBackend(emu), cli)
        // No sandbox is left but the reuse ones; the archive ones are archived.
        const sandboxes = bySandboxId(emu)
        for (const c of cases) {
          const sb = sandboxes.get(sandboxOf.get(c.name)!)
          if (c.phase === "preparing") {
            expect(sb, c.name).toBeUndefined()
            continue
          }
          expect(sb?.state, c.name).toBe(c.mode === "r" ? "started" : c.mode === "a" ? "archived" : "destroyed")
        }
      }),
    TIMEOUT
  )

  it.scoped(
    "a kill between the provider's create and the store write: the sandbox is found by its labels",
    () =>
      Effect.gen(function*() {
        const emu = yield* emulator({ stuck: [{ labels: { workspace: "stuck" }, state: "creating" }] })
        const base = yield* fixture()
        const cli: Fixture = {
          ...base,
          run: (args, o) => base.run(args, { ...o, env: { DAYTONA_API_KEY: EMULATOR_KEY, ...o?.env } })
        }
        yield* cli.write(
          "cwd/.sandbox-cli.toml",
          `[sandboxes.d]\nbackend = "daytona"\n\n[sandboxes.d.daytona]\napi_url = "${emu.url}"\n`
        )
        const ws = yield* cli.mkdir("cwd/stuck")
        expectOk(yield* cli.run(["workspace", "add", ws, "--name", "stuck", "--sandbox", "d"]))
        const id = yield* newSession(cli, "stuck", "true")
        // The supervisor waits for the new sandbox to start: it exists, the store does not know its id yet.
        const created = yield* poll("the sandbox", () => emu.sandboxes().find((sb) => sb.labels["session-id"] === id))
        const before = yield* status(cli, id)
        expect(before.sandbox.instance_id).toBeNull()
        yield* killSupervisors(cli, [id])
        emu.unstick(created.id)

        const acted = report(yield* cli.run(["reconcile", "-o", "json"]))
        expect(acted.actions.map((a) => [a.session_id, a.decision, a.apply, a.status])).toEqual([[
          id,
          "finish",
          "destroy",
          "done"
        ]])
        expect(acted.actions[0]!.instance_id).toBe(created.id)
        expect(bySandboxId(emu).get(before.sandbox.sandbox_id)?.state).toBe("destroyed")
        const after = yield* status(cli, id)
        expect(after.state).toBe("crashed")
        expect(after.sandbox.instance_id).toBe(created.id)
      }),
    TIMEOUT
  )
})

/** A provider (Promise form) whose create records the instance, then hangs before the lifecycle can store it. */
const slowProvider = (dir: string, marker: string) =>
  `import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, renameSync } from "node:fs"
import { join } from "node:path"
const dir = ${JSON.stringify(dir)}
const gone = (id) => Object.assign(new Error("no " + id), { reason: "NotFound" })
const read = (id) => { try { return JSON.parse(readFileSync(join(dir, id + ".json"), "utf8")) } catch { throw gone(id) } }
const unsupported = async () => { throw Object.assign(new Error("unsupported"), { reason: "Unsupported" }) }
export const backend = "slow"
export const contract_version = 1
export const provider = async () => ({
  name: "slow",
  contract_version: 1,
  capabilities: { labels: true },
  async create(spec) {
    const instance = { instance_id: "slow-" + spec.sandbox_id, state: "running", provider_state_name: "running",
      labels: spec.labels, workdir: "/", provider_state: null }
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, instance.instance_id + ".json"), JSON.stringify(instance))
    writeFileSync(${JSON.stringify(marker)} + ".tmp", String(process.pid))
    renameSync(${JSON.stringify(marker)} + ".tmp", ${JSON.stringify(marker)})
    await new Promise(() => {})
  },
  async get(id) { return read(id) },
  async list(filter) {
    return readdirSync(dir).map((n) => JSON.parse(readFileSync(join(dir, n), "utf8")))
      .filter((i) => Object.entries(filter.labels).every(([k, v]) => i.labels[k] === v))
  },
  async start(i) { return read(i.instance_id) },
  async stop(i) { return read(i.instance_id) },
  async destroy(i) { rmSync(join(dir, i.instance_id + ".json"), { force: true }) },
  exec: unsupported, readFile: unsupported, writeFile: unsupported, stat: unsupported, listDir: unsupported,
  remove: unsupported, mkdir: unsupported
})
`
