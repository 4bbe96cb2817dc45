import { NodeContext } from "@effect/platform-node"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { describe, expect, it } from "@effect/vitest"
import type { Scope } from "effect"
import { Effect, Exit, Option, Scope as S } from "effect"
import * as AcpClient from "../src/AcpClient.js"
import { agentCommand, bytes, localSandbox, messages, recorder, text } from "./helpers.js"

// Real child processes: the live clock, and the Node platform for files and commands.
const live = <A, E>(
  name: string,
  body: () => Effect.Effect<A, E, Scope.Scope | NodeContext.NodeContext>
) => it.scopedLive(name, () => Effect.provide(body(), NodeContext.layer), { timeout: 60_000 })

const startAgent = (
  sandbox: Effect.Effect.Success<typeof localSandbox>,
  rec: ReturnType<typeof recorder>,
  extra: Partial<AcpClient.StartOptions> = {}
) =>
  AcpClient.start({
    agent: "scripted",
    command: agentCommand,
    provider: sandbox.provider,
    instance: sandbox.instance,
    hostCwd: sandbox.hostDir,
    onHistory: rec.onHistory,
    onEvent: rec.onEvent,
    ...extra
  })

describe("AcpClient on the local provider", () => {
  live(
    "resume continues an earlier agent session when the agent can load it, and opens a new one otherwise",
    () =>
      Effect.gen(function*() {
        const sandbox = yield* localSandbox
        const env = { ACP_TEST_LOAD: "1" }
        const first = recorder()
        const scope = yield* S.make()
        const one = yield* startAgent(sandbox, first, { env }).pipe(S.extend(scope))
        yield* one.prompt("turns")
        yield* S.close(scope, Exit.void)
        const again = recorder()
        const two = yield* startAgent(sandbox, again, { env, resume: one.session_id })
        expect(two.session_id).toBe(one.session_id)
        yield* two.prompt("turns")
        expect(messages(again.history)).toEqual([`session ${one.session_id} turn 2`])
        const gone = recorder()
        const three = yield* startAgent(sandbox, gone, { env, resume: "no-such-session" })
        expect(three.session_id).not.toBe("no-such-session")
        expect(gone.history.find((e) => e.kind === "note")?.text).toMatch(/could not be continued .*Resource not found/)
      })
  )

  live(
    "an agent that answers auth_required is authenticated with the method it handles itself",
    () =>
      Effect.gen(function*() {
        const sandbox = yield* localSandbox
        const rec = recorder()
        const session = yield* startAgent(sandbox, rec, { env: { ACP_TEST_AUTH: "required" } })
        expect(yield* session.prompt("say in")).toEqual({ turn: 1, stop_reason: "end_turn" })
        expect(rec.history.find((e) => e.kind === "note")?.text).toBe(
          "authenticated with API key from the environment (api-key)"
        )
      })
  )

  live("an agent's error keeps its detail, not only \"Internal error\"", () =>
    Effect.gen(function*() {
      const sandbox = yield* localSandbox
      const rec = recorder()
      const session = yield* startAgent(sandbox, rec)
      const failed = yield* Effect.flip(session.prompt("fail the model API answered 401: invalid x-api-key"))
      expect(failed.message).toContain("Internal error")
      expect(failed.message).toContain("the model API answered 401: invalid x-api-key")
    }))

  live("a tool call announced twice under one id is one tool call in the history", () =>
    Effect.gen(function*() {
      const sandbox = yield* localSandbox
      const rec = recorder()
      const session = yield* startAgent(sandbox, rec)
      yield* session.prompt("twice Grep secret; say done")
      const calls = rec.history.filter((e) => e.kind === "tool_call")
      expect(calls.map((e) => e.text)).toEqual(["Grep secret"])
      const updates = rec.history.filter((e) => e.kind === "tool_call_update")
      expect(updates[0]?.data).toMatchObject({ status: "in_progress", input: { pattern: "Grep secret" } })
      expect(updates.at(-1)?.data).toMatchObject({ status: "completed" })
    }))

  live(
    "a missing file is the spec's resource-not-found error, so an agent knows it may create it",
    () =>
      Effect.gen(function*() {
        const sandbox = yield* localSandbox
        yield* sandbox.provider.writeFile(sandbox.instance, "there.txt", bytes("here"))
        const rec = recorder()
        const session = yield* startAgent(sandbox, rec)
        yield* session.prompt("exists there.txt; exists missing.txt")
        expect(messages(rec.history)).toEqual(["there.txt: exists", "missing.txt: new file"])
        const failed = rec.history.find((e) => e.kind === "tool" && e.data?.["error"] !== undefined)
        expect(failed?.data?.["error"]).toMatchObject({ reason: "NotFound" })
      })
  )

  live("routes reads, writes and terminals into the sandbox, not the host", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const sandbox = yield* localSandbox
      yield* sandbox.provider.writeFile(sandbox.instance, "seed.txt", bytes("seeded"))
      const rec = recorder()
      const scope = yield* S.make()
      const session = yield* startAgent(sandbox, rec).pipe(S.extend(scope))
      const result = yield* session.prompt("read seed.txt; write out/new.txt hello from the agent; run cat out/new.txt")
      expect(result).toEqual({ turn: 1, stop_reason: "end_turn" })

      // The write landed in the runtime, not in the agent's own (host) directory.
      expect(text(yield* sandbox.provider.readFile(sandbox.instance, "out/new.txt"))).toBe("hello from the agent")
      expect(yield* fs.exists(path.join(sandbox.hostDir, "out"))).toBe(false)

      expect(messages(rec.history)).toEqual([
        "read seed.txt: seeded",
        "ran cat out/new.txt: exit 0: hello from the agent"
      ])
      const kinds = rec.history.map((e) => e.kind)
      expect(kinds[0]).toBe("turn")
      expect(kinds.at(-1)).toBe("turn_end")
      expect(kinds).toContain("permission")
      const tools = rec.history.filter((e) => e.kind === "tool").map((e) => e.data?.["method"])
      expect(tools).toEqual([
        "fs/read_text_file",
        "fs/write_text_file",
        "terminal/create",
        "terminal/wait_for_exit",
        "terminal/output",
        "terminal/release"
      ])
      const read = rec.history.find((e) => e.data?.["method"] === "fs/read_text_file")!
      expect(read.data?.["args"]).toMatchObject({ path: `${sandbox.instance.workdir}/seed.txt` })
      expect(read.data?.["result"]).toMatchObject({ content: "seeded" })
      const call = rec.history.find((e) => e.kind === "tool_call")!
      expect(call.data).toMatchObject({ tool_kind: "read", input: { path: `${sandbox.instance.workdir}/seed.txt` } })
      // Timestamps never go backwards.
      const times = rec.history.map((e) => e.at.epochMillis)
      expect([...times].sort((a, b) => a - b)).toEqual(times)

      // A second turn on the same session.
      expect(yield* session.prompt("say again")).toEqual({ turn: 2, stop_reason: "end_turn" })
      expect(messages(rec.history).at(-1)).toBe("again")

      const open = rec.events.find((e) => e.type === "sandbox.transport.open")
      expect(open?.attrs).toMatchObject({ location: "sandbox", protocol_version: 1, cwd: sandbox.instance.workdir })
      yield* S.close(scope, Exit.void)
      const close = rec.events.find((e) => e.type === "sandbox.transport.close")
      expect(close?.attrs).toMatchObject({ agent: "scripted", malformed: 0 })
    }))

  live(
    "agent_location sandbox: the agent process itself runs in the sandbox, tools routed the same",
    () =>
      Effect.gen(function*() {
        const sandbox = yield* localSandbox
        const rec = recorder()
        const session = yield* startAgent(sandbox, rec, { location: "sandbox" })
        expect(session.location).toBe("sandbox")
        yield* session.prompt("where; write in-sandbox.txt yes; read in-sandbox.txt")
        expect(messages(rec.history)).toEqual([`agent cwd: ${sandbox.instance.workdir}`, "read in-sandbox.txt: yes"])
        expect(rec.events.find((e) => e.type === "sandbox.transport.open")?.attrs).toMatchObject({
          location: "sandbox"
        })
        const error = yield* Effect.flip(session.prompt("crash"))
        expect(error).toMatchObject({ reason: "AgentExited", exit_code: 3 })
      })
  )

  live("a terminal runs in the sandbox's workdir and reports its exit code and output", () =>
    Effect.gen(function*() {
      const sandbox = yield* localSandbox
      const rec = recorder()
      const session = yield* startAgent(sandbox, rec)
      yield* session.prompt("run pwd && echo to-err >&2 && exit 3")
      expect(messages(rec.history)).toEqual([
        `ran pwd && echo to-err >&2 && exit 3: exit 3: ${sandbox.instance.workdir}`,
        "to-err"
      ])
    }))

  live("paths outside the working directory are refused and the turn goes on", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const sandbox = yield* localSandbox
      const parent = path.dirname(sandbox.instance.workdir)
      yield* fs.writeFileString(path.join(parent, "secret.txt"), "secret")
      yield* fs.writeFileString(path.join(sandbox.hostDir, "host-secret.txt"), "host secret")
      // A symlink inside the workdir that points out of the runtime, to a host directory.
      yield* sandbox.provider.exec(sandbox.instance, { argv: ["ln", "-s", sandbox.hostDir, "link"] })
      const rec = recorder()
      const session = yield* startAgent(sandbox, rec)
      const result = yield* session.prompt(
        "read ../secret.txt; read /etc/hostname; write ../../escape.txt x; read link/host-secret.txt; write link/escape.txt x; say done"
      )
      expect(result.stop_reason).toBe("end_turn")
      const said = messages(rec.history)
      expect(said.at(-1)).toBe("done")
      expect(said.filter((m) => m.startsWith("error:"))).toHaveLength(5)
      expect(said[0]).toBe(
        `error: fs/read_text_file: ${sandbox.instance.workdir}/../secret.txt is outside the sandbox's working directory ${sandbox.instance.workdir}`
      )
      expect(said.join("\n")).not.toContain("secret\n")
      expect(yield* fs.exists(path.join(path.dirname(parent), "escape.txt"))).toBe(false)
      expect(yield* fs.exists(path.join(sandbox.hostDir, "escape.txt"))).toBe(false)
      const refused = rec.history.filter((e) => e.kind === "tool" && e.data?.["error"] !== undefined)
      expect(refused.map((e) => (e.data?.["error"] as { reason: string }).reason)).toEqual([
        "OutsideRoot",
        "OutsideRoot",
        "OutsideRoot",
        // Lexically inside; the provider sees the symlink and refuses.
        "Provider",
        "Provider"
      ])
    }))

  live("permission policy deny: the agent is refused and nothing is written", () =>
    Effect.gen(function*() {
      const sandbox = yield* localSandbox
      const rec = recorder()
      const session = yield* startAgent(sandbox, rec, { permissions: "deny" })
      yield* session.prompt("write denied.txt nope")
      expect(messages(rec.history)).toEqual(["write denied.txt not permitted"])
      const exists = yield* sandbox.provider.stat(sandbox.instance, "denied.txt").pipe(Effect.option)
      expect(Option.isNone(exists)).toBe(true)
      const decision = rec.history.find((e) => e.kind === "permission")!
      expect(decision.data).toMatchObject({ policy: "deny", decision: "reject", decided_by: "policy" })
    }))

  live("permission policy ask: the asker decides; without one the request is cancelled", () =>
    Effect.gen(function*() {
      const sandbox = yield* localSandbox
      const asked: Array<string> = []
      const rec = recorder()
      const session = yield* startAgent(sandbox, rec, {
        permissions: "ask",
        ask: (request) => Effect.sync(() => (asked.push(request.title), Option.some("allow")))
      })
      yield* session.prompt("write asked.txt yes")
      expect(asked).toEqual(["Write asked.txt"])
      expect(text(yield* sandbox.provider.readFile(sandbox.instance, "asked.txt"))).toBe("yes")
      expect(rec.history.find((e) => e.kind === "permission")?.data).toMatchObject({ decided_by: "user" })

      const rec2 = recorder()
      const session2 = yield* startAgent(sandbox, rec2, { permissions: "ask" })
      yield* session2.prompt("ask deploy")
      expect(messages(rec2.history)).toEqual(["permission deploy: cancelled"])
    }))

  live("a malformed message is recorded and the turn still completes", () =>
    Effect.gen(function*() {
      const sandbox = yield* localSandbox
      const rec = recorder()
      const scope = yield* S.make()
      const session = yield* startAgent(sandbox, rec).pipe(S.extend(scope))
      const result = yield* session.prompt("say before; garbage; say after")
      expect(result.stop_reason).toBe("end_turn")
      expect(messages(rec.history)).toEqual(["before", "after"])
      // Recorded in order: the malformed line came between the two messages.
      expect(rec.history.filter((e) => e.kind === "message" || e.kind === "error").map((e) => e.kind)).toEqual([
        "message",
        "error",
        "message"
      ])
      const error = rec.history.find((e) => e.kind === "error")
      expect(error?.text).toMatch(/^malformed message from the agent: this is not json/)
      expect(rec.events.filter((e) => e.type === "sandbox.transport.error")).toHaveLength(1)
      yield* S.close(scope, Exit.void)
      expect(rec.events.find((e) => e.type === "sandbox.transport.close")?.attrs).toMatchObject({ malformed: 1 })
    }))

  live("a malformed reply to the prompt fails the turn with a protocol error", () =>
    Effect.gen(function*() {
      const sandbox = yield* localSandbox
      const rec = recorder()
      const session = yield* startAgent(sandbox, rec)
      const error = yield* Effect.flip(session.prompt("bad-response"))
      expect(error.reason).toBe("Protocol")
      expect(error.message).toMatch(/^agent scripted: the agent's reply to session\/prompt is malformed/)
      expect(rec.history.at(-1)?.kind).toBe("error")
    }))

  live(
    "an agent that exits mid-turn ends the turn with a clear error; what it did is kept",
    () =>
      Effect.gen(function*() {
        const sandbox = yield* localSandbox
        const rec = recorder()
        const session = yield* startAgent(sandbox, rec)
        const error = yield* Effect.flip(session.prompt("write kept.txt kept; say before; crash"))
        expect(error.reason).toBe("AgentExited")
        expect(error.exit_code).toBe(3)
        expect(error.message).toBe(
          "agent scripted: the agent exited with code 3 during session/prompt (agent stderr: acp-test-agent: crashing on purpose)"
        )
        expect(messages(rec.history)).toContain("before")
        expect(rec.history.at(-1)?.kind).toBe("error")
        expect(rec.events.some((e) => e.type === "sandbox.transport.error")).toBe(true)
        expect(text(yield* sandbox.provider.readFile(sandbox.instance, "kept.txt"))).toBe("kept")
        expect(yield* session.exited).toBe(3)
      })
  )

  live("an agent command that cannot start is a Spawn error", () =>
    Effect.gen(function*() {
      const sandbox = yield* localSandbox
      const error = yield* Effect.flip(
        startAgent(sandbox, recorder(), { command: ["/nonexistent/acp-agent"] })
      )
      expect(error.reason).toBe("Spawn")
      expect(error.message).toMatch(/^agent scripted: cannot start \/nonexistent\/acp-agent/)
    }))

  live("an agent that is not an ACP agent fails at initialize with its exit code", () =>
    Effect.gen(function*() {
      const sandbox = yield* localSandbox
      const rec = recorder()
      const error = yield* Effect.flip(
        startAgent(sandbox, rec, { command: ["sh", "-c", "echo not an agent >&2; exit 2"] })
      )
      expect(error.reason).toBe("AgentExited")
      expect(error.exit_code).toBe(2)
      expect(error.message).toMatch(/during initialize \(agent stderr: not an agent\)$/)
    }))
})
