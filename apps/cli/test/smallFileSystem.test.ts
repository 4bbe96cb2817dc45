import * as NodeContext from "@effect/platform-node/NodeContext"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { expect, layer } from "@effect/vitest"
import * as Ids from "@org/sandbox-core/Ids"
import { SandboxRecord, Session, SyncStatus } from "@org/sandbox-core/Session"
import * as Store from "@org/sandbox-core/Store"
import { Workspace } from "@org/sandbox-core/Workspace"
import { DateTime, Effect, Either, Layer } from "effect"
import * as SmallFileSystem from "../src/SmallFileSystem.js"

const at = DateTime.unsafeMake("2025-03-01T10:00:00.000Z")
const id = Ids.SessionId.make("ses_00000000000000000001")
const sandbox_id = Ids.SandboxId.make("sbx_00000000000000000001")
const session = Session.make({
  id,
  workspace: "api",
  agent: null,
  command: ["npm", "test"],
  state: "preparing",
  created_at: at,
  updated_at: at,
  ended_at: null,
  exit_code: null,
  reason: null,
  owner: "dev@laptop",
  sandbox: SandboxRecord.make({
    sandbox_id,
    backend: "local",
    profile: "local",
    instance_id: null,
    state: "pending",
    provider_state: null,
    sync: SyncStatus.empty,
    last_error: null
  })
})

/** The file store over the CLI's synchronous file system, in a temp dir. */
const store = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const root = yield* fs.makeTempDirectoryScoped({ prefix: "cli-store-fs-" })
  const service = yield* Effect.provide(Store.Store, Store.layer(root).pipe(Layer.provide(SmallFileSystem.layer)))
  return { root, store: service }
})

// The store relies on the file system's error reasons (AlreadyExists for a taken name or a held lock, NotFound for
// a missing record) and on appends going to the end: the same as over Node's asynchronous file system.
layer(NodeContext.layer)("SmallFileSystem", (it) => {
  it.scoped("records: a taken name is refused, a missing one is NotFound, concurrent updates all land", () =>
    Effect.gen(function*() {
      const { store: s } = yield* store
      const w = Workspace.make({ name: Ids.WorkspaceName.make("api"), path: "/p", created_at: at, updated_at: at })
      yield* s.addWorkspace(w)
      const again = yield* Effect.either(s.addWorkspace(w))
      expect(Either.isLeft(again) && again.left.reason).toBe("AlreadyExists")
      const missing = yield* Effect.either(s.getSession("ses_00000000000000000009"))
      expect(Either.isLeft(missing) && missing.left.reason).toBe("NotFound")
      yield* s.putSession(session)
      yield* Effect.all(
        Array.from(
          { length: 20 },
          (_, i) =>
            s.updateSession(id, (x) => Session.make({ ...x, command: [...x.command, String(i)] }), {
              durable: i % 2 === 0
            })
        ),
        { concurrency: "unbounded" }
      )
      expect((yield* s.getSession(id)).command).toHaveLength(22)
    }))

  it.scoped("events: concurrent appends are numbered gap-free, a torn tail is repaired", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const { root, store: s } = yield* store
      const event = { session_id: id, sandbox_id, type: "sandbox.sync.after" as const }
      yield* Effect.all(Array.from({ length: 30 }, () => s.appendEvent(event)), { concurrency: "unbounded" })
      yield* fs.writeFileString(path.join(root, "events", `${id}.jsonl`), `{"seq":31,"at`, { flag: "a" })
      expect((yield* s.appendEvent(event)).seq).toBe(31)
      const read = yield* s.readEvents(id)
      expect([read.items.map((e) => e.seq), read.quarantined]).toEqual([
        Array.from({ length: 31 }, (_, i) => i + 1),
        []
      ])
    }))
})
