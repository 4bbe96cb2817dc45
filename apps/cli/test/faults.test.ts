/**
 * The fault matrix: every way the end of a session can go wrong, with real CLI processes, on the local provider
 * and on the Daytona emulator (the real SDK on loopback).
 *
 *   fault       × persistence                 × command         × end                 × backend
 *   {syncfail,    {transient, archive, reuse}   {run, session}    {stop, reconcile,     {local, daytona}
 *    refused,                                                      prune}
 *    filedir,
 *    hostedit,
 *    supkill}
 *
 * Faults, each injected where the work of the sandbox comes home:
 * - `syncfail`: the sync-back fails. Local: the runtime's directory is unreachable (moved away); Daytona: the
 *   toolbox's file download answers 503 (an emulator fault rule).
 * - `refused`: the sandbox wrote names the sync refuses (an NFD name, a newline in a name).
 * - `filedir`: the sandbox replaced a file with a directory while the host edited that file.
 * - `hostedit`: the host edits a file while the sync-back is putting the sandbox's version of it in place.
 * - `supkill`: the process doing the sync-back is SIGKILLed mid-apply (its temporary file already in the tree).
 * Both mid-apply faults stop that process at a pause point (`SANDBOX_CLI_PAUSE_BEFORE_RENAME`, see
 * src/Failpoint.ts) right before the rename of the file, deterministically.
 *
 * Ends (who does the sync-back that meets the fault):
 * - `stop`: the session's own end. `run` has no `session stop`: its stop is CMD's own end, which is what its
 *   cases run; `session` cases run `session stop ID`.
 * - `reconcile`: the owner (supervisor, or the `run` process) is SIGKILLed while the agent runs, then
 *   `reconcile ID` does the sync-back. In `supkill` it is that reconcile process that is killed mid-apply.
 * - `prune`: as `reconcile`, with `prune` run before it (a cut-off session is not an orphan) and after it
 *   (a sandbox holding work, or kept by its persistence, is not one either).
 * Every combination makes sense under these definitions, so none is left out.
 *
 * After the end, and again after the faults are lifted and a plain `reconcile` has run, every case checks:
 * every host file byte for byte (the host's bytes intact, every byte the sandbox wrote last on the host, in a
 * conflict copy, or in a sandbox that is kept because its work is not home and reported so), the provider's
 * own listing (only sandboxes whose persistence keeps them, or held ones), and no `.sandbox-sync-tmp-*` file
 * anywhere in the workspace.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { expect, layer } from "@effect/vitest"
import type { Emulator } from "@org/daytona-emulator"
import type { Duration } from "effect"
import { Context, Effect, Fiber, Layer, Schedule, TestServices } from "effect"
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, renameSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { scopedEmulator } from "./emulator.js"
import type { Backend, CliResult, Fixture } from "./helpers.js"
import { daytonaBackend, EMULATOR_KEY, expectOk, fixture, json, localBackend, sleepers } from "./helpers.js"
import { alive as isAlive } from "./processes.js"

const TIMEOUT = 900_000

const FAULTS = ["syncfail", "refused", "filedir", "hostedit", "supkill"] as const
const MODES = { t: "transient", a: "archive", r: "reuse" } as const
const COMMANDS = ["run", "session"] as const
const ENDS = ["stop", "reconcile", "prune"] as const

type Fault = typeof FAULTS[number]
type Mode = keyof typeof MODES
type Command = typeof COMMANDS[number]
type End = typeof ENDS[number]

interface Case {
  readonly fault: Fault
  readonly mode: Mode
  /** `<fault>-<mode>`: unique within a group, so it also names the files a pause waits for. */
  readonly name: string
  /** The sandbox-side marker's name: unique over every group (groups share one emulator). */
  readonly marker: string
  readonly dir: string
}

interface Started extends Case {
  readonly session_id: string
  readonly sandbox_id: string
  /** The marker on the host, beside the sandbox's workdir (local runtime dir, or the emulator's sandbox home). */
  readonly markerPath: string
  /** The `run` process, for `run` cases. */
  readonly run?: Fiber.RuntimeFiber<CliResult>
}

