/**
 * The provider under the faults real Daytona shows (issue 13): a create whose reply is lost, dropped and refused
 * connections, 502s from the toolbox proxy, deletes that linger, and a share of every request failing at random.
 * After each, nothing is leaked: every sandbox made is found by our labels and destroyed.
 */
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Label } from "@org/sandbox-core/SandboxProvider"
import { Chunk, Effect, Stream } from "effect"
import { makeProvider, profile, spec, useEmulator } from "./helpers.js"

const emulator = useEmulator({ deleteLinger: { unchangedMs: 300, destroyingMs: 300 } })

const live = (sandboxId: string) =>
  emulator().sandboxes().filter((s) => s.labels[Label.sandboxId] === sandboxId && s.state !== "destroyed")

const fast = { retry: { base: "5 millis", cap: "50 millis" } } as const

describe("a create whose reply is lost", () => {
  it.scopedLive("is found by its labels on the next attempt: one sandbox, adopted, none leaked", () =>
    Effect.gen(function*() {
      const emu = emulator()
      const provider = yield* makeProvider(emu, profile(), fast)
      const s = spec()
      emu.setFaults([{ route: "POST /api/sandbox", kind: "drop-after", times: 1 }])
      const instance = yield* provider.create(s).pipe(Effect.ensuring(Effect.sync(() => emu.setFaults([]))))
      expect(emu.stats().perRoute["POST /api/sandbox"]?.faultsInjected).toBe(1)
      expect(live(s.sandbox_id).map((r) => r.id)).toEqual([instance.instance_id])
      yield* provider.destroy(instance)
    }).pipe(Effect.provide(NodeContext.layer)))
})

describe("the toolbox proxy answers 502", () => {
  it.scopedLive("idempotent file calls are retried; an exec is not sent twice", () =>
    Effect.gen(function*() {
      const emu = emulator()
      const provider = yield* makeProvider(emu, profile(), fast)
      const instance = yield* provider.create(spec())
      emu.setFaults([{ route: /^POST \/toolbox\/[^/]+\/files\/bulk-upload$/, kind: "502", times: 2 }])
      yield* provider.writeFile(instance, "a.txt", new TextEncoder().encode("a"))
      expect(new TextDecoder().decode(yield* provider.readFile(instance, "a.txt"))).toBe("a")
      emu.setFaults([{ route: "POST /toolbox/{sandboxId}/process/execute", kind: "502", times: 1 }])
      const failed = yield* Effect.flip(provider.exec(instance, { shell: "echo once >> runs.txt" }))
      expect(failed.reason).toBe("Unavailable")
      emu.setFaults([])
      yield* provider.destroy(instance)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scopedLive("a refused log WebSocket fails the streamed exec with a clear error, not a hang", () =>
    Effect.gen(function*() {
      const emu = emulator()
      const provider = yield* makeProvider(emu, profile(), fast)
      const instance = yield* provider.create(spec())
      emu.setFaults([{ route: /command\/[^/]+\/logs/, kind: "502", times: 1 }])
      const failed = yield* Effect.flip(Stream.runCollect(provider.execStream(instance, { shell: "echo hi" })))
      expect(failed._tag).toBe("ProviderError")
      emu.setFaults([])
      const ok = yield* Stream.runCollect(provider.execStream(instance, { shell: "echo hi" }))
      expect(Chunk.toArray(ok).at(-1)).toEqual({ _tag: "Exit", exit_code: 0 })
      yield* provider.destroy(instance)
    }).pipe(Effect.provide(NodeContext.layer)))
})

describe("a delete that lingers", () => {
  it.scopedLive("is gone for the provider at once: not listed, not deleted twice, get is NotFound", () =>
    Effect.gen(function*() {
      const emu = emulator()
      const provider = yield* makeProvider(emu, profile(), fast)
      const s = spec()
      const instance = yield* provider.create(s)
      yield* provider.destroy(instance)
      // The API still shows it, in its old state.
      expect(live(s.sandbox_id).map((r) => r.state)).toEqual(["started"])
      emu.resetStats()
      // A second provider (a reconcile in another process) sees it as gone and sends no DELETE.
      const other = yield* makeProvider(emu, profile(), fast)
      const listed = yield* Stream.runCollect(other.list({ labels: { [Label.sandboxId]: s.sandbox_id } }))
      expect(Chunk.size(listed)).toBe(0)
      expect((yield* Effect.flip(other.get(instance.instance_id))).reason).toBe("NotFound")
      yield* other.destroy(instance)
      expect(emu.stats().routes["DELETE /api/sandbox/{sandboxIdOrName}"] ?? 0).toBe(0)
    }).pipe(Effect.provide(NodeContext.layer)))
})

describe("a delete someone else already sent", () => {
  it.scopedLive("answers 409 while the sandbox lingers: that is success, after one lookup, not a wait", () =>
    Effect.gen(function*() {
      const emu = emulator()
      const provider = yield* makeProvider(emu, profile(), fast)
      const instance = yield* provider.create(spec())
      // Another process (a reconcile) deletes it; this provider still holds the sandbox as started.
      const other = yield* makeProvider(emu, profile(), fast)
      yield* other.destroy(instance)
      emu.resetStats()
      yield* provider.destroy(instance).pipe(Effect.timeout("5 seconds"))
      expect(emu.stats().perRoute["DELETE /api/sandbox/{sandboxIdOrName}"]?.statuses).toEqual({ "409": 1 })
      expect(emu.stats().routes["GET /api/sandbox/{sandboxIdOrName}"]).toBe(1)
    }).pipe(Effect.provide(NodeContext.layer)))
})

describe("half of all requests fail (429, 502, 503, dropped before or after acting)", () => {
  it.scopedLive("eight sandboxes are made, used and destroyed; none leaked", () =>
    Effect.gen(function*() {
      const emu = emulator()
      const provider = yield* makeProvider(emu, profile(), { retry: { base: "5 millis", cap: "50 millis", times: 12 } })
      const specs = Array.from({ length: 8 }, () => spec())
      emu.reseed(13)
      emu.setRandomFailures({
        rate: 0.5,
        kinds: ["429", "502", "503", "drop", "drop-after"],
        retryAfterSeconds: 0,
        // Execs are not idempotent: a fault after acting is the caller's to judge, so they are left out here.
        route: /^(?!POST \/toolbox\/[^/]+\/process\/execute)/
      })
      const outcomes = yield* Effect.forEach(specs, (s) =>
        Effect.gen(function*() {
          const instance = yield* provider.create(s)
          yield* provider.writeFile(instance, "x.txt", new TextEncoder().encode("x"))
          const back = new TextDecoder().decode(yield* provider.readFile(instance, "x.txt"))
          yield* provider.destroy(instance)
          return back
        }).pipe(Effect.either)).pipe(Effect.ensuring(Effect.sync(() => emu.setRandomFailures(undefined))))
      expect(outcomes.filter((o) => o._tag === "Left").map((o) => o._tag === "Left" && o.left.message)).toEqual([])
      expect(emu.stats().faultsInjected).toBeGreaterThan(8)
      // Lingering deletes aside (desired state destroyed), nothing of ours is left.
      for (const s of specs) expect(live(s.sandbox_id).filter((r) => r.desiredState !== "destroyed")).toEqual([])
    }).pipe(Effect.provide(NodeContext.layer)), 120_000)
})
