/**
 * The session state machine and the one end-of-session rule (sync back → verify → persistence).
 */
import { describe, expect, it } from "@effect/vitest"
import { DateTime, Effect, Either, Fiber, Queue } from "effect"
import * as Ids from "../src/Ids.js"
import {
  conflictsAfterSync,
  SandboxRecord,
  Session,
  SessionState,
  SyncStatus,
  transition,
  transitions
} from "../src/Session.js"
import * as SessionLifecycle from "../src/SessionLifecycle.js"
import * as Store from "../src/Store.js"
import { eventTypes, profile, setup } from "./fixtures/lifecycle.js"

const session = (state: SessionState) =>
  Session.make({
    id: Ids.SessionId.make("ses_machine0001"),
    workspace: "app",
    agent: null,
    command: ["true"],
    state,
    created_at: DateTime.unsafeMake(0),
    updated_at: DateTime.unsafeMake(0),
    ended_at: null,
    exit_code: null,
    reason: null,
    owner: "dev@host",
    sandbox: SandboxRecord.make({
      sandbox_id: Ids.SandboxId.make("sbx_machine0001"),
      backend: "local",
      profile: "local",
      instance_id: null,
      state: "pending",
      provider_state: null,
      sync: SyncStatus.empty,
      last_error: null
    })
  })

describe("the session state machine", () => {
  it("allows exactly the table's transitions and refuses every other", () => {
    const states = SessionState.literals
    for (const from of states) {
      for (const to of states) {
        const moved = transition(session(from), to)
        expect(Either.isRight(moved), `${from} → ${to}`).toBe(transitions[from].includes(to))
      }
    }
    // the happy path and the crash path exist; final states go nowhere
    expect(Either.isRight(transition(session("running"), "stopping"))).toBe(true)
    expect(Either.isRight(transition(session("syncing"), "crashed"))).toBe(true)
    const refused = transition(session("crashed"), "stopped")
    expect(Either.isLeft(refused) && refused.left.message).toBe(
      "session ses_machine0001 cannot go from crashed to stopped"
    )
    expect(Either.isLeft(transition(session("running"), "syncing"))).toBe(true)
    expect(Either.isLeft(transition(session("stopping"), "running"))).toBe(true)
  })
})

describe("the end of a session", () => {
  it.effect("a sync-back that left work behind keeps the sandbox and ends the session failed, one line per kind", () =>
    Effect.gen(function*() {
      const t = yield* setup({
        result: {
          left_behind: [
            { path: "a\nb", kind: "name", reason: "a newline in the name" },
            { path: "c\nd", kind: "name", reason: "a newline in the name" },
            { path: "fifo", kind: "special", reason: "a FIFO" }
          ]
        }
      })
      const outcome = yield* t.run({})
      expect(t.calls).not.toContain("destroy")
      expect(outcome.session.state).toBe("failed")
      expect(outcome.exit_code).toBe(1)
      expect(outcome.session.sandbox.state).toBe("running")
      expect(outcome.session.sandbox.kept).toBe("unsynced")
      expect(outcome.left_behind).toEqual([
        "left behind in the sandbox: 2 paths (names the sync refuses), e.g. \"a\\nb\": a newline in the name",
        "left behind in the sandbox: 1 path (special files (FIFOs, sockets, devices)), e.g. \"fifo\": a FIFO"
      ])
      expect(t.forgotten).toEqual([])
    }).pipe(Effect.provide(Store.layerMemory)))

  it.effect("a destroyed sandbox's sync state is forgotten; a kept one's is not", () =>
    Effect.gen(function*() {
      const t = yield* setup()
      const destroyed = yield* t.run({})
      expect(destroyed.session.sandbox.state).toBe("gone")
      expect(t.forgotten).toEqual([`/state/sync/${destroyed.session.sandbox.sandbox_id}`])
      yield* t.run({ profile: profile({ persistence: "reuse" }) })
      expect(t.forgotten).toHaveLength(1)
    }).pipe(Effect.provide(Store.layerMemory)))

  it.effect("a provider defect (text instead of bytes) ends the session failed with exit 70, its output kept", () =>
    Effect.gen(function*() {
      const t = yield* setup()
      const shown: Array<string> = []
      const outcome = yield* t.run({
        command: ["text"],
        onOutput: (_, data) => Effect.sync(() => void shown.push(new TextDecoder().decode(data)))
      })
      expect(outcome.session.state).toBe("failed")
      expect(outcome.exit_code).toBe(70)
      expect(outcome.session.reason).toContain("yielded string instead of bytes on stdout")
      expect(shown).toEqual(["plain text\n"])
      const history = yield* (yield* Store.Store).readHistory(outcome.session.id)
      expect(history.items.map((h) => h.text)).toEqual(["plain text\n"])
      expect(yield* eventTypes(outcome.session.id)).toContain("session.failed")
    }).pipe(Effect.provide(Store.layerMemory)))

  it.effect("a session another process finished meanwhile keeps how it ended; its sandbox is left alone", () =>
    Effect.gen(function*() {
      const t = yield* setup()
      const store = yield* Store.Store
      const control = yield* Queue.unbounded<SessionLifecycle.ControlRequest>()
      let id = ""
      const fiber = yield* t.run({
        command: ["hang"],
        control,
        onCreated: (s) => Effect.sync(() => void (id = s.id))
      }).pipe(Effect.fork)
      yield* Effect.suspend((): Effect.Effect<Session, unknown> =>
        id === "" ? Effect.fail("not yet") : store.getSession(id)
      ).pipe(
        Effect.flatMap((s) => (s.state === "running" ? Effect.void : Effect.fail("not yet"))),
        Effect.tapError(() => Effect.yieldNow()),
        Effect.retry({ while: () => true })
      )
      // the reconciler, while this process was paused, took it for crashed and finished it
      yield* store.updateSession(id, (s) => Either.getOrThrow(transition(s, "crashed", { reason: "taken for dead" })))
      yield* Queue.offer(control, { _tag: "Stop" })
      const outcome = yield* Fiber.join(fiber)
      expect(outcome.session.state).toBe("crashed")
      expect((yield* store.getSession(id)).reason).toBe("taken for dead")
      expect(outcome.exit_code).toBe(1)
      expect(t.calls).not.toContain("destroy")
    }).pipe(Effect.provide(Store.layerMemory)))
})