interface SessionRecord {
  readonly id: string
  readonly state: string
  readonly workspace_path?: string
  readonly sandbox: {
    readonly sandbox_id: string
    readonly instance_id: string | null
    readonly state: string
    readonly kept?: string
  }
}

const live = <A, E, R>(effect: Effect.Effect<A, E, R>) => TestServices.provideLive(effect)

const trace = process.env["FAULT_MATRIX_TRACE"] !== undefined
const poll = <A>(what: string, check: () => A | undefined, timeout: Duration.DurationInput = "240 seconds") =>
  Effect.suspend(() => {
    if (trace) console.error(`${new Date().toISOString()} ${what}`)
    const value = check()
    return value === undefined ? Effect.fail(`waiting for ${what}`) : Effect.succeed(value)
  }).pipe(
    Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo(timeout))),
    Effect.orDie,
    live
  )

const readJson = <A>(file: string): A | undefined => {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as A
  } catch {
    return undefined
  }
}

/** Every file under `root` (symlinks by their target), relative path → content; temp files are listed apart. */
const snapshot = (root: string) => {
  const files: Record<string, string> = {}
  const temps: Array<string> = []
  const walk = (dir: string, rel: string) => {
    for (const name of readdirSync(dir)) {
      const abs = join(dir, name)
      const path = rel === "" ? name : `${rel}/${name}`
      if (name.startsWith(".sandbox-sync-tmp-")) temps.push(path)
      const st = lstatSync(abs)
      if (st.isDirectory()) walk(abs, path)
      else if (st.isSymbolicLink()) files[path] = `-> ${readlinkSync(abs)}`
      else files[path] = readFileSync(abs, "utf8")
    }
  }
  walk(root, "")
  return { files, temps }
}

const NFD = "cafe\u0301.txt"
const NEWLINE = "two\nlines.txt"

/** The host tree a case starts from. */
const seeded = (c: Case): Record<string, string> => ({
  "seed.txt": `seed ${c.name}\n`,
  "keep/deep.txt": `deep ${c.name}\n`,
  ...(c.fault === "filedir" ? { fileF: "host v1\n" } : {}),
  ...(c.fault === "hostedit" ? { [`${c.name}.edit`]: "base\n" } : {})
})

/** The host's own edits, made while the session runs (`filedir`) or during the sync-back (`hostedit`). */
const hostEdits = (c: Case): Record<string, string> =>
  c.fault === "filedir"
    ? { fileF: "host v2\n" }
    : c.fault === "hostedit"
    ? { [`${c.name}.edit`]: "host edit during the sync-back\n" }
    : {}

/** What the sandbox wrote last, where it must land on the host (conflict copies included). */
const homeFromSandbox = (c: Case, sid: string): Record<string, string> => ({
  "agent.txt": `agent ${c.name}\n`,
  ...(c.fault === "filedir" ? { [`fileF.sandbox-conflict-${sid}/x`]: "runtime x\n" } : {}),
  ...(c.fault === "hostedit" ? { [`${c.name}.edit.sandbox-conflict-${sid}`]: "runtime edit\n" } : {}),
  ...(c.fault === "supkill" ? { [`${c.name}.work`]: `work ${c.name}\n` } : {})
})

/** What the sandbox wrote that can never come home: it stays in the sandbox, which must be kept. */
const heldInSandbox = (c: Case): Record<string, string> =>
  c.fault === "refused" ? { [NFD]: "refused nfd", [NEWLINE]: "refused newline" } : {}

/** The agent: its writes, then a marker beside its workdir, then it waits (for `go`, or to be killed). */
const agentScript = (c: Case, waitForGo: boolean) => {
  const work = {
    syncfail: "",
    refused: `printf 'refused nfd' > "$(printf 'cafe\\314\\201.txt')"; ` +
      `printf 'refused newline' > "$(printf 'two\\nlines.txt')"; `,
    filedir: "rm fileF && mkdir fileF && echo 'runtime x' > fileF/x; ",
    hostedit: `echo 'runtime edit' > ${c.name}.edit; `,
    supkill: `echo 'work ${c.name}' > ${c.name}.work; `
  }[c.fault]
  const m = `../${c.marker}`
  const wait = waitForGo ? `while [ ! -e ${m}.go ]; do sleep 0.1; done` : "exec sleep 600"
  return `${work}echo 'agent ${c.name}' > agent.txt; echo $$ > ${m}.tmp; mv ${m}.tmp ${m}.ready; ${wait}`
}

