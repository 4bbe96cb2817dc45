import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Layer, Option, Queue, Ref } from "effect"
import type { HookSet } from "../src/Hooks.js"
import { HookDenied } from "../src/Hooks.js"
import { ProviderError } from "../src/SandboxError.js"
import type { Service } from "../src/SandboxProvider.js"
import { Label } from "../src/SandboxProvider.js"
import type { Session } from "../src/Session.js"
import * as SessionLifecycle from "../src/SessionLifecycle.js"
import * as Store from "../src/Store.js"
import { type SyncResult, WorkspaceSync } from "../src/WorkspaceSync.js"
import { emptyResult, eventTypes, makeProvider, profile, setup, syncLayer, workspace } from "./fixtures/lifecycle.js"

describe("SessionLifecycle", () => {
  it.effect("runs prepare → sync → setup → launch → stop, with gap-free events and the intent recorded first", () =>
    Effect.gen(function*() {
      const t = yield* setup()
      const outcome = yield* t.run({ profile: profile({ setup: ["make deps"] }) })
      expect(outcome.exit_code).toBe(0)
      expect(outcome.session.state).toBe("stopped")
      expect(t.storeSeen).toEqual(["preparing"])
      expect(t.calls).toEqual(["create", "exec:make deps", "launch:echo hi", "destroy"])
      expect(t.syncs.map((r) => r.reason)).toEqual(["start", "stop"])
      const store = yield* Store.Store
      const events = (yield* store.readEvents(outcome.session.id)).items
      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1))
      expect(events.map((e) => e.type)).toEqual([
        "session.created",
        "sandbox.prepare.start",
        "sandbox.prepare.complete",
        "sandbox.ready",
        "sandbox.sync.before",
        "sandbox.sync.after",
        "sandbox.setup.start",
        "sandbox.setup.complete",
        "sandbox.launch.start",
        "session.running",
        "sandbox.launch.complete",
        "sandbox.stop.start",
        "sandbox.sync.before",
        "sandbox.sync.after",
        "sandbox.stop.complete",
        "session.stopped"
      ])
      const syncAfter = events.filter((e) => e.type === "sandbox.sync.after")
      expect(syncAfter.map((e) => [e.attrs["direction"], e.attrs["reason"], e.attrs["files"]])).toEqual([
        ["to_runtime", "start", 3],
        ["from_runtime", "stop", 1]
      ])
      const final = yield* store.getSession(outcome.session.id)
      expect(final.sandbox.state).toBe("gone")
      expect(final.sandbox.instance_id).toBe(`mem-${final.sandbox.sandbox_id}`)
      expect(final.sandbox.sync.last_to_runtime_at).not.toBeNull()
      expect(final.sandbox.sync.last_from_runtime_at).not.toBeNull()
      const history = (yield* store.readHistory(outcome.session.id)).items
      expect(history.map((h) => [h.kind, h.text])).toEqual([["stdout", "hello\n"], ["stderr", "careful\n"]])
    }).pipe(Effect.provide(Store.layerMemory)))

  it.effect("labels every sandbox with ours, and --keep keeps it", () =>
    Effect.gen(function*() {
      const t = yield* setup()
      const outcome = yield* t.run({ keep: true })
      const s = outcome.session
      expect(s.sandbox.state).toBe("running")
      expect(t.calls).not.toContain("destroy")
      const instance = yield* t.service.get(s.sandbox.instance_id!)
      expect(instance.labels).toEqual({
        [Label.managedBy]: "sandbox-cli",
        [Label.sandboxId]: s.sandbox.sandbox_id,
        [Label.sessionId]: s.id,
        [Label.workspace]: "app",
        [Label.owner]: "dev@host",
        [Label.createdAt]: "0"
      })
      // kept on purpose: the reconciler does not take it for an orphan
      expect(s.sandbox.kept).toBe("requested")
      expect(s.workspace_path).toBe(workspace.path)
    }).pipe(Effect.provide(Store.layerMemory)))

  it.effect("a failing setup command stops the session before the agent starts and records command and output", () =>
    Effect.gen(function*() {
      const t = yield* setup()
      const outcome = yield* t.run({ profile: profile({ setup: ["true", "fail --now", "never"] }) })
      expect(outcome.session.state).toBe("failed")
      expect(outcome.exit_code).toBe(1)
      expect(t.calls).toEqual(["create", "exec:true", "exec:fail --now", "destroy"])
      expect(outcome.session.sandbox.last_error).toContain("fail --now")
      expect(outcome.session.sandbox.last_error).toContain("exited 3")
      expect(outcome.session.sandbox.last_error).toContain("boom: missing dep")
      // The agent never ran, so nothing it could have written comes back.
      expect(t.syncs.map((r) => r.reason)).toEqual(["start"])
      const types = yield* eventTypes(outcome.session.id)
      expect(types).toContain("sandbox.setup.error")
      expect(types).not.toContain("sandbox.launch.start")
      expect(types.at(-1)).toBe("session.failed")
    }).pipe(Effect.provide(Store.layerMemory)))

  it.effect("the command's exit code is the session's", () =>
    Effect.gen(function*() {
      const t = yield* setup()
      const outcome = yield* t.run({ command: ["exit", "7"] })
      expect(outcome.exit_code).toBe(7)
      expect(outcome.session.exit_code).toBe(7)
      expect(outcome.session.state).toBe("stopped")
    }).pipe(Effect.provide(Store.layerMemory)))

  it.effect("persistence: archive archives, reuse keeps and the next session reattaches to the same sandbox", () =>
    Effect.gen(function*() {
      const t = yield* setup()
      const archived = yield* t.run({ profile: profile({ persistence: "archive" }) })
      expect(t.calls.at(-1)).toBe("archive")
      expect(archived.session.sandbox.state).toBe("archived")

      const reuse = profile({ persistence: "reuse" })
      const first = yield* t.run({ profile: reuse })
      expect(first.session.sandbox.state).toBe("running")
      const before = t.calls.length
      const second = yield* t.run({ profile: reuse })
      expect(second.session.sandbox.sandbox_id).toBe(first.session.sandbox.sandbox_id)
      expect(second.session.sandbox.instance_id).toBe(first.session.sandbox.instance_id)
      expect(t.calls.slice(before)).toEqual(["get", "launch:echo hi"])
      const created = (yield* Effect.flatMap(Store.Store, (s) => s.readEvents(second.session.id))).items[0]!
      expect(created.attrs["reattach"]).toBe(true)
    }).pipe(Effect.provide(Store.layerMemory)))

  it.effect("sync_mode none moves nothing; seed syncs only at start", () =>
    Effect.gen(function*() {
      const t = yield* setup()
      yield* t.run({ profile: profile({ sync_mode: "none" }) })
      expect(t.syncs).toEqual([])
      yield* t.run({ profile: profile({ sync_mode: "seed" }) })
      expect(t.syncs.map((r) => r.reason)).toEqual(["start"])
    }).pipe(Effect.provide(Store.layerMemory)))

  it.effect("a denying prepare hook stops everything before the provider is called", () =>
    Effect.gen(function*() {
      const t = yield* setup()
      const hooks: HookSet = {
        "sandbox.prepare": () =>
          Effect.fail(new HookDenied({ hook: "sandbox.prepare", exit_code: 1, output: "over budget" }))
      }
      const outcome = yield* t.run({ hooks })
      expect(outcome.session.state).toBe("failed")
      expect(outcome.session.reason).toContain("over budget")
      expect(t.calls).toEqual([])
      expect(outcome.session.sandbox.state).toBe("gone")
    }).pipe(Effect.provide(Store.layerMemory)))

  it.effect("hooks receive the event and may add env and excludes", () =>
    Effect.gen(function*() {
      const t = yield* setup()
      const seen: Array<string> = []
      const hooks: HookSet = {
        "sandbox.prepare": (e) => Effect.sync(() => seen.push(e.type)).pipe(Effect.as({ env: { BUDGET: "10" } })),
        "sandbox.sync.before": (e) =>
          Effect.sync(() => seen.push(`${e.type}:${e["reason"]}`)).pipe(Effect.as({ exclude: ["secrets/"] })),
        "sandbox.stop": (e) => Effect.sync(() => void seen.push(e.type))
      }
      yield* t.run({ hooks })
      expect(seen).toEqual(["sandbox.prepare", "sandbox.sync.before:start", "sandbox.sync.before:stop", "sandbox.stop"])
      expect(t.syncs.every((r) => r.extra_excludes?.includes("secrets/"))).toBe(true)
    }).pipe(Effect.provide(Store.layerMemory)))

  it.effect("interruption stops the command, syncs back, cleans up and ends 130", () =>
    Effect.gen(function*() {
      const t = yield* setup()
      const created = yield* Deferred.make<string>()
      const fiber = yield* t.run({
        command: ["hang"],
        onOutput: () => Effect.void,
        onCreated: (s) => Deferred.succeed(created, s.id).pipe(Effect.asVoid)
      }).pipe(Effect.fork)
      const id = yield* Deferred.await(created)
      const store = yield* Store.Store
      // Wait for the agent to be running, through the store as another process would.
      yield* store.getSession(id).pipe(
        Effect.flatMap((s) => (s.state === "running" ? Effect.void : Effect.fail("not yet"))),
        Effect.retry({ while: () => true })
      )
      const exit = yield* Fiber.interrupt(fiber)
      expect(Exit.isInterrupted(exit)).toBe(true)
      const final = yield* store.getSession(id)
      expect(final.state).toBe("stopped")
      expect(yield* Ref.get(t.killed)).toBe(true)
      expect(t.calls.at(-1)).toBe("destroy")
      expect(t.syncs.map((r) => r.reason)).toEqual(["start", "stop"])
    }).pipe(Effect.provide(Store.layerMemory)))

  it.effect("control requests: Sync runs a checkpoint while the agent runs, Stop ends it", () =>
    Effect.gen(function*() {
      const t = yield* setup({
        result: {
          conflicts: [{
            path: "a.txt",
            host_change: "modified",
            runtime_change: "modified",
            runtime_copy: "a.txt.sandbox-conflict-x"
          }]
        }
      })
      const control = yield* Queue.unbounded<SessionLifecycle.ControlRequest>()
      const fiber = yield* t.run({ command: ["hang"], control }).pipe(Effect.fork)
      const reply = yield* Deferred.make<SyncResult, SessionLifecycle.LifecycleError>()
      yield* Queue.offer(control, { _tag: "Sync", reply })
      const result = yield* Deferred.await(reply)
      expect(result.files_from_runtime).toBe(1)
      yield* Queue.offer(control, { _tag: "Stop" })
      const outcome = yield* Fiber.join(fiber)
      expect(outcome.session.state).toBe("stopped")
      expect(outcome.exit_code).toBe(130)
      expect(t.syncs.map((r) => r.reason)).toEqual(["start", "checkpoint", "stop"])
      expect(outcome.session.sandbox.sync.conflicts).toEqual(["a.txt"])
    }).pipe(Effect.provide(Store.layerMemory)))

  it.effect("a sync-back that fails keeps the sandbox (never destroy changes that did not come home)", () =>
    Effect.gen(function*() {
      const calls: Array<string> = []
      const { service } = yield* makeProvider(calls, [])
      const failing = Layer.succeed(WorkspaceSync, {
        seed: () => Effect.succeed(emptyResult),
        sync: () =>
          Effect.fail(
            ProviderError.of({
              provider: "memory",
              operation: "getArchive",
              reason: "Unavailable",
              detail: "down",
              retryable: false
            })
          )
      })
      const outcome = yield* SessionLifecycle.run({
        workspace,
        profile: profile(),
        provider: service,
        agent: null,
        command: ["echo"],
        owner: "dev@host",
        hooks: {},
        syncStateDir: () => "/state"
      }).pipe(Effect.provide(failing))
      expect(calls).not.toContain("destroy")
      expect(outcome.session.state).toBe("failed")
      expect(outcome.session.sandbox.state).toBe("running")
      expect(outcome.session.sandbox.last_error).toContain("sync back failed")
    }).pipe(Effect.provide(Store.layerMemory)))

  it.effect("a provider that cannot create ends the session failed with the provider's reason", () =>
    Effect.gen(function*() {
      const calls: Array<string> = []
      const { service } = yield* makeProvider(calls, [])
      const broken: Service = {
        ...service,
        create: () =>
          Effect.fail(
            ProviderError.of({ provider: "memory", operation: "create", reason: "Unauthorized", detail: "bad key" })
          )
      }
      const outcome = yield* SessionLifecycle.run({
        workspace,
        profile: profile(),
        provider: broken,
        agent: null,
        command: ["echo"],
        owner: "dev@host",
        hooks: {},
        syncStateDir: () => "/state"
      }).pipe(Effect.provide(syncLayer([])))
      expect(outcome.session.state).toBe("failed")
      expect(outcome.session.reason).toContain("Unauthorized")
      expect(Option.isNone(Option.fromNullable(outcome.session.sandbox.instance_id))).toBe(true)
      const types = yield* eventTypes(outcome.session.id)
      expect(types).toEqual([
        "session.created",
        "sandbox.prepare.start",
        "sandbox.prepare.error",
        "sandbox.stop.start",
        "sandbox.stop.complete",
        "session.failed"
      ])
    }).pipe(Effect.provide(Store.layerMemory)))

  it.effect("a machine crash at any step leaves a durable record to recover from: before the provider, once the command runs, at the end", () =>
    Effect.gen(function*() {
      const t = yield* setup()
      const memory = yield* Store.Store
      // Every write as the store got it; what a machine crash leaves is the last durable one.
      const writes: Array<{ readonly durable: boolean; readonly session: Session }> = []
      const onDisk = () => writes.filter((w) => w.durable).at(-1)?.session
      const store: Store.Service = {
        ...memory,
        putSession: (s) => Effect.tap(memory.putSession(s), () => void writes.push({ durable: true, session: s })),
        updateSession: (id, f, options) =>
          Effect.tap(
            memory.updateSession(id, f, options),
            (s) => void writes.push({ durable: options?.durable ?? true, session: s })
          )
      }
      let atCreate: Session | undefined
      let atLaunch: Session | undefined
      const provider: Service = {
        ...t.service,
        create: (spec) => Effect.suspend(() => (atCreate = onDisk(), t.service.create(spec))),
        execStream: (instance, request) => (atLaunch = onDisk(), t.service.execStream(instance, request))
      }
      const outcome = yield* t.run({ provider }).pipe(Effect.provideService(Store.Store, store))
      // before the provider is called: the session and its sandbox id
      expect([atCreate?.state, atCreate?.sandbox.sandbox_id]).toEqual(["preparing", outcome.session.sandbox.sandbox_id])
      // once the command may write in the runtime: a live session whose seed is recorded, so that the reconciler
      // syncs its work back (a session without last_to_runtime_at is finished without a sync-back)
      expect([atLaunch?.state, atLaunch?.sandbox.sync.last_to_runtime_at !== null]).toEqual(["running", true])
      expect(writes.at(-1)).toEqual({ durable: true, session: outcome.session })
      expect(writes.filter((w) => w.durable).map((w) => w.session.state)).toEqual(["preparing", "running", "stopped"])
      // and only atomic in between
      expect(writes.length).toBeGreaterThan(3)
    }).pipe(Effect.provide(Store.layerMemory)))
})
