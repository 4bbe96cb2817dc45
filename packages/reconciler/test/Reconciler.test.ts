import { describe, expect, it } from "@effect/vitest"
import { WorkspaceName } from "@org/sandbox-core/Ids"
import { Label } from "@org/sandbox-core/SandboxProvider"
import * as Store from "@org/sandbox-core/Store"
import { Workspace } from "@org/sandbox-core/Workspace"
import { DateTime, Effect, Layer } from "effect"
import type { Plan } from "../src/Reconciler.js"
import * as Reconciler from "../src/Reconciler.js"
import { baseLayer, makeProvider, makeSync, OWNER, profiles, seedSession } from "./helpers.js"

const setup = (options: { alive?: Set<string> } = {}) => {
  const provider = makeProvider()
  const sync = makeSync(provider.calls)
  const alive = options.alive ?? new Set<string>()
  const reconciler = (concurrency = 4) =>
    Reconciler.make({
      owner: OWNER,
      profiles: Object.values(profiles),
      providerFor: () => Effect.succeed(provider.service),
      syncStateDir: (id) => `/state/sync/${id}`,
      concurrency
    })
  const layer = baseLayer(alive, sync.layer)
  return { provider, sync, alive, reconciler, layer }
}

const addWorkspace = Effect.gen(function*() {
  const store = yield* Store.Store
  const now = yield* DateTime.now
  yield* store.putWorkspace(
    Workspace.make({ name: WorkspaceName.make("ws"), path: "/host/ws", created_at: now, updated_at: now })
  )
})

const decisions = (plan: Plan) =>
  plan.report.actions.map((a) => [a.session_id ?? a.instance_id, a.decision, a.apply, a.sync_back])

const eventTypes = (id: string) =>
  Effect.flatMap(Store.Store, (store) => store.readEvents(id)).pipe(Effect.map((l) => l.items.map((e) => e.type)))