describe("reuse", () => {
  it.effect("a kept sandbox that vanished is noticed and replaced by a fresh one, with an event", () =>
    Effect.gen(function*() {
      const t = yield* setup()
      const reuse = profile({ persistence: "reuse" })
      const first = yield* t.run({ profile: reuse })
      const kept = yield* t.service.get(first.session.sandbox.instance_id!)
      yield* t.service.destroy(kept)
      const second = yield* t.run({ profile: reuse })
      expect([second.session.state, second.exit_code]).toEqual(["stopped", 0])
      expect(t.calls.filter((c) => c === "create")).toHaveLength(2)
      expect(yield* eventTypes(second.session.id)).toContain("sandbox.replaced")
      // and the one after reattaches to the replacement
      const third = yield* t.run({ profile: reuse })
      expect(third.session.sandbox.instance_id).toBe(second.session.sandbox.instance_id)
      expect(t.calls.filter((c) => c === "create")).toHaveLength(2)
    }).pipe(Effect.provide(Store.layerMemory)))

  it.effect("two live sessions of one workspace never share its reusable sandbox: the later one is refused", () =>
    Effect.gen(function*() {
      const t = yield* setup()
      const store = yield* Store.Store
      const reuse = profile({ persistence: "reuse" })
      yield* t.run({ profile: reuse })
      const control = yield* Queue.unbounded<SessionLifecycle.ControlRequest>()
      let id = ""
      const fiber = yield* t.run({
        profile: reuse,
        command: ["hang"],
        control,
        onCreated: (s) => Effect.sync(() => void (id = s.id))
      }).pipe(Effect.fork)
      yield* Effect.suspend((): Effect.Effect<Session, unknown> =>
        id === "" ? Effect.fail("not yet") : store.getSession(id)
      ).pipe(
        Effect.flatMap((s) => (s.state === "running" ? Effect.void : Effect.fail("not yet"))),
        Effect.tapError(() => Effect.yieldNow()),
        Effect.retry({ while: () => true })
      )
      const refused = yield* t.run({ profile: reuse })
      expect(refused.session.state).toBe("failed")
      expect(refused.session.reason).toContain(`is in use by session ${id} (running)`)
      // it never touched the sandbox, and does not record it as gone
      expect(refused.session.sandbox.state).toBe("running")
      expect(t.calls.filter((c) => c === "destroy" || c === "create")).toEqual(["create"])
      yield* Queue.offer(control, { _tag: "Stop" })
      expect((yield* Fiber.join(fiber)).session.state).toBe("stopped")
    }).pipe(Effect.provide(Store.layerMemory)))
})

describe("conflictsAfterSync: the session's unresolved conflicts after a sync", () => {
  it("a full sync's report is the list: what it read and did not report is settled", () => {
    expect(conflictsAfterSync(["a.txt", "d/b.txt"], ["d/b.txt", "c.txt"])).toEqual(["d/b.txt", "c.txt"])
    expect(conflictsAfterSync(["a.txt"], [])).toEqual([])
  })
  it("a scoped sync settles only what its scope covers (each path with its subtree)", () => {
    const recorded = ["a.txt", "d/b.txt", "e/c.txt", "dd.txt"]
    expect(conflictsAfterSync(recorded, [], ["d", "a.txt"])).toEqual(["e/c.txt", "dd.txt"])
    expect(conflictsAfterSync(recorded, ["e/c.txt", "n.txt"], ["e"])).toEqual([
      "a.txt",
      "d/b.txt",
      "dd.txt",
      "e/c.txt",
      "n.txt"
    ])
    expect(conflictsAfterSync(recorded, [], ["."])).toEqual([])
  })
})
