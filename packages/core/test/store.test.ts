import { FileSystem, Path } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { addEqualityTesters, describe, expect, it, layer, type Vitest } from "@effect/vitest"
import { DateTime, Effect, Either, Schema, TestServices } from "effect"
import type { EventInput } from "../src/Event.js"
import * as Ids from "../src/Ids.js"
import { StoreError } from "../src/SandboxError.js"
import { SandboxRecord, Session, SyncStatus } from "../src/Session.js"
import * as Store from "../src/Store.js"
import { Workspace } from "../src/Workspace.js"

// Compare records with Effect's Equal (DateTime, Schema classes) instead of object identity.
addEqualityTesters()

const at = (iso: string) => DateTime.unsafeMake(iso)

const workspace = (name: string, path = `/home/dev/${name}`) =>
  Workspace.make({
    name: Ids.WorkspaceName.make(name),
    path,
    sandbox: Ids.ProfileName.make("local"),
    created_at: at("2025-03-01T10:00:00.000Z"),
    updated_at: at("2025-03-01T10:00:00.000Z")
  })

const sessionId = (n: number) => Ids.SessionId.make(`ses_${String(n).padStart(20, "0")}`)
const sandboxId = Ids.SandboxId.make("sbx_00000000000000000001")

const session = (id: Ids.SessionId) =>
  Session.make({
    id,
    workspace: "api",
    agent: null,
    command: ["npm", "test"],
    state: "preparing",
    created_at: at("2025-03-01T10:00:00.000Z"),
    updated_at: at("2025-03-01T10:00:00.000Z"),
    ended_at: null,
    exit_code: null,
    reason: null,
    owner: "dev@laptop",
    sandbox: SandboxRecord.make({
      sandbox_id: sandboxId,
      backend: "local",
      profile: "local",
      instance_id: null,
      state: "pending",
      provider_state: null,
      sync: SyncStatus.empty,
      last_error: null
    })
  })

const event = (
  id: Ids.SessionId,
  type: EventInput["type"] = "sandbox.prepare.start",
  attrs?: Record<string, unknown>
): EventInput => ({
  session_id: id,
  sandbox_id: sandboxId,
  type,
  ...(attrs ? { attrs } : {})
})

const reasonOf = <A>(result: Either.Either<A, StoreError>) => Either.isLeft(result) ? result.left.reason : "succeeded"

/** A file store in a fresh temp dir that is removed with the test's scope. */
const fileStore = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const root = yield* fs.makeTempDirectoryScoped({ prefix: "core-store-" })
  const store = yield* Effect.provide(Store.Store, Store.layer(root))
  return { root, store }
})

/**
 * Behaviour every store layer shares, run once per layer (as unstorage runs one suite for every driver).
 */