/** The file a mid-apply fault pauses at. */
const pauseTarget = (c: Case) =>
  c.fault === "hostedit" ? `${c.name}.edit` : c.fault === "supkill" ? `${c.name}.work` : undefined

class Emu extends Context.Tag("test/FaultMatrixEmulator")<Emu, Emulator>() {}

const EmuLayer = Layer.scoped(Emu, scopedEmulator({ apiKey: EMULATOR_KEY }))

/** The emulator's fault rules are one list: each `syncfail` case (of any group) adds its sandbox's downloads. */
const managers = new WeakMap<Emulator, ReturnType<typeof makeDownloadFaults>>()
const downloadFaults = (emu: Emulator) => {
  const known = managers.get(emu)
  if (known !== undefined) return known
  const made = makeDownloadFaults(emu)
  managers.set(emu, made)
  return made
}
const makeDownloadFaults = (emu: Emulator) => {
  const failing = new Set<string>()
  const apply = () =>
    emu.setFaults([...failing].map((id) => ({
      route: new RegExp(`^(GET /toolbox/${id}/files/download|POST /toolbox/${id}/files/bulk-download)`),
      kind: "503" as const,
      retryAfterSeconds: 0
    })))
  return {
    add: (instance: string) => (failing.add(instance), apply()),
    remove: (instance: string) => (failing.delete(instance), apply())
  }
}

/** CLI processes that do work at once, over every group: the machine has two cores. */
const busy = Effect.unsafeMakeSemaphore(6)
const limited = <A, E, R>(effect: Effect.Effect<A, E, R>) => busy.withPermits(1)(effect)

const matrixConfig = (backend: Backend) =>
  Object.entries(MODES).flatMap(([key, persistence]) => [
    `[sandboxes.${key}]`,
    `persistence = "${persistence}"`,
    ...backend.table(key),
    ""
  ]).join("\n")

/**
 * One group: every fault and persistence for one command, end and backend, in one state directory. Returns
 * what it checked, for the matrix's count.
 */