describe("Reconciler", () => {
  it.scoped("finishes a cut-off session by its policy: sync back, destroy, crashed with the reason, events", () => {
    const t = setup()
    return Effect.gen(function*() {
      yield* addWorkspace
      const { instance, session } = yield* seedSession(t.provider, { state: "running" })
      const reconciler = yield* t.reconciler()
      const plan = yield* reconciler.plan()
      expect(decisions(plan)).toEqual([[session.id, "finish", "destroy", true]])
      expect(plan.report.actions[0]!.reason).toContain("supervisor pid 4242 is not running while running")
      // planning changes nothing
      expect(t.provider.instances.has(instance!.instance_id)).toBe(true)
      expect(t.sync.requests).toHaveLength(0)

      const report = yield* reconciler.act(plan)
      expect(report.actions.map((a) => [a.status, a.session_state, a.sandbox_state])).toEqual([[
        "done",
        "crashed",
        "gone"
      ]])
      expect(t.provider.instances.has(instance!.instance_id)).toBe(false)
      expect(t.sync.requests.map((r) => [r.reason, r.host_root])).toEqual([["crash", "/host/ws"]])
      const store = yield* Store.Store
      const after = yield* store.getSession(session.id)
      expect(after.state).toBe("crashed")
      expect(after.reason).toContain("supervisor pid 4242 is not running")
      expect(after.ended_at).not.toBeNull()
      expect(after.sandbox.state).toBe("gone")
      expect(after.sandbox.sync.files_from_runtime).toBe(2)
      expect(yield* eventTypes(session.id)).toEqual([
        "sandbox.reconcile.start",
        "sandbox.sync.before",
        "sandbox.sync.after",
        "session.crashed",
        "sandbox.reconcile.complete"
      ])

      // idempotent: a second run finds nothing to do
      const again = yield* reconciler.plan()
      expect(again.report.actions).toEqual([])
    }).pipe(Effect.provide(t.layer))
  })

  it.scoped("decides every case with a reason", () => {
    const t = setup()
    return Effect.gen(function*() {
      yield* addWorkspace
      const reuse = yield* seedSession(t.provider, { state: "running", profile: profiles.reuse })
      const archive = yield* seedSession(t.provider, { state: "stopping", profile: profiles.archive })
      const unseeded = yield* seedSession(t.provider, { state: "syncing", seeded: false })
      const seedMode = yield* seedSession(t.provider, { state: "running", profile: profiles.seedOnly })
      const neverCreated = yield* seedSession(t.provider, { state: "preparing", instance: false, seeded: false })
      const unrecorded = yield* seedSession(t.provider, { state: "preparing", recorded: false, seeded: false })
      const live = yield* seedSession(t.provider, { state: "running" })
      t.alive.add(live.session.id)
      const other = yield* seedSession(t.provider, { state: "running", owner: "them@there" })
      const endedTransient = yield* seedSession(t.provider, { state: "stopped", sandboxState: "running" })
      const endedReuse = yield* seedSession(t.provider, { state: "stopped", profile: profiles.reuse })
      const endedArchive = yield* seedSession(t.provider, { state: "failed", profile: profiles.archive })
      const archived = yield* seedSession(t.provider, {
        state: "stopped",
        profile: profiles.archive,
        instanceState: "archived"
      })
      const vanished = yield* seedSession(t.provider, { state: "stopped", profile: profiles.reuse })
      t.provider.instances.delete(vanished.instance!.instance_id)
      const stray = t.provider.add({
        id: "stray",
        labels: { [Label.managedBy]: "sandbox-cli", [Label.sandboxId]: "sbx_strayxxxxxxxx", [Label.owner]: OWNER }
      })
      t.provider.add({
        id: "foreign",
        labels: {
          [Label.managedBy]: "sandbox-cli",
          [Label.sandboxId]: "sbx_foreignxxxxxx",
          [Label.owner]: "them@there"
        }
      })

      const reconciler = yield* t.reconciler()
      const plan = yield* reconciler.plan()
      const byKey = new Map(plan.report.actions.map((a) => [a.session_id ?? a.instance_id, a]))
      const expectDecision = (key: string, decision: string, apply: string | null, sync_back = false) =>
        expect([byKey.get(key)?.decision, byKey.get(key)?.apply, byKey.get(key)?.sync_back], key).toEqual([
          decision,
          apply,
          sync_back
        ])
      expectDecision(reuse.session.id, "reattach", "keep", true)
      expectDecision(archive.session.id, "finish", "archive", true)
      expectDecision(unseeded.session.id, "finish", "destroy")
      expectDecision(seedMode.session.id, "finish", "destroy")
      expectDecision(neverCreated.session.id, "forget", null)
      expectDecision(unrecorded.session.id, "finish", "destroy")
      expect(byKey.get(unrecorded.session.id)?.instance_id).toBe(unrecorded.instance!.instance_id)
      expect(byKey.has(live.session.id)).toBe(false)
      expectDecision(other.session.id, "skip", null)
      expect(byKey.get(other.session.id)?.reason).toContain("--all-owners")
      expectDecision(endedTransient.session.id, "destroy", "destroy", true)
      expect(byKey.has(endedReuse.session.id)).toBe(false)
      expectDecision(endedArchive.session.id, "archive", "archive", true)
      expect(byKey.has(archived.session.id)).toBe(false)
      expectDecision(vanished.session.id, "forget", null)
      expectDecision(stray.instance_id, "destroy", "destroy")
      // the listing asked for our owner only, so the foreign orphan was not even seen
      expect(byKey.has("foreign")).toBe(false)
      expect(plan.report.live).toBe(1)
      expect(plan.report.kept).toBe(2)
      // one listing for all the profiles that point at the same place
      expect(t.provider.requests.get("list")).toBe(1)

      const report = yield* reconciler.act(plan)
      expect(report.actions.filter((a) => a.status !== "done" && a.decision !== "skip")).toEqual([])
      const store = yield* Store.Store
      expect((yield* store.getSession(reuse.session.id)).state).toBe("crashed")
      // kept for the next session, but stopped: the cut-off session's agent must not run on into it
      expect((yield* store.getSession(reuse.session.id)).sandbox.state).toBe("stopped")
      // the agent stops before the sync-back (which starts the sandbox again to read it), and it stays stopped
      const reuseId = reuse.instance!.instance_id
      expect(t.provider.calls.filter((c) => c.endsWith(` ${reuseId}`))).toEqual(
        ["stop", "start", "sync", "stop"].map((op) => `${op} ${reuseId}`)
      )
      const archiveId = archive.instance!.instance_id
      expect(t.provider.calls.filter((c) => c.endsWith(` ${archiveId}`))).toEqual(
        ["stop", "start", "sync", "archive"].map((op) => `${op} ${archiveId}`)
      )
      // with nothing to bring home, a sandbox to destroy is destroyed straight away
      expect(t.provider.requests.get("stop")).toBe(3)
      expect((yield* store.getSession(unrecorded.session.id)).sandbox.instance_id).toBe(
        unrecorded.instance!.instance_id
      )
      expect((yield* store.getSession(neverCreated.session.id)).state).toBe("crashed")
      expect((yield* store.getSession(vanished.session.id)).sandbox.state).toBe("gone")
      expect((yield* store.getSession(live.session.id)).state).toBe("running")
      expect((yield* store.getSession(other.session.id)).state).toBe("running")
      expect([...t.provider.instances.keys()].sort()).toEqual(
        [
          reuse.instance!.instance_id,
          archive.instance!.instance_id,
          live.instance!.instance_id,
          other.instance!.instance_id,
          endedReuse.instance!.instance_id,
          endedArchive.instance!.instance_id,
          archived.instance!.instance_id,
          "foreign"
        ].sort()
      )
      expect(t.provider.instances.get(archive.instance!.instance_id)?.state).toBe("archived")
      // one action request per orphan
      expect(t.provider.requests.get("destroy")).toBe(5)
      expect(t.provider.requests.get("get")).toBe(undefined)

      const again = yield* reconciler.plan()
      expect(again.report.actions.map((a) => a.decision)).toEqual(["skip"])
    }).pipe(Effect.provide(t.layer))
  })

  it.scoped("--all-owners includes other hosts; prune only removes orphans", () => {
    const t = setup()
    return Effect.gen(function*() {
      const cut = yield* seedSession(t.provider, { state: "running" })
      t.provider.add({
        id: "foreign",
        labels: {
          [Label.managedBy]: "sandbox-cli",
          [Label.sandboxId]: "sbx_foreignxxxxxx",
          [Label.owner]: "them@there"
        }
      })
      t.provider.add({
        id: "mine",
        labels: { [Label.managedBy]: "sandbox-cli", [Label.sandboxId]: "sbx_minexxxxxxxxx", [Label.owner]: OWNER }
      })
      const reconciler = yield* t.reconciler()
      const prune = yield* reconciler.plan({ scope: "orphans" })
      expect(decisions(prune)).toEqual([["mine", "destroy", "destroy", false]])
      const pruneAll = yield* reconciler.plan({ scope: "orphans", all_owners: true })
      expect(decisions(pruneAll)).toEqual([["foreign", "destroy", "destroy", false], [
        "mine",
        "destroy",
        "destroy",
        false
      ]])
      yield* reconciler.act(pruneAll)
      expect([...t.provider.instances.keys()]).toEqual([cut.instance!.instance_id])
      const none = yield* reconciler.plan({ backend: "elsewhere" })
      expect(none.report.actions).toEqual([])
      expect(none.report.warnings).toEqual(["no configured profile uses backend elsewhere"])
    }).pipe(Effect.provide(t.layer))
  })

  it.scoped("a failed sync-back keeps the sandbox and still ends the session crashed, with why", () => {
    const t = setup()
    return Effect.gen(function*() {
      yield* addWorkspace
      const { instance, session } = yield* seedSession(t.provider, { state: "running" })
      t.sync.failing.add(session.sandbox.sandbox_id)
      const reconciler = yield* t.reconciler()
      const report = yield* reconciler.act(yield* reconciler.plan())
      expect(report.actions[0]!.status).toBe("failed")
      expect(report.actions[0]!.detail).toContain("sync back failed")
      expect(t.provider.instances.has(instance!.instance_id)).toBe(true)
      const after = yield* (yield* Store.Store).getSession(session.id)
      expect(after.state).toBe("crashed")
      expect(after.reason).toContain("sandbox kept instead of destroy")
      expect(after.sandbox.kept).toBe("unsynced")
      expect(yield* eventTypes(session.id)).toContain("sandbox.reconcile.error")
      // prune refuses it: its work is not home
      const prune = yield* reconciler.plan({ scope: "orphans" })
      expect(prune.report.actions.map((a) => [a.decision, a.apply])).toEqual([["skip", null]])
      expect(prune.report.actions[0]!.reason).toContain("prune --discard")
      // the next run retries the sync-back of the ended session, and finishes it once the runtime answers
      t.sync.failing.clear()
      const next = yield* reconciler.act(yield* reconciler.plan())
      expect(next.actions.map((a) => [a.decision, a.status, a.sync_back])).toEqual([["finish", "done", true]])
      expect(t.provider.instances.has(instance!.instance_id)).toBe(false)
      expect((yield* (yield* Store.Store).getSession(session.id)).sandbox.kept).toBeUndefined()
    }).pipe(Effect.provide(t.layer))
  })

  it.scoped("two reconcilers acting on the same plans at once act on each sandbox once", () => {
    const t = setup()
    return Effect.gen(function*() {
      yield* addWorkspace
      for (let i = 0; i < 6; i++) yield* seedSession(t.provider, { state: i % 2 === 0 ? "running" : "stopped" })
      const reconciler = yield* t.reconciler(2)
      const [a, b] = [yield* reconciler.plan(), yield* reconciler.plan()]
      const [ra, rb] = yield* Effect.all([reconciler.act(a), reconciler.act(b)], { concurrency: 2 })
      const done = [...ra.actions, ...rb.actions].filter((x) => x.status === "done")
      expect(done).toHaveLength(6)
      expect([...ra.actions, ...rb.actions].filter((x) => x.status === "failed")).toEqual([])
      expect(t.provider.requests.get("destroy")).toBe(6)
      expect(t.provider.instances.size).toBe(0)
    }).pipe(Effect.provide(t.layer))
  })

  it.scoped("the start-up scope looks only at the given sessions, without listing", () => {
    const t = setup()
    return Effect.gen(function*() {
      const a = yield* seedSession(t.provider, { state: "running", seeded: false })
      const b = yield* seedSession(t.provider, { state: "running", seeded: false })
      const c = yield* seedSession(t.provider, { state: "preparing", recorded: false, seeded: false })
      t.provider.add({
        id: "stray",
        labels: { [Label.managedBy]: "sandbox-cli", [Label.sandboxId]: "sbx_strayxxxxxxxx", [Label.owner]: OWNER }
      })
      const reconciler = yield* t.reconciler()
      const plan = yield* reconciler.plan({ scope: { sessions: [a.session.id, c.session.id] } })
      expect(decisions(plan)).toEqual(
        [[a.session.id, "finish", "destroy", false], [c.session.id, "finish", "destroy", false]].sort((x, y) =>
          (x[0] === a.session.id ? a.session.sandbox.sandbox_id : c.session.sandbox.sandbox_id).localeCompare(
            y[0] === a.session.id ? a.session.sandbox.sandbox_id : c.session.sandbox.sandbox_id
          )
        )
      )
      expect(t.provider.requests.get("list")).toBe(1) // c's sandbox, by its label
      expect(t.provider.requests.get("get")).toBe(1) // a's sandbox, by its id
      yield* reconciler.act(plan)
      expect([...t.provider.instances.keys()].sort()).toEqual([b.instance!.instance_id, "stray"].sort())
    }).pipe(Effect.provide(t.layer))
  })
})

describe("Reconciler layer", () => {
  it.scoped("builds as a layer", () => {
    const t = setup()
    return Effect.gen(function*() {
      const reconciler = yield* Reconciler.Reconciler
      const plan = yield* reconciler.plan()
      expect(plan.report.actions).toEqual([])
    }).pipe(
      Effect.provide(
        Reconciler.layer({
          owner: OWNER,
          profiles: [profiles.transient],
          providerFor: () => Effect.succeed(t.provider.service),
          syncStateDir: (id) => id
        }).pipe(Layer.provideMerge(t.layer))
      )
    )
  })
})