const sharedSuite = <R>(
  it: { readonly scoped: Vitest.Tester<R> },
  makeStore: Effect.Effect<Store.Service, unknown, R>
) => {
  it.scoped("adds, gets, lists and removes workspaces", () =>
    Effect.gen(function*() {
      const store = yield* makeStore
      yield* store.addWorkspace(workspace("web"))
      yield* store.addWorkspace(workspace("api"))
      expect(yield* store.getWorkspace("api")).toEqual(workspace("api"))
      const listed = yield* store.listWorkspaces
      expect(listed.items.map((w) => w.name)).toEqual(["api", "web"])
      expect(listed.quarantined).toEqual([])
      yield* store.removeWorkspace("api")
      expect((yield* store.listWorkspaces).items.map((w) => w.name)).toEqual(["web"])
      expect(reasonOf(yield* Effect.either(store.getWorkspace("api")))).toBe("NotFound")
      expect(reasonOf(yield* Effect.either(store.removeWorkspace("api")))).toBe("NotFound")
    }))

  it.scoped("addWorkspace refuses a taken name and keeps the first record", () =>
    Effect.gen(function*() {
      const store = yield* makeStore
      yield* store.addWorkspace(workspace("api", "/first"))
      const error = yield* Effect.flip(store.addWorkspace(workspace("api", "/second")))
      expect(error).toBeInstanceOf(StoreError)
      expect(error.reason).toBe("AlreadyExists")
      expect((yield* store.getWorkspace("api")).path).toBe("/first")
      // putWorkspace is the way to replace one
      yield* store.putWorkspace(workspace("api", "/second"))
      expect((yield* store.getWorkspace("api")).path).toBe("/second")
    }))

  it.scoped("puts, gets, updates and lists sessions", () =>
    Effect.gen(function*() {
      const store = yield* makeStore
      const id = sessionId(1)
      yield* store.putSession(session(id))
      expect(yield* store.getSession(id)).toEqual(session(id))
      const updated = yield* store.updateSession(id, (s) =>
        Session.make({
          ...s,
          state: "stopped",
          exit_code: 3,
          ended_at: at("2025-03-01T11:00:00.000Z"),
          sandbox: SandboxRecord.make({ ...s.sandbox, instance_id: "inst-9", state: "gone" })
        }))
      expect(updated.state).toBe("stopped")
      const read = yield* store.getSession(id)
      expect(read).toEqual(updated)
      expect(read.exit_code).toBe(3)
      expect(read.sandbox.instance_id).toBe("inst-9")
      yield* store.putSession(session(sessionId(2)))
      expect((yield* store.listSessions).items.map((s) => s.id)).toEqual([sessionId(1), sessionId(2)])
      expect(reasonOf(yield* Effect.either(store.getSession(sessionId(3))))).toBe("NotFound")
      expect(reasonOf(yield* Effect.either(store.updateSession(sessionId(3), (s) => s)))).toBe("NotFound")
    }))

  it.scoped("numbers events gap-free per session and reads them after a seq", () =>
    Effect.gen(function*() {
      const store = yield* makeStore
      const a = sessionId(1)
      const b = sessionId(2)
      const first = yield* store.appendEvent(event(a, "session.created", { workspace: "api" }))
      expect(first.seq).toBe(1)
      expect(first.attrs).toEqual({ workspace: "api" })
      expect((yield* store.appendEvent(event(a, "sandbox.prepare.start"))).seq).toBe(2)
      expect((yield* store.appendEvent(event(b, "session.created"))).seq).toBe(1)
      expect((yield* store.appendEvent(event(a, "sandbox.prepare.complete"))).seq).toBe(3)
      const all = yield* store.readEvents(a)
      expect(all.items.map((e) => [e.seq, e.type])).toEqual([
        [1, "session.created"],
        [2, "sandbox.prepare.start"],
        [3, "sandbox.prepare.complete"]
      ])
      expect(all.items[0]).toEqual(first)
      expect(all.quarantined).toEqual([])
      expect((yield* store.readEvents(a, { afterSeq: 1 })).items.map((e) => e.seq)).toEqual([2, 3])
      expect((yield* store.readEvents(a, { afterSeq: 3 })).items).toEqual([])
      expect((yield* store.readEvents(b)).items.map((e) => e.seq)).toEqual([1])
      expect((yield* store.readEvents(sessionId(9))).items).toEqual([])
    }))
}

describe("Store.layerMemory", () => {
  sharedSuite(it, Effect.provide(Store.Store, Store.layerMemory))

  it.effect("reports :memory: as its root", () =>
    Effect.map(Effect.provide(Store.Store, Store.layerMemory), (store) => expect(store.root).toBe(":memory:")))
})