const group = (backend: Backend, emu: Emulator | undefined, command: Command, end: End) =>
  Effect.gen(function*() {
    const base = yield* fixture()
    const pauses = yield* base.mkdir("pauses")
    const cli: Fixture = {
      ...base,
      run: (args, options) =>
        base.run(args, {
          ...options,
          env: { ...backend.env, SANDBOX_CLI_PAUSE_BEFORE_RENAME: pauses, ...options?.env }
        })
    }
    const pids: Array<number> = []
    yield* sleepers(pids)
    const faults = emu === undefined ? undefined : downloadFaults(emu)
    yield* cli.write("cwd/.sandbox-cli.toml", matrixConfig(backend))
    const label = `${backend.name} ${command} ${end}`

    const cases: Array<Case> = FAULTS.flatMap((fault) =>
      (Object.keys(MODES) as Array<Mode>).map((mode) => ({
        fault,
        mode,
        name: `${fault}-${mode}`,
        marker: `${fault}-${mode}.${command}-${end}`,
        dir: join(cli.tmp, "cwd", "w", `${fault}-${mode}`)
      }))
    )
    for (const c of cases) {
      for (const [path, text] of Object.entries(seeded(c))) yield* cli.write(join("cwd", "w", c.name, path), text)
    }

    // ---- Start: each case's agent writes its work and waits.
    const waitForGo = command === "run" && end === "stop"
    const sessionOf = (dir: string) =>
      poll(`the session of ${dir}`, () => {
        const sessions = join(cli.home, "sessions")
        if (!existsSync(sessions)) return undefined
        return readdirSync(sessions).filter((n) => n.endsWith(".json"))
          .map((n) => readJson<SessionRecord>(join(sessions, n)))
          .find((s) => s?.workspace_path === dir && s.sandbox.instance_id !== null)
      })
    const start = (c: Case) =>
      limited(Effect.gen(function*() {
        const argv = ["sh", "-c", agentScript(c, waitForGo)]
        let run: Fiber.RuntimeFiber<CliResult> | undefined
        if (command === "run") {
          run = yield* Effect.forkScoped(
            cli.run(["run", "--profile", c.mode, "--workspace", c.dir, "--", ...argv], { cwd: join(cli.tmp, "cwd") })
          )
        } else {
          expectOk(yield* cli.run(["workspace", "add", c.dir, "--name", c.name, "--sandbox", c.mode]))
          json(yield* cli.run(["session", "new", "--workspace", c.name, "-o", "json", "--", ...argv]))
        }
        const marker = yield* poll(`${label} ${c.name} ready`, () => backend.findMarker(cli, `${c.marker}.ready`))
        if (backend.hostPids) pids.push(Number(readFileSync(marker, "utf8").trim()))
        const record = yield* sessionOf(c.dir)
        return {
          ...c,
          session_id: record.id,
          sandbox_id: record.sandbox.sandbox_id,
          markerPath: marker,
          run
        } as Started
      }))
    const started = yield* Effect.forEach(cases, start, { concurrency: "unbounded" })

    const record = (c: Started) => readJson<SessionRecord>(join(cli.home, "sessions", `${c.session_id}.json`))!
    const instanceOf = (c: Started) => record(c).sandbox.instance_id!
    const workdir = (c: Started) => join(dirname(c.markerPath), "workspace")
    const ownerPid = (c: Started) =>
      readJson<{ pid: number }>(join(cli.home, "supervisors", `${c.session_id}.json`))?.pid

    // ---- Faults armed before the end.
    for (const c of started) {
      if (c.fault === "filedir") {
        for (const [path, text] of Object.entries(hostEdits(c))) writeFileSync(join(c.dir, path), text)
      }
      const target = pauseTarget(c)
      if (target !== undefined) writeFileSync(join(pauses, `${target}.pause`), "")
    }
    const armSyncFail = (c: Started) => {
      if (c.fault !== "syncfail") return
      if (faults !== undefined) faults.add(instanceOf(c))
      else renameSync(workdir(c), `${workdir(c)}.away`)
    }
    const liftSyncFail = (c: Started) => {
      if (c.fault !== "syncfail") return
      if (faults !== undefined) faults.remove(instanceOf(c))
      else if (existsSync(`${workdir(c)}.away`)) renameSync(`${workdir(c)}.away`, workdir(c))
    }

    /** Where a mid-apply fault meets the process doing the sync-back: edit the host file, or kill it. */
    const atPause = (c: Started, ending: Fiber.Fiber<CliResult>) =>
      Effect.gen(function*() {
        const target = pauseTarget(c)
        if (target === undefined) return
        const paused = yield* poll(`${label} ${c.name} paused`, () => {
          const found = readJson<{ pid: number; target: string }>(join(pauses, `${target}.paused`))
          if (found !== undefined) return found
          // an end that finished without pausing never met the fault: say what it did
          const done = Effect.runSync(Fiber.poll(ending))
          if (done._tag === "Some") return { pid: -1, target: JSON.stringify(done.value) }
          return undefined
        })
        expect(paused.target, c.name).toBe(join(c.dir, target))
        if (c.fault === "hostedit") {
          for (const [path, text] of Object.entries(hostEdits(c))) writeFileSync(join(c.dir, path), text)
        } else {
          process.kill(paused.pid, "SIGKILL")
          yield* poll(`pid ${paused.pid} to die`, () => (isAlive(paused.pid) ? undefined : true))
          expect(snapshot(c.dir).temps.length, `${label} ${c.name}: the killed apply's temporary file`)
            .toBeGreaterThan(0)
        }
        writeFileSync(join(pauses, `${target}.resume`), "")
      })

    const killOwner = (c: Started) =>
      Effect.gen(function*() {
        const pid = ownerPid(c)
        expect(pid, `${c.name} owner`).toBeDefined()
        process.kill(pid!, "SIGKILL")
        yield* poll(`owner ${pid} to die`, () => (isAlive(pid!) ? undefined : true))
        if (c.run !== undefined) expect((yield* Fiber.join(c.run)).signal).toBe("SIGKILL")
      })

    const prune = (when: string) =>
      Effect.gen(function*() {
        const before = new Set(backend.listed(cli).map((l) => `${l.sandbox_id} ${l.state}`))
        const result = yield* limited(cli.run(["prune", "-o", "json"]))
        expect(result.code, `${label}: prune ${when}: ${result.stderr}`).toBe(0)
        const actions = (JSON.parse(result.stdout) as { actions: ReadonlyArray<{ decision: string }> }).actions
        expect(actions.filter((a) => a.decision !== "skip"), `${label}: prune ${when}`).toEqual([])
        expect(new Set(backend.listed(cli).map((l) => `${l.sandbox_id} ${l.state}`)), `${label}: prune ${when}`)
          .toEqual(before)
      })

    // ---- The end, with the fault.
    const outcomes = new Map<string, CliResult>()
    const endOf = (c: Started) =>
      Effect.gen(function*() {
        if (end === "stop") {
          armSyncFail(c)
          const ending = command === "run"
            ? (writeFileSync(`${c.markerPath.slice(0, -".ready".length)}.go`, ""), c.run!)
            : yield* Effect.fork(limited(cli.run(["session", "stop", c.session_id, "-o", "json"])))
          yield* atPause(c, ending)
          outcomes.set(c.name, yield* Fiber.join(ending))
        } else {
          armSyncFail(c)
          const ending = yield* Effect.fork(limited(cli.run(["reconcile", c.session_id, "-o", "json"])))
          yield* atPause(c, ending)
          outcomes.set(c.name, yield* Fiber.join(ending))
        }
      })
    if (end !== "stop") {
      yield* Effect.forEach(started, killOwner, { concurrency: "unbounded", discard: true })
      if (end === "prune") yield* prune("while the sessions are cut off")
    }
    yield* Effect.forEach(started, endOf, { concurrency: "unbounded", discard: true })
    if (end === "prune") yield* prune("after the sync-backs")

    // ---- Checks.
    const listed = () => new Map(backend.listed(cli).map((l) => [l.sandbox_id, l.state]))
    const held = (c: Case) => c.fault === "refused"
    const check = (c: Started, phase: "after the end" | "after recovery") => {
      const where = `${label} ${c.name} ${phase}`
      const outcome = outcomes.get(c.name)!
      const { files, temps } = snapshot(c.dir)
      const s = record(c)
      const sandbox = listed().get(c.sandbox_id)
      const expectedHome = { ...seeded(c), ...hostEdits(c), ...homeFromSandbox(c, c.session_id) }
      // a fault mid-apply may leave the tree half-way; the next sync-back finishes it (checked after recovery)
      const halfWay = phase === "after the end" && c.fault === "supkill" &&
        !["stopped", "failed", "crashed"].includes(s.state)
      const notHomeYet = phase === "after the end" && c.fault === "syncfail"
      if (halfWay) {
        for (const [path, text] of Object.entries({ ...seeded(c) })) expect(files[path], `${where} ${path}`).toBe(text)
        for (const path of Object.keys(files)) {
          expect(path in expectedHome || temps.includes(path), `${where}: unexpected ${path}`).toBe(true)
        }
        expect(sandbox, `${where}: the sandbox`).toBe("live")
        return
      }
      expect(temps, `${where}: temporary files`).toEqual([])
      expect(files, `${where}: the host tree (${JSON.stringify(outcome)})`).toEqual(
        notHomeYet ? seeded(c) : expectedHome
      )
      if (notHomeYet || held(c)) {
        // the work that is not home is in the sandbox, which is kept and says why
        expect(sandbox, `${where}: the sandbox holding work`).toBe("live")
        expect(s.sandbox.kept, `${where}: kept`).toBe("unsynced")
        const inside =
          snapshot(c.fault === "syncfail" && existsSync(`${workdir(c)}.away`) ? `${workdir(c)}.away` : workdir(c))
            .files
        const left = notHomeYet ? homeFromSandbox(c, c.session_id) : heldInSandbox(c)
        for (const [path, text] of Object.entries(left)) {
          expect(inside[path], `${where}: ${path} in the sandbox`).toBe(text)
        }
        expect(s.state, `${where}: the session's state`).not.toBe("stopped")
        return
      }
      expect(s.sandbox.kept, `${where}: kept`).toBeUndefined()
      expect(sandbox, `${where}: the sandbox`).toBe(
        c.mode === "t" ? undefined : c.mode === "a" ? "archived" : "live"
      )
    }
    for (const c of started) check(c, "after the end")
    // What each end said.
    for (const c of started) {
      const outcome = outcomes.get(c.name)!
      const where = `${label} ${c.name}: ${outcome.stderr}`
      if (c.fault === "supkill") {
        if (end !== "stop" || command === "run") expect(outcome.signal, where).toBe("SIGKILL")
        continue
      }
      if (c.fault === "syncfail" || c.fault === "refused") {
        expect(outcome.code, where).not.toBe(0)
        if (command === "run" && end === "stop") expect(outcome.stderr, where).toMatch(/left behind/)
      } else {
        expect(outcome.code, where).toBe(0)
        if (command === "run" && end === "stop") expect(outcome.stderr, where).toMatch(/^warning: conflict: /m)
      }
    }

    // ---- Recovery: the faults are lifted and a plain reconcile finishes what is left.
    for (const c of started) liftSyncFail(c)
    const recovered = yield* limited(cli.run(["reconcile", "-o", "json"]))
    expect(recovered.code, `${label}: reconcile: ${recovered.stderr}`).toBe(
      started.some(held) ? 1 : 0
    )
    for (const c of started) check(c, "after recovery")
    // Held sandboxes are reported as such by the CLI; nothing else is left in the provider.
    const sessions = json<ReadonlyArray<SessionRecord>>(yield* limited(cli.run(["session", "list", "-o", "json"])))
    for (const c of started) {
      const s = sessions.find((x) => x.id === c.session_id)
      expect(s?.sandbox.kept, `${label} ${c.name} reported`).toBe(held(c) ? "unsynced" : undefined)
      expect(["stopped", "failed", "crashed"], `${label} ${c.name} state`).toContain(s?.state)
    }
    const expectedListing = new Map(
      started.flatMap((c) =>
        held(c) ? [[c.sandbox_id, "live"]] : c.mode === "a" ? [[c.sandbox_id, "archived"]] : c.mode === "r"
          ? [[c.sandbox_id, "live"]]
          : []
      )
    )
    expect(listed(), `${label}: the provider's listing`).toEqual(expectedListing)
    return started.length
  })

const groups = COMMANDS.flatMap((command) => ENDS.map((end) => ({ command, end })))

layer(NodeContext.layer)("fault matrix (local provider)", (it) => {
  for (const { command, end } of groups) {
    it.scoped(
      `${command} × ${end}: 5 faults × 3 persistences lose no byte, leak no sandbox, leave no temporary file`,
      () => Effect.map(group(localBackend, undefined, command, end), (n) => expect(n).toBe(15)),
      { timeout: TIMEOUT, concurrent: true }
    )
  }
})

layer(Layer.merge(NodeContext.layer, EmuLayer))("fault matrix (daytona emulator)", (it) => {
  for (const { command, end } of groups) {
    it.scoped(
      `${command} × ${end}: 5 faults × 3 persistences lose no byte, leak no sandbox, leave no temporary file`,
      () =>
        Effect.flatMap(Emu, (emu) => group(daytonaBackend(emu), emu, command, end)).pipe(
          Effect.map((n) => expect(n).toBe(15))
        ),
      { timeout: TIMEOUT, concurrent: true }
    )
  }
})
