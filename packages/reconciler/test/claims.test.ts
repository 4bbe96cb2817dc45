import * as NodeContext from "@effect/platform-node/NodeContext"
import * as FileSystem from "@effect/platform/FileSystem"
import { describe, expect, it } from "@effect/vitest"
import * as Supervision from "@org/sandbox-core/Supervision"
import { Effect, Exit, Scope } from "effect"
import * as Claims from "../src/internal/claims.js"

const tempDir = Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "claims-" }))

describe("claims (files)", () => {
  it.scopedLive("one holder at a time; done after the plan means skip; a dead holder's claim is taken over", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const fs = yield* FileSystem.FileSystem
      const dead = new Set<number>()
      const isAlive = (pid: number) => !dead.has(pid)
      const a = yield* Claims.makeFile({ dir, pid: 101, isAlive })
      const b = yield* Claims.makeFile({ dir, pid: 202, isAlive })

      const scopeA = yield* Scope.make()
      expect((yield* Scope.extend(a.claim("sbx_1", 0), scopeA))._tag).toBe("Claimed")
      expect(yield* Effect.scoped(b.claim("sbx_1", 0))).toEqual({ _tag: "Busy", pid: 101 })
      yield* Scope.close(scopeA, Exit.void)
      // finished after b planned (b planned at 0): b must not act again
      expect((yield* Effect.scoped(b.claim("sbx_1", 0)))._tag).toBe("Done")
      // a plan made after it finished sees the world as it is now and may act
      expect((yield* Effect.scoped(b.claim("sbx_1", Date.now() + 1000)))._tag).toBe("Claimed")

      // a holder that died mid-action leaves a claim that the next reconciler takes over
      const scopeC = yield* Scope.make()
      expect((yield* Scope.extend(a.claim("sbx_2", 0), scopeC))._tag).toBe("Claimed")
      dead.add(101)
      expect((yield* Effect.scoped(b.claim("sbx_2", 0)))._tag).toBe("Claimed")
      expect((yield* fs.readDirectory(dir)).filter((n) => !n.endsWith(".claim"))).toEqual([])
    }).pipe(Effect.provide(NodeContext.layer)))
})

describe("Supervision (files)", () => {
  it.scopedLive("a held lock is alive; a dead pid or a corrupt lock is gone and found by the scan; a stale heartbeat only elsewhere", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const fs = yield* FileSystem.FileSystem
      const dead = new Set<number>()
      const supervision = yield* Supervision.makeFile({ dir, isAlive: (pid) => !dead.has(pid), pid: 7 })
      const held = yield* Scope.make()
      yield* Scope.extend(supervision.hold("ses_held00000", { workspace_path: "/w" }), held)
      const alive = yield* supervision.check("ses_held00000")
      expect(alive._tag).toBe("Alive")
      expect(yield* supervision.check("ses_none00000")).toMatchObject({ _tag: "Gone", reason: "no supervisor lock" })

      const old = new Date(Date.now() - 60_000).toISOString()
      yield* fs.writeFileString(
        `${dir}/ses_stale0000.json`,
        JSON.stringify({ pid: 7, session_id: "ses_stale0000", started_at: old, heartbeat_at: old })
      )
      yield* fs.writeFileString(`${dir}/ses_corrupt00.json`, "{")
      dead.add(8)
      const now = new Date().toISOString()
      yield* fs.writeFileString(
        `${dir}/ses_dead00000.json`,
        JSON.stringify({ pid: 8, session_id: "ses_dead00000", started_at: now, heartbeat_at: now })
      )
      const stale = yield* supervision.stale
      // a live pid with a stale heartbeat (a paused supervisor) is not dead on its own host
      expect(stale.map((s) => [s.session_id, s.reason]).sort()).toEqual([
        ["ses_corrupt00", "unreadable supervisor lock"],
        ["ses_dead00000", "supervisor pid 8 is not running"]
      ])
      expect((yield* supervision.check("ses_stale0000"))._tag).toBe("Alive")
      expect(yield* supervision.check("ses_stale0000", { local: false })).toMatchObject({
        _tag: "Gone",
        reason: expect.stringMatching(/^supervisor missed its heartbeat/)
      })
      // another host's lock is judged by its heartbeat only
      expect((yield* supervision.check("ses_dead00000", { local: false }))._tag).toBe("Alive")
      yield* supervision.release("ses_dead00000")
      yield* supervision.release("ses_held00000") // alive: kept
      expect((yield* fs.readDirectory(dir)).sort()).toEqual([
        "ses_corrupt00.json",
        "ses_held00000.json",
        "ses_stale0000.json"
      ])
      yield* Scope.close(held, Exit.void)
      expect(yield* fs.exists(`${dir}/ses_held00000.json`)).toBe(false)
    }).pipe(Effect.provide(NodeContext.layer)))
})