layer(NodeContext.layer)("Store.layer (files)", (it) => {
  sharedSuite(it, Effect.map(fileStore, ({ store }) => store))

  it.scoped("keeps one JSON document per record under the root", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const { root, store } = yield* fileStore
      expect(store.root).toBe(root)
      yield* store.addWorkspace(workspace("api"))
      yield* store.putSession(session(sessionId(1)))
      const onDisk = JSON.parse(yield* fs.readFileString(path.join(root, "workspaces", "api.json")))
      expect(onDisk).toEqual({
        name: "api",
        path: "/home/dev/api",
        sandbox: "local",
        created_at: "2025-03-01T10:00:00.000Z",
        updated_at: "2025-03-01T10:00:00.000Z"
      })
      const sessionOnDisk = JSON.parse(yield* fs.readFileString(path.join(root, "sessions", `${sessionId(1)}.json`)))
      expect(sessionOnDisk.sandbox.sandbox_id).toBe(sandboxId)
      // every write went through a temp file that is gone afterwards
      expect(yield* fs.readDirectory(path.join(root, "workspaces"))).toEqual(["api.json"])
      expect(yield* fs.readDirectory(path.join(root, "sessions"))).toEqual([`${sessionId(1)}.json`])
    }))

  it.scoped("refuses names that are not safe file names", () =>
    Effect.gen(function*() {
      const { store } = yield* fileStore
      expect(reasonOf(yield* Effect.either(store.getWorkspace("../etc/passwd")))).toBe("NotFound")
      expect(reasonOf(yield* Effect.either(store.removeWorkspace("a/b")))).toBe("NotFound")
    }))

  it.scoped("ignores a writer's leftover temp file and removes it once it is old", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const { root, store } = yield* fileStore
      yield* store.addWorkspace(workspace("api"))
      const fresh = path.join(root, "workspaces", "foo.json.tmp-abc")
      const old = path.join(root, "workspaces", "bar.json.tmp-def")
      yield* fs.writeFileString(fresh, `{"name":"foo"`)
      yield* fs.writeFileString(old, `{"name":"bar"`)
      const hourAgo = new Date(Date.now() - 60 * 60 * 1000)
      yield* fs.utimes(old, hourAgo, hourAgo)
      const listed = yield* store.listWorkspaces
      expect(listed.items.map((w) => w.name)).toEqual(["api"])
      expect(listed.quarantined).toEqual([])
      // a fresh one may belong to a writer that is still running
      expect(yield* fs.exists(fresh)).toBe(true)
      expect(yield* fs.exists(old)).toBe(false)
      expect(yield* fs.readDirectory(path.join(root, "quarantine"))).toEqual([])
    }))

  it.scoped("quarantines a corrupt workspace record and still lists the others", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const { root, store } = yield* fileStore
      yield* store.addWorkspace(workspace("api"))
      yield* store.addWorkspace(workspace("web"))
      const truncated = `{"name":"broken","path":"/home/de`
      const invalid = JSON.stringify({ name: "nameless", path: 42 })
      const brokenFile = path.join(root, "workspaces", "broken.json")
      const invalidFile = path.join(root, "workspaces", "invalid.json")
      yield* fs.writeFileString(brokenFile, truncated)
      yield* fs.writeFileString(invalidFile, invalid)

      const listed = yield* store.listWorkspaces
      expect(listed.items.map((w) => w.name)).toEqual(["api", "web"])
      expect(listed.quarantined.map((q) => q.path)).toEqual([brokenFile, invalidFile])
      for (const q of listed.quarantined) {
        expect(path.dirname(q.moved_to)).toBe(path.join(root, "quarantine"))
        expect(q.reason).not.toBe("")
        expect(yield* fs.exists(q.path)).toBe(false)
      }
      expect(yield* fs.readFileString(listed.quarantined[0]!.moved_to)).toBe(truncated)
      expect(yield* fs.readFileString(listed.quarantined[1]!.moved_to)).toBe(invalid)

      // reported once: the next listing is clean
      const again = yield* store.listWorkspaces
      expect(again.items.map((w) => w.name)).toEqual(["api", "web"])
      expect(again.quarantined).toEqual([])
    }))

  it.scoped("getWorkspace on a corrupt record fails with Corrupt and moves it aside", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const { root, store } = yield* fileStore
      const file = path.join(root, "workspaces", "api.json")
      yield* fs.writeFileString(file, `{"name":"api",`)
      const error = yield* Effect.flip(store.getWorkspace("api"))
      expect(error.reason).toBe("Corrupt")
      expect(error.path).toBe(file)
      expect(error.message).not.toContain("\n")
      expect(yield* fs.exists(file)).toBe(false)
      const moved = yield* fs.readDirectory(path.join(root, "quarantine"))
      expect(moved).toHaveLength(1)
      expect(error.detail).toBe(`corrupt workspace record moved to ${path.join(root, "quarantine", moved[0]!)}`)
      expect(yield* fs.readFileString(path.join(root, "quarantine", moved[0]!))).toBe(`{"name":"api",`)
      // the name is free again
      yield* store.addWorkspace(workspace("api"))
      expect((yield* store.getWorkspace("api")).name).toBe("api")
    }))

  it.scoped("a record corrupted twice keeps both copies in quarantine", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const { root, store } = yield* fileStore
      const file = path.join(root, "workspaces", "api.json")
      // the test clock does not move, so both quarantines happen at the same instant
      yield* fs.writeFileString(file, "first")
      expect((yield* Effect.flip(store.getWorkspace("api"))).reason).toBe("Corrupt")
      yield* fs.writeFileString(file, "second")
      expect((yield* store.listWorkspaces).quarantined).toHaveLength(1)
      const kept = yield* fs.readDirectory(path.join(root, "quarantine"))
      const contents = yield* Effect.forEach(kept, (name) => fs.readFileString(path.join(root, "quarantine", name)))
      expect(contents.sort()).toEqual(["first", "second"])
    }))

  it.scoped("a corrupt session record is quarantined by getSession and listSessions", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const { root, store } = yield* fileStore
      yield* store.putSession(session(sessionId(1)))
      yield* fs.writeFileString(path.join(root, "sessions", `${sessionId(2)}.json`), `{"id":`)
      yield* fs.writeFileString(path.join(root, "sessions", `${sessionId(3)}.json`), `{"id":`)
      const listed = yield* store.listSessions
      expect(listed.items.map((s) => s.id)).toEqual([sessionId(1)])
      expect(listed.quarantined.map((q) => path.basename(q.path))).toEqual([
        `${sessionId(2)}.json`,
        `${sessionId(3)}.json`
      ])
      expect(new Set(listed.quarantined.map((q) => q.moved_to)).size).toBe(2)
    }))

  it.scoped("a torn last event line is reported, then repaired by the next append", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const { root, store } = yield* fileStore
      const id = sessionId(1)
      const log = path.join(root, "events", `${id}.jsonl`)
      yield* store.appendEvent(event(id, "session.created"))
      yield* store.appendEvent(event(id, "sandbox.prepare.start"))
      // a crash in the middle of the third append
      yield* fs.writeFileString(log, `{"seq":`, { flag: "a" })

      const before = yield* store.readEvents(id)
      expect(before.items.map((e) => e.seq)).toEqual([1, 2])
      expect(before.quarantined).toHaveLength(1)
      expect(before.quarantined[0]!.path).toBe(log)

      expect((yield* store.appendEvent(event(id, "sandbox.prepare.complete"))).seq).toBe(3)
      expect((yield* store.appendEvent(event(id, "sandbox.ready"))).seq).toBe(4)
      const after = yield* store.readEvents(id)
      expect(after.items.map((e) => [e.seq, e.type])).toEqual([
        [1, "session.created"],
        [2, "sandbox.prepare.start"],
        [3, "sandbox.prepare.complete"],
        [4, "sandbox.ready"]
      ])
      expect(after.quarantined).toEqual([])
      expect((yield* fs.readFileString(log)).split("\n")).toHaveLength(5)

      const kept = yield* fs.readDirectory(path.join(root, "quarantine"))
      expect(kept).toHaveLength(1)
      expect(kept[0]!.startsWith(`events-${id}.torn.`)).toBe(true)
      expect(yield* fs.readFileString(path.join(root, "quarantine", kept[0]!))).toBe(`{"seq":`)
    }))

  it.scoped("a log that holds only a torn line starts again at seq 1", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const { root, store } = yield* fileStore
      const id = sessionId(1)
      yield* fs.writeFileString(path.join(root, "events", `${id}.jsonl`), `{"seq":1,"at":"2025-`)
      expect((yield* store.appendEvent(event(id))).seq).toBe(1)
      expect((yield* store.readEvents(id)).items.map((e) => e.seq)).toEqual([1])
    }))

  it.scoped("an invalid complete event line is reported in place, not dropped silently", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const { root, store } = yield* fileStore
      const id = sessionId(1)
      const log = path.join(root, "events", `${id}.jsonl`)
      yield* store.appendEvent(event(id))
      yield* fs.writeFileString(log, `not json\n`, { flag: "a" })
      const read = yield* store.readEvents(id)
      expect(read.items.map((e) => e.seq)).toEqual([1])
      expect(read.quarantined).toEqual([{ path: `${log}:2`, moved_to: "", reason: "invalid event line kept in place" }])
      // the next append moves the garbled tail to quarantine and numbers after the last line that decodes
      expect((yield* store.appendEvent(event(id))).seq).toBe(2)
      const after = yield* store.readEvents(id)
      expect([after.items.map((e) => e.seq), after.quarantined]).toEqual([[1, 2], []])
      const kept = yield* fs.readDirectory(path.join(root, "quarantine"))
      expect(kept.map((k) => k.startsWith(`events-${id}.garbled.`))).toEqual([true])
      expect(yield* fs.readFileString(path.join(root, "quarantine", kept[0]!))).toBe("not json\n")
    }))

  it.scoped("a torn line after multi-byte text is cut at the right byte", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const { root, store } = yield* fileStore
      const id = sessionId(1)
      const log = path.join(root, "events", `${id}.jsonl`)
      yield* store.appendEvent(event(id, "session.created", { text: "héllo wörld ✓" }))
      yield* fs.writeFileString(log, `{"seq":`, { flag: "a" })
      expect((yield* store.appendEvent(event(id))).seq).toBe(2)
      const read = yield* store.readEvents(id)
      expect([read.items.map((e) => e.seq), read.quarantined]).toEqual([[1, 2], []])
    }))

  // The store's lock polls with the Effect clock; these run on the live clock so contention resolves.
  it.scoped("50 concurrent appends to one session get seq 1..50 exactly once", () =>
    TestServices.provideLive(Effect.gen(function*() {
      const { store } = yield* fileStore
      const id = sessionId(1)
      const appended = yield* Effect.all(
        Array.from({ length: 50 }, (_, i) => store.appendEvent(event(id, "sandbox.sync.after", { i }))),
        { concurrency: "unbounded" }
      )
      const expected = Array.from({ length: 50 }, (_, i) => i + 1)
      expect(appended.map((e) => e.seq).sort((a, b) => a - b)).toEqual(expected)
      const read = yield* store.readEvents(id)
      expect(read.items.map((e) => e.seq)).toEqual(expected)
      expect(new Set(read.items.map((e) => e.attrs["i"])).size).toBe(50)
      expect(read.quarantined).toEqual([])
    })))

  it.scoped("concurrent updateSession calls do not lose updates", () =>
    TestServices.provideLive(Effect.gen(function*() {
      const { store } = yield* fileStore
      const id = sessionId(1)
      yield* store.putSession(session(id))
      yield* Effect.all(
        Array.from(
          { length: 20 },
          (_, i) => store.updateSession(id, (s) => Session.make({ ...s, command: [...s.command, String(i)] }))
        ),
        { concurrency: "unbounded" }
      )
      const final = yield* store.getSession(id)
      expect(final.command).toHaveLength(22)
      expect(new Set(final.command.slice(2))).toEqual(new Set(Array.from({ length: 20 }, (_, i) => String(i))))
    })))

  it.scoped("concurrent addWorkspace of one name: exactly one wins", () =>
    Effect.gen(function*() {
      const { store } = yield* fileStore
      const results = yield* Effect.all(
        Array.from({ length: 10 }, (_, i) => Effect.either(store.addWorkspace(workspace("api", `/p${i}`)))),
        { concurrency: "unbounded" }
      )
      expect(results.filter(Either.isRight)).toHaveLength(1)
      expect(results.filter(Either.isLeft).map(reasonOf)).toEqual(Array(9).fill("AlreadyExists"))
      const winner = results.findIndex(Either.isRight)
      expect((yield* store.getWorkspace("api")).path).toBe(`/p${winner}`)
    }))

  it.scoped("concurrent listings of a corrupt record both succeed", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const { root, store } = yield* fileStore
      yield* store.addWorkspace(workspace("api"))
      yield* fs.writeFileString(path.join(root, "workspaces", "broken.json"), "{")
      const [a, b] = yield* Effect.all([store.listWorkspaces, store.listWorkspaces], { concurrency: "unbounded" })
      expect(a.items.map((w) => w.name)).toEqual(["api"])
      expect(b.items.map((w) => w.name)).toEqual(["api"])
      expect(a.quarantined.length + b.quarantined.length).toBe(1)
      expect(yield* fs.readDirectory(path.join(root, "quarantine"))).toHaveLength(1)
    }))

  it.scoped("records written by the store decode with the published record schemas", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const { root, store } = yield* fileStore
      yield* store.addWorkspace(workspace("api"))
      const text = yield* fs.readFileString(path.join(root, "workspaces", "api.json"))
      expect(Schema.decodeSync(Store.records.workspace)(text)).toEqual(workspace("api"))
    }))
})

