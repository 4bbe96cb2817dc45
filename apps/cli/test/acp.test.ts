import * as NodeContext from "@effect/platform-node/NodeContext"
import { expect, layer } from "@effect/vitest"
import { Effect, Schedule, TestServices } from "effect"
import { spawn, spawnSync } from "node:child_process"
import { createHash } from "node:crypto"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import type { Fixture } from "./helpers.js"
import { expectError, expectOk, fixture, json, paths } from "./helpers.js"
import { alive } from "./processes.js"

const TIMEOUT = 120_000

const agentScript = fileURLToPath(new URL("../../../test/acp-agent/agent.mjs", import.meta.url))

interface HistoryJson {
  readonly at: string
  readonly kind: string
  readonly text: string
  readonly data?: Record<string, unknown>
}

interface StatusJson {
  readonly state: string
  readonly reason: string | null
  readonly last_error: string | null
}

interface EventJson {
  readonly type: string
  readonly attrs: Record<string, unknown>
}

const history = (cli: Fixture, id: string) =>
  Effect.map(cli.run(["session", "history", id, "-o", "json"]), (r) => json<ReadonlyArray<HistoryJson>>(r))

/** Poll (on the real clock) until a check on the CLI's answer holds. */
const poll = <A>(get: Effect.Effect<A>, ok: (a: A) => boolean) =>
  get.pipe(
    Effect.filterOrFail(ok, () => "not yet"),
    Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo("60 seconds"))),
    TestServices.provideLive
  )

const setup = Effect.gen(function*() {
  const cli = yield* fixture()
  const ws = yield* cli.mkdir("cwd/project")
  yield* cli.write("cwd/project/input.txt", "from the host")
  yield* cli.write(
    "cwd/.sandbox-cli.toml",
    `[agents.scripted]\nprotocol = "acp"\ncommand = [${JSON.stringify(process.execPath)}, ${
      JSON.stringify(agentScript)
    }]\n`
  )
  expectOk(yield* cli.run(["workspace", "add", ws, "--name", "proj"]))
  return { cli, ws }
})