// Each store remembers what it wrote last (to skip reading it back); a second store on the same root stands for
// another process writing in between, which the first must always see.
describe("Store.layer (files), two processes on one state directory", () => {
  layer(NodeContext.layer)((it) => {
    const twoStores = Effect.gen(function*() {
      const { root, store } = yield* fileStore
      return { root, a: store, b: yield* Effect.provide(Store.Store, Store.layer(root)) }
    })

    it.scoped("an update by another process between two of ours is kept", () =>
      Effect.gen(function*() {
        const { a, b } = yield* twoStores
        const id = sessionId(1)
        yield* a.putSession(session(id))
        yield* a.updateSession(id, (s) => Session.make({ ...s, command: [...s.command, "a1"] }))
        yield* b.updateSession(id, (s) => Session.make({ ...s, command: [...s.command, "b"] }))
        yield* a.updateSession(id, (s) => Session.make({ ...s, command: [...s.command, "a2"] }))
        expect((yield* b.getSession(id)).command).toEqual(["npm", "test", "a1", "b", "a2"])
      }))

    it.scoped("a record replaced by hand (same size) is read again, not taken from memory", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const path = yield* Path.Path
        const { a, root } = yield* twoStores
        const id = sessionId(1)
        yield* a.putSession(session(id))
        const file = path.join(root, "sessions", `${id}.json`)
        const text = yield* fs.readFileString(file)
        // in place, same length: only the modification time tells it apart
        yield* fs.writeFileString(file, text.replace(`"npm"`, `"pnp"`))
        yield* fs.utimes(file, new Date(0), new Date(0))
        const next = yield* a.updateSession(id, (s) => s)
        expect(next.command).toEqual(["pnp", "test"])
      }))

    it.scoped("events appended by another process are numbered on, gap-free", () =>
      Effect.gen(function*() {
        const { a, b } = yield* twoStores
        const id = sessionId(1)
        expect((yield* a.appendEvent(event(id))).seq).toBe(1)
        expect((yield* a.appendEvent(event(id))).seq).toBe(2)
        expect((yield* b.appendEvent(event(id))).seq).toBe(3)
        expect((yield* a.appendEvent(event(id))).seq).toBe(4)
        expect((yield* b.appendEvent(event(id))).seq).toBe(5)
        expect((yield* a.readEvents(id)).items.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5])
      }))

    it.scoped("a log that lost its last events in a machine crash numbers on from the last one kept", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const path = yield* Path.Path
        const { a, root } = yield* twoStores
        const id = sessionId(1)
        const log = path.join(root, "events", `${id}.jsonl`)
        yield* a.appendEvent(event(id))
        const kept = yield* fs.readFileString(log)
        yield* a.appendEvent(event(id))
        yield* a.appendEvent(event(id))
        // appends are not synced one by one: after a crash of the machine the disk may hold an older log
        yield* fs.writeFileString(log, kept)
        expect((yield* a.appendEvent(event(id))).seq).toBe(2)
        expect((yield* a.readEvents(id)).items.map((e) => e.seq)).toEqual([1, 2])
      }))

    it.scoped("a log torn by another process's crash after our append is repaired by our next one", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const path = yield* Path.Path
        const { a, root } = yield* twoStores
        const id = sessionId(1)
        yield* a.appendEvent(event(id))
        yield* fs.writeFileString(path.join(root, "events", `${id}.jsonl`), `{"seq":2,"at`, { flag: "a" })
        expect((yield* a.appendEvent(event(id))).seq).toBe(2)
        const read = yield* a.readEvents(id)
        expect([read.items.map((e) => e.seq), read.quarantined]).toEqual([[1, 2], []])
      }))
  })
})