layer(NodeContext.layer)("sandbox-cli with an ACP agent (local provider)", (it) => {
  it.scoped(
    "new --prompt runs a turn with tools in the sandbox; prompt adds a turn; history, events, stop and sync back",
    () =>
      Effect.gen(function*() {
        const { cli, ws } = yield* setup
        const created = yield* cli.run([
          "session",
          "new",
          "--workspace",
          "proj",
          "--agent",
          "scripted",
          "--prompt",
          "read input.txt; write made.txt made by the agent; run cat made.txt",
          "-o",
          "json"
        ])
        const { id } = json<{ id: string }>(created)
        const first = yield* poll(history(cli, id), (h) => h.some((e) => e.kind === "turn_end"))
        // The write landed in the sandbox, not on the host.
        expect(existsSync(join(ws, "made.txt"))).toBe(false)
        const said = first.filter((e) => e.kind === "message").map((e) => e.text).join("")
        expect(said).toContain("read input.txt: from the host")
        expect(said).toContain("ran cat made.txt: exit 0: made by the agent")
        const kinds = first.map((e) => e.kind)
        expect(kinds[0]).toBe("turn")
        expect(kinds).toEqual(
          expect.arrayContaining(["tool_call", "tool_call_update", "tool", "permission", "message"])
        )
        const write = first.find((e) => e.kind === "tool" && e.data?.["method"] === "fs/write_text_file")
        expect(write?.data?.["args"]).toMatchObject({ content: "made by the agent" })
        const decision = first.find((e) => e.kind === "permission")
        expect(decision?.data).toMatchObject({ policy: "allow-in-sandbox", decision: "allow" })

        const second = yield* cli.run(["session", "prompt", id, "write second.txt two"])
        expect(expectOk(second).stdout).toBe("turn 2 ended: end_turn\n")

        const text = (yield* cli.run(["session", "history", id])).stdout
        expect(text).toMatch(/^\S+Z turn\s+read input\.txt; write made\.txt/m)
        expect(text).toMatch(/^\S+Z turn_end end_turn$/m)

        const stopped = yield* cli.run(["session", "stop", id, "-o", "json"])
        expect(json<StatusJson>(stopped).state).toBe("stopped")
        // Sync-back brought the agent's writes home.
        expect(readFileSync(join(ws, "made.txt"), "utf8")).toBe("made by the agent")
        expect(readFileSync(join(ws, "second.txt"), "utf8")).toBe("two")

        const events = json<ReadonlyArray<EventJson>>(yield* cli.run(["session", "events", id, "-o", "json"]))
        const types = events.map((e) => e.type)
        expect(types).toEqual(expect.arrayContaining(["sandbox.transport.open", "sandbox.transport.close"]))
        // By default the agent process itself runs inside the sandbox.
        expect(events.find((e) => e.type === "sandbox.transport.open")?.attrs).toMatchObject({
          location: "sandbox",
          protocol_version: 1
        })
        expect(types.indexOf("sandbox.transport.open")).toBeLessThan(types.indexOf("sandbox.transport.close"))
      }),
    TIMEOUT
  )

  it.scoped(
    "an agent that crashes mid-turn fails the session with a clear error; its writes still come home",
    () =>
      Effect.gen(function*() {
        const { cli, ws } = yield* setup
        const created = yield* cli.run([
          "session",
          "new",
          "--workspace",
          "proj",
          "--agent",
          "scripted",
          "--prompt",
          "write kept.txt kept; crash",
          "-o",
          "json"
        ])
        const { id } = json<{ id: string }>(created)
        const final = yield* poll(
          Effect.map(cli.run(["session", "status", id, "-o", "json"]), (r) => json<StatusJson>(r)),
          (s) => s.state === "failed" || s.state === "stopped"
        )
        expect(final.state).toBe("failed")
        expect(final.reason).toContain("agent scripted: the agent exited with code 3 during session/prompt")
        expect(readFileSync(join(ws, "kept.txt"), "utf8")).toBe("kept")
        const h = yield* history(cli, id)
        expect(h.at(-1)?.kind).toBe("error")
        const events = json<ReadonlyArray<EventJson>>(yield* cli.run(["session", "events", id, "-o", "json"]))
        expect(events.some((e) => e.type === "sandbox.transport.error")).toBe(true)
      }),
    TIMEOUT
  )

  it.scoped(
    "a profile can run the agent itself inside the sandbox and deny its permission requests",
    () =>
      Effect.gen(function*() {
        const { cli, ws } = yield* setup
        yield* cli.write(
          "cwd/.sandbox-cli.toml",
          `${readFileSync(join(cli.cwd, ".sandbox-cli.toml"), "utf8")}\n[sandboxes.inside]\nbackend = "local"\n` +
            `agent_location = "sandbox"\npermissions = "deny"\n`
        )
        const created = yield* cli.run([
          "session",
          "new",
          "--workspace",
          "proj",
          "--sandbox",
          "inside",
          "--agent",
          "scripted",
          "--prompt",
          "where; write denied.txt no",
          "-o",
          "json"
        ])
        const { id } = json<{ id: string }>(created)
        const h = yield* poll(history(cli, id), (h) => h.some((e) => e.kind === "turn_end"))
        const said = h.filter((e) => e.kind === "message").map((e) => e.text).join("")
        const cwd = /agent cwd: (.*)\n/.exec(said)?.[1]
        expect(cwd).toMatch(/\/runtimes\/sbx_[a-z0-9]+\/workspace$/)
        expect(cwd?.startsWith(cli.home)).toBe(true)
        expect(said).toContain("write denied.txt not permitted")
        expect(h.find((e) => e.kind === "permission")?.data).toMatchObject({ policy: "deny", decision: "reject" })
        expectOk(yield* cli.run(["session", "stop", id]))
        expect(existsSync(join(ws, "denied.txt"))).toBe(false)
        const events = json<ReadonlyArray<EventJson>>(yield* cli.run(["session", "events", id, "-o", "json"]))
        expect(events.find((e) => e.type === "sandbox.transport.open")?.attrs).toMatchObject({ location: "sandbox" })
      }),
    TIMEOUT
  )

  it.scoped(
    "agent_location = host is said in one line at start, and no permission decision claims containment",
    () =>
      Effect.gen(function*() {
        const { cli } = yield* setup
        yield* cli.write(
          "cwd/.sandbox-cli.toml",
          `${readFileSync(join(cli.cwd, ".sandbox-cli.toml"), "utf8")}\n[sandboxes.outside]\nbackend = "local"\n` +
            `agent_location = "host"\n`
        )
        const created = yield* cli.run(
          [
            "session",
            "new",
            "--workspace",
            "proj",
            "--sandbox",
            "outside",
            "--agent",
            "scripted",
            "--prompt",
            "where; write x.txt y",
            "-o",
            "json"
          ]
        )
        expect(created.stderr).toBe(
          `warning: agent scripted runs on the host (agent_location = "host"): its own tools (search, edits, shell) run unsandboxed\n`
        )
        const { id } = JSON.parse(created.stdout) as { id: string }
        const h = yield* poll(history(cli, id), (h) => h.some((e) => e.kind === "turn_end"))
        const permission = h.find((e) => e.kind === "permission")
        expect(permission?.data).toMatchObject({ policy: "allow-in-sandbox", contained: false })
        expect(permission?.text).toContain("the agent runs on the host, its own tools unsandboxed")
        expectOk(yield* cli.run(["session", "stop", id]))
        const events = json<ReadonlyArray<EventJson>>(yield* cli.run(["session", "events", id, "-o", "json"]))
        expect(events.find((e) => e.type === "sandbox.launch.start")?.attrs).toMatchObject({ location: "host" })
        expect(events.find((e) => e.type === "sandbox.transport.open")?.attrs).toMatchObject({ location: "host" })
      }),
    TIMEOUT
  )

  it.scoped(
    "pass_env: the key reaches the agent process alone and is written nowhere",
    () =>
      Effect.gen(function*() {
        const { cli } = yield* setup
        const secret = `sk-test-${Math.random().toString(36).slice(2)}${Date.now()}`
        const digest = createHash("sha256").update(secret).digest("hex").slice(0, 12)
        yield* cli.write(
          "cwd/.sandbox-cli.toml",
          `[agents.scripted]\nprotocol = "acp"\npass_env = ["SCRIPTED_KEY"]\ncommand = [${
            JSON.stringify(process.execPath)
          }, ${JSON.stringify(agentScript)}]\n`
        )
        // Not set: refused with the name, before any turn.
        const unset = yield* cli.run([
          "session",
          "new",
          "--workspace",
          "proj",
          "--agent",
          "scripted",
          "--prompt",
          "say hi",
          "-o",
          "json"
        ])
        const failedId = json<{ id: string }>(unset).id
        const failed = yield* poll(
          Effect.map(cli.run(["session", "status", failedId, "-o", "json"]), (r) => json<StatusJson>(r)),
          (s) => s.state === "failed"
        )
        expect(failed.last_error).toContain("SCRIPTED_KEY is not set")
        const env = { SCRIPTED_KEY: secret }
        const created = yield* cli.run(
          [
            "session",
            "new",
            "--workspace",
            "proj",
            "--agent",
            "scripted",
            "--prompt",
            "env SCRIPTED_KEY; run printenv SCRIPTED_KEY || echo unset-in-terminal",
            "-o",
            "json"
          ],
          { env }
        )
        const { id } = json<{ id: string }>(created)
        const h = yield* poll(history(cli, id), (h) => h.some((e) => e.kind === "turn_end"))
        const said = h.filter((e) => e.kind === "message").map((e) => e.text).join("")
        expect(said).toContain(`env SCRIPTED_KEY: set, sha256 ${digest}`)
        // A command the client runs for the agent (its terminal) does not get it.
        expect(said).toContain("unset-in-terminal")
        const outputs = [
          created.stdout,
          (yield* cli.run(["session", "status", id, "-o", "json"], { env })).stdout,
          (yield* cli.run(["session", "events", id, "-o", "json"], { env })).stdout,
          (yield* cli.run(["session", "history", id, "-o", "json"], { env })).stdout,
          (yield* cli.run(["profile", "show", "local", "-o", "json"], { env })).stdout
        ]
        expectOk(yield* cli.run(["session", "stop", id], { env }))
        for (const out of outputs) expect(out).not.toContain(secret)
        // Nothing under the state directory (store, events, history, supervisor logs, runtimes) holds it.
        const holders = spawnSync("grep", ["-rlF", secret, cli.home, cli.cwd], { encoding: "utf8" }).stdout
        expect(holders).toBe("")
      }),
    TIMEOUT
  )

  it.scoped(
    "a host-side agent and its children do not outlive a crashed supervisor: reconcile kills them",
    () =>
      Effect.gen(function*() {
        const { cli } = yield* setup
        yield* cli.write(
          "cwd/.sandbox-cli.toml",
          `${readFileSync(join(cli.cwd, ".sandbox-cli.toml"), "utf8")}\n[sandboxes.outside]\nbackend = "local"\n` +
            `agent_location = "host"\n`
        )
        const created = yield* cli.run(
          [
            "session",
            "new",
            "--workspace",
            "proj",
            "--sandbox",
            "outside",
            "--agent",
            "scripted",
            "--prompt",
            "child; hang",
            "-o",
            "json"
          ]
        )
        const { id } = JSON.parse(created.stdout) as { id: string }
        const h = yield* poll(history(cli, id), (h) =>
          h.some((e) => e.kind === "message" && e.text.includes("child pid")))
        const said = h.filter((e) =>
          e.kind === "message"
        ).map((e) => e.text).join("")
        const [, agentPid, childPid] = /agent pid (\d+) child pid (\d+)/.exec(said)!.map(Number)
        const lock = JSON.parse(readFileSync(join(cli.home, "supervisors", `${id}.json`), "utf8")) as { pid: number }
        expect([alive(agentPid!), alive(childPid!)]).toEqual([true, true])
        process.kill(lock.pid, "SIGKILL")
        yield* poll(Effect.sync(() => alive(lock.pid)), (a) => !a)
        expectOk(yield* cli.run(["reconcile"]))
        yield* poll(Effect.sync(() => [alive(agentPid!), alive(childPid!)]), (a) => !a[0] && !a[1])
      }),
    TIMEOUT
  )

  it.scoped(
    "a sandbox kept for reuse continues its agent session in the next session",
    () =>
      Effect.gen(function*() {
        const { cli } = yield* setup
        yield* cli.write(
          "cwd/.sandbox-cli.toml",
          `[sandboxes.kept]\nbackend = "local"\npersistence = "reuse"\n\n[agents.scripted]\nprotocol = "acp"\n` +
            `command = [${JSON.stringify(process.execPath)}, ${JSON.stringify(agentScript)}]\n` +
            `env = { ACP_TEST_LOAD = "1" }\n`
        )
        const said = (id: string) =>
          Effect.map(
            poll(history(cli, id), (h) => h.some((e) => e.kind === "turn_end")),
            (h) => h.filter((e) => e.kind === "message").map((e) => e.text).join("")
          )
        const run = ["session", "new", "--workspace", "proj", "--sandbox", "kept", "--agent", "scripted"]
        const first = json<{ id: string }>(yield* cli.run([...run, "--prompt", "turns", "-o", "json"])).id
        const one = /session (\S+) turn 1/.exec(yield* said(first))?.[1]
        expect(one).toBeDefined()
        expectOk(yield* cli.run(["session", "stop", first]))
        const second = json<{ id: string }>(yield* cli.run([...run, "--prompt", "turns", "-o", "json"])).id
        expect(yield* said(second)).toContain(`session ${one} turn 2`)
        expectOk(yield* cli.run(["session", "stop", second]))
      }),
    TIMEOUT
  )

  it.scoped(
    "a backend that cannot run the agent inside the sandbox is an error, never a silent fallback to the host",
    () =>
      Effect.gen(function*() {
        const { cli } = yield* setup
        const instances = yield* cli.mkdir("instances")
        // A third-party provider with commands and files but no stdio stream both ways (no execInteractive).
        const provider = yield* cli.write(
          "plain-provider.mjs",
          `import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
const dir = ${JSON.stringify(instances)}
const unsupported = async () => { throw Object.assign(new Error("unsupported"), { reason: "Unsupported" }) }
const read = (id) => JSON.parse(readFileSync(join(dir, id + ".json"), "utf8"))
export const backend = "plain"
export const contract_version = 1
export const provider = async () => ({
  name: "plain", contract_version: 1, capabilities: { labels: true },
  async create(spec) {
    const instance = { instance_id: "plain-" + spec.sandbox_id, state: "running", provider_state_name: "running",
      labels: spec.labels, workdir: dir, provider_state: null }
    writeFileSync(join(dir, instance.instance_id + ".json"), JSON.stringify(instance))
    return instance
  },
  async get(id) { return read(id) }, async list() { return [] },
  async start(i) { return read(i.instance_id) }, async stop(i) { return read(i.instance_id) },
  async destroy(i) { rmSync(join(dir, i.instance_id + ".json"), { force: true }) },
  exec: unsupported, readFile: unsupported, writeFile: unsupported, stat: unsupported, listDir: unsupported,
  remove: unsupported, mkdir: unsupported
})
`
        )
        yield* cli.write(
          "cwd/.sandbox-cli.toml",
          `${readFileSync(join(cli.cwd, ".sandbox-cli.toml"), "utf8")}\n[providers]\nplain = "${provider}"\n\n` +
            `[sandboxes.plain]\nbackend = "plain"\nsync_mode = "none"\n`
        )
        const created = yield* cli.run(
          [
            "session",
            "new",
            "--workspace",
            "proj",
            "--sandbox",
            "plain",
            "--agent",
            "scripted",
            "--prompt",
            "where",
            "-o",
            "json"
          ]
        )
        const { id } = json<{ id: string }>(created)
        const final = yield* poll(
          Effect.map(cli.run(["session", "status", id, "-o", "json"]), (r) => json<StatusJson>(r)),
          (s) => s.state === "failed" || s.state === "stopped"
        )
        expect(final.state).toBe("failed")
        expect(final.last_error).toContain("cannot run agent scripted inside the sandbox")
        const events = json<ReadonlyArray<EventJson>>(yield* cli.run(["session", "events", id, "-o", "json"]))
        expect(events.find((e) => e.type === "sandbox.launch.start")?.attrs).toMatchObject({ location: "sandbox" })
        expect(events.some((e) => e.type === "sandbox.transport.open")).toBe(false)
      }),
    TIMEOUT
  )

  it.scoped(
    "session stop during a turn cancels the turn, stops the session and syncs back",
    () =>
      Effect.gen(function*() {
        const { cli, ws } = yield* setup
        const created = yield* cli.run([
          "session",
          "new",
          "--workspace",
          "proj",
          "--agent",
          "scripted",
          "--prompt",
          "write during.txt mid-turn; say started; hang",
          "-o",
          "json"
        ])
        const { id } = json<{ id: string }>(created)
        yield* poll(history(cli, id), (h) => h.some((e) => e.kind === "message" && e.text.includes("started")))
        const stopped = yield* cli.run(["session", "stop", id, "-o", "json"])
        expect(json<StatusJson>(stopped).state).toBe("stopped")
        expect(readFileSync(join(ws, "during.txt"), "utf8")).toBe("mid-turn")
        const h = yield* history(cli, id)
        expect(h.find((e) => e.kind === "turn_end")?.data).toMatchObject({ stop_reason: "cancelled" })
      }),
    TIMEOUT
  )

  it.scoped(
    "--prompt needs an ACP agent; prompt needs an ACP session",
    () =>
      Effect.gen(function*() {
        const { cli } = yield* setup
        expect(
          expectError(yield* cli.run(["session", "new", "--workspace", "proj", "--prompt", "hi", "--", "true"]), 2)
        )
          .toContain("--prompt is for ACP agents")
        const created = yield* cli.run(["session", "new", "--workspace", "proj", "-o", "json", "--", "sleep", "60"])
        const { id } = json<{ id: string }>(created)
        yield* poll(
          Effect.map(cli.run(["session", "status", id, "-o", "json"]), (r) => json<StatusJson>(r)),
          (s) => s.state === "running"
        )
        expect(expectError(yield* cli.run(["session", "prompt", id, "hello"]), 1)).toContain(
          "only ACP agent sessions take prompts"
        )
        expectOk(yield* cli.run(["session", "stop", id]))
      }),
    TIMEOUT
  )

  it.scoped(
    "permissions = ask: the question reaches the terminal of session new --attach, and the answer decides",
    () =>
      Effect.gen(function*() {
        const { cli, ws } = yield* setup
        yield* cli.write(
          "cwd/.sandbox-cli.toml",
          `[sandboxes.asking]\nbackend = "local"\npermissions = "ask"\n\n[agents.scripted]\nprotocol = "acp"\n` +
            `command = [${JSON.stringify(process.execPath)}, ${JSON.stringify(agentScript)}]\n`
        )
        // Without --attach: refused up front (usage error), no session started.
        const bare = yield* cli.run([
          "session",
          "new",
          "--workspace",
          "proj",
          "--sandbox",
          "asking",
          "--agent",
          "scripted",
          "--prompt",
          "say hi"
        ])
        expect(expectError(bare, 2)).toContain(`permissions = "ask", which needs a terminal`)
        expect(json<ReadonlyArray<unknown>>(yield* cli.run(["session", "list", "-o", "json"]))).toEqual([])
        // Attached without a terminal: refused the same way.
        const detached = yield* cli.run([
          "session",
          "new",
          "--workspace",
          "proj",
          "--sandbox",
          "asking",
          "--agent",
          "scripted",
          "--prompt",
          "say hi",
          "--attach"
        ])
        expect(expectError(detached, 2)).toContain("--attach from a terminal")
        // On a terminal (a pseudo-terminal from script(1)): asked, answered 1 (allow) then 2 (reject).
        const argv = [
          paths.launcher,
          "session",
          "new",
          "--workspace",
          "proj",
          "--sandbox",
          "asking",
          "--agent",
          "scripted",
          "--prompt",
          "write asked.txt yes; ask deploy",
          "--attach"
        ].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ")
        const transcript = yield* Effect.promise(() =>
          new Promise<string>((resolve, reject) => {
            const child = spawn("script", ["-qefc", `${JSON.stringify(process.execPath)} ${argv}`, "/dev/null"], {
              cwd: cli.cwd,
              env: cli.env,
              stdio: ["pipe", "pipe", "pipe"]
            })
            let out = ""
            let answered = 0
            let stopping = false
            const answers = ["1", "2"]
            child.stdout.on("data", (chunk: Buffer) => {
              out += chunk.toString("utf8")
              const asked = out.split("choose 1-2").length - 1
              if (asked > answered && answered < answers.length) child.stdin.write(`${answers[answered++]}\n`)
              // The turn is over: an ACP session waits for more prompts, so stop it (the attached CLI then ends).
              const id = /ses_[a-z0-9]+/.exec(out)?.[0]
              if (!stopping && id !== undefined && out.includes("permission deploy:")) {
                stopping = true
                void Effect.runPromise(cli.run(["session", "stop", id]))
              }
            })
            child.on("error", reject)
            child.on("close", () => resolve(out))
          })
        )
        expect(transcript).toContain("permission: ")
        expect(transcript).toContain("1) Allow once")
        expect(transcript).toContain("permission deploy: reject")
        // The allowed write happened in the sandbox and came home at the end of the session (the attached CLI
        // returns when the turn ends; the stop that brings it home may still be under way).
        yield* poll(Effect.sync(() => existsSync(join(ws, "asked.txt"))), (there) => there)
        expect(readFileSync(join(ws, "asked.txt"), "utf8")).toBe("yes")
        // The stop goes on after the file is home (the runtime is removed last): wait for its end, so that the
        // test's temporary directory is not removed under it.
        const id = /ses_[a-z0-9]+/.exec(transcript)![0]
        yield* poll(
          Effect.map(cli.run(["session", "status", id, "-o", "json"]), (r) => json<{ state: string }>(r).state),
          (state) => ["stopped", "failed", "crashed"].includes(state)
        )
      }),
    TIMEOUT
  )
})
