import { NodeContext } from "@effect/platform-node"
import * as FileSystem from "@effect/platform/FileSystem"
import { describe, expect, it } from "@effect/vitest"
import { Label } from "@org/sandbox-core/SandboxProvider"
import { Chunk, ConfigProvider, Effect, Layer, Stream } from "effect"
import { execFileSync } from "node:child_process"
import * as DaytonaBackend from "../src/DaytonaBackend.js"
import * as DaytonaProvider from "../src/DaytonaProvider.js"
import { API_KEY, makeProvider, profile, spec, useEmulator } from "./helpers.js"

const emulator = useEmulator({ isolateProcesses: true })

/** Sandboxes the emulator holds for one of our sandbox ids, destroyed ones included. */
const recorded = (sandboxId: string) => emulator().sandboxes().filter((s) => s.labels[Label.sandboxId] === sandboxId)

const routeCount = (route: string) => emulator().stats().routes[route] ?? 0

describe("create", () => {
  it.scopedLive("sends our labels, the snapshot (which wins over image), env and intervals", () =>
    Effect.gen(function*() {
      const emu = emulator()
      yield* Effect.promise(() =>
        fetch(`${emu.url}/snapshots`, {
          method: "POST",
          headers: { Authorization: `Bearer ${API_KEY}`, "Content-Type": "application/json" },
          body: JSON.stringify({ name: "snap-a", imageName: "ubuntu:24.04" })
        })
      )
      const p = profile({ snapshot: "snap-a", image: "node:20", auto_stop: "2h", auto_archive: 30, auto_delete: 90 }, {
        env: { FROM_PROFILE: "1" }
      })
      const provider = yield* makeProvider(emu, p)
      const s = spec({ extra: "label" })
      const instance = yield* provider.create({ ...s, env: { FROM_SPEC: "2" } })
      expect(instance.state).toBe("running")
      expect(instance.workdir).toBe("/home/daytona/workspace")
      expect(instance.labels).toMatchObject({ ...s.labels, extra: "label" })
      const dto = yield* Effect.promise(() =>
        fetch(`${emu.url}/sandbox/${instance.instance_id}`, { headers: { Authorization: `Bearer ${API_KEY}` } })
          .then((r) => r.json() as Promise<Record<string, unknown>>)
      )
      expect(dto).toMatchObject({
        name: s.sandbox_id,
        snapshot: "snap-a",
        env: { FROM_PROFILE: "1", FROM_SPEC: "2" },
        autoStopInterval: 120,
        autoArchiveInterval: 30,
        autoDeleteInterval: 90
      })
      expect(dto["buildInfo"]).toBeUndefined()
      const env = yield* provider.exec(instance, { shell: "printf '%s %s' \"$FROM_PROFILE\" \"$FROM_SPEC\"" })
      expect(env.stdout).toBe("1 2")
      yield* provider.destroy(instance)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scopedLive("builds from an image with the profile's resources; resources without an image are refused", () =>
    Effect.gen(function*() {
      const emu = emulator()
      const provider = yield* makeProvider(
        emu,
        profile({ image: "python:3.12" }, { resources: { cpu: 2, memory_gib: 4, disk_gib: 8 } })
      )
      const instance = yield* provider.create(spec())
      const dto = yield* Effect.promise(() =>
        fetch(`${emu.url}/sandbox/${instance.instance_id}`, { headers: { Authorization: `Bearer ${API_KEY}` } })
          .then((r) => r.json() as Promise<Record<string, unknown>>)
      )
      expect(dto).toMatchObject({ cpu: 2, memory: 4, disk: 8, buildInfo: { dockerfileContent: "FROM python:3.12\n" } })
      yield* provider.destroy(instance)
      const refused = yield* Effect.flip(makeProvider(emu, profile({ snapshot: "s" }, { resources: { cpu: 2 } })))
      expect(refused.reason).toBe("InvalidState")
      expect(refused.detail).toContain("resources apply only to sandboxes built from an image")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scopedLive("under 429 (Retry-After) and 503 faults still makes exactly one sandbox", () =>
    Effect.gen(function*() {
      const emu = emulator()
      const provider = yield* makeProvider(emu)
      const s = spec()
      emu.setFaults([
        { route: "GET /api/sandbox", kind: "503", times: 1 },
        { route: "POST /api/sandbox", kind: "429", retryAfterSeconds: 1, times: 1 },
        { route: "POST /api/sandbox", kind: "503", times: 1 }
      ])
      emu.resetStats()
      const instance = yield* provider.create(s).pipe(Effect.ensuring(Effect.sync(() => emu.setFaults([]))))
      expect(emu.stats().faultsInjected).toBe(3)
      expect(routeCount("POST /api/sandbox")).toBe(3)
      expect(recorded(s.sandbox_id).map((r) => r.id)).toEqual([instance.instance_id])
      // A second create (a retried session start) finds it instead of making another.
      const again = yield* provider.create(s)
      expect(again.instance_id).toBe(instance.instance_id)
      expect(recorded(s.sandbox_id)).toHaveLength(1)
      yield* provider.destroy(instance)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scopedLive("a 429 on create's POST is sent again after its Retry-After: the API never acted on it", () =>
    Effect.gen(function*() {
      const emu = emulator()
      const provider = yield* makeProvider(emu, profile(), { retry: { times: 1 } })
      emu.setFaults([{ route: "POST /api/sandbox", kind: "429", retryAfterSeconds: 1, times: 1 }])
      const counts = () => {
        const route = emu.stats().perRoute["POST /api/sandbox"]
        return { requests: route?.requests ?? 0, limited: route?.statuses["429"] ?? 0 }
      }
      const before = counts()
      const instance = yield* provider.create(spec()).pipe(Effect.ensuring(Effect.sync(() => emu.setFaults([]))))
      expect(counts()).toEqual({ requests: before.requests + 2, limited: before.limited + 1 })
      yield* provider.destroy(instance)
    }).pipe(Effect.provide(NodeContext.layer)))
})

describe("destroy", () => {
  for (const [state, requests] of [["starting", 3], ["destroying", 3], ["error", undefined]] as const) {
    it.scopedLive(`copes with a sandbox in ${state}`, () =>
      Effect.gen(function*() {
        const emu = emulator()
        const provider = yield* makeProvider(emu)
        const s = spec()
        const instance = yield* provider.create(s)
        emu.stick(instance.instance_id, state, requests)
        yield* provider.destroy(instance)
        const failed = yield* Effect.flip(provider.get(instance.instance_id))
        expect(failed.reason).toBe("NotFound")
        // A sandbox the API is already destroying is gone for us: it is not waited for. The others were deleted:
        // they linger (their state, then destroying) with desired state destroyed, as on Daytona.
        const [left] = recorded(s.sandbox_id)
        if (state === "destroying") expect(left?.state).toBe("destroying")
        else expect(left?.desiredState).toBe("destroyed")
        yield* provider.destroy(instance) // already gone: still fine
      }).pipe(Effect.provide(NodeContext.layer)))
  }
})

describe("lifecycle", () => {
  it.scopedLive("archive stops first, start restores; get reports our states", () =>
    Effect.gen(function*() {
      const provider = yield* makeProvider(emulator())
      const instance = yield* provider.create(spec())
      const archived = yield* provider.archive(instance)
      expect([archived.state, archived.provider_state_name]).toEqual(["archived", "archived"])
      expect((yield* provider.archive(archived)).state).toBe("archived")
      const started = yield* provider.start(archived)
      expect(started.state).toBe("running")
      expect((yield* provider.stop(started)).state).toBe("stopped")
      expect((yield* provider.stop(started)).state).toBe("stopped")
      const error = yield* Effect.flip(provider.exec(started, { argv: ["true"] }))
      expect(error.reason).toBe("InvalidState")
      yield* provider.destroy(started)
    }).pipe(Effect.provide(NodeContext.layer)))
})

describe("exec", () => {
  it.scopedLive("a large stdin is uploaded first; idempotent reads are retried, an exec only when refused", () =>
    Effect.gen(function*() {
      const emu = emulator()
      const provider = yield* makeProvider(emu)
      const instance = yield* provider.create(spec())
      const big = new Uint8Array(300_000).map((_, i) => (i * 31) % 251)
      const counted = yield* provider.exec(instance, { argv: ["wc", "-c"], stdin: big })
      expect(counted.stdout.trim()).toBe("300000")
      const left = yield* provider.exec(instance, { shell: "ls -A ../.sandbox-cli | grep -c stdin- || true" })
      expect(left.stdout.trim()).toBe("0")

      yield* provider.writeFile(instance, "f.txt", new TextEncoder().encode("x"))
      emu.setFaults([
        { route: "POST /toolbox/{sandboxId}/files/bulk-download", kind: "503", times: 1 },
        { route: "POST /toolbox/{sandboxId}/process/execute", kind: "500", times: 1 }
      ])
      const [read, failed] = yield* Effect.all([
        provider.readFile(instance, "f.txt"),
        Effect.flip(provider.exec(instance, { argv: ["true"] }))
      ]).pipe(Effect.ensuring(Effect.sync(() => emu.setFaults([]))))
      expect(new TextDecoder().decode(read)).toBe("x")
      expect(failed.reason).toBe("Unavailable")
      // A 503 is the API refusing before acting: even an exec is sent again.
      emu.setFaults([{
        route: "POST /toolbox/{sandboxId}/process/execute",
        kind: "503",
        retryAfterSeconds: 0,
        times: 1
      }])
      const again = yield* provider.exec(instance, { argv: ["echo", "once"] }).pipe(
        Effect.ensuring(Effect.sync(() => emu.setFaults([])))
      )
      expect(again.stdout).toBe("once\n")
      yield* provider.destroy(instance)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scopedLive("execStream passes cwd, env and stdin, and a timeout ends the command", () =>
    Effect.gen(function*() {
      const provider = yield* makeProvider(emulator())
      const instance = yield* provider.create(spec())
      yield* provider.mkdir(instance, "sub")
      const chunks = yield* Stream.runCollect(provider.execStream(instance, {
        shell: "pwd; printf '%s' \"$GREETING\"; cat",
        cwd: "sub",
        env: { GREETING: "hi " },
        stdin: "from stdin"
      }))
      const out = Chunk.toReadonlyArray(chunks)
      const stdout = out.flatMap((c) => (c._tag === "Stdout" ? [new TextDecoder().decode(c.data)] : [])).join("")
      expect(stdout).toBe(`${instance.workdir}/sub\nhi from stdin`)
      expect(out[out.length - 1]).toEqual({ _tag: "Exit", exit_code: 0 })
      const timedOut = yield* Effect.flip(
        Stream.runDrain(provider.execStream(instance, { shell: "sleep 30", timeout: "1 second" }))
      )
      expect(timedOut.reason).toBe("Timeout")
      yield* provider.destroy(instance)
    }).pipe(Effect.provide(NodeContext.layer)))
})

describe("bulk transfer", () => {
  it.scopedLive("putArchive is two requests and getArchive three, whatever the file count", () =>
    Effect.gen(function*() {
      const emu = emulator()
      const fs = yield* FileSystem.FileSystem
      const provider = yield* makeProvider(emu)
      const instance = yield* provider.create(spec())
      const host = yield* fs.makeTempDirectoryScoped()
      for (let i = 0; i < 300; i++) {
        yield* fs.makeDirectory(`${host}/src/d${i % 7}`, { recursive: true })
        yield* fs.writeFileString(`${host}/src/d${i % 7}/f${i}.txt`, `file ${i}\n`)
      }
      execFileSync("tar", ["-czf", `${host}/in.tar.gz`, "-C", `${host}/src`, "."])
      emu.resetStats()
      yield* provider.putArchive(instance, { archive_path: `${host}/in.tar.gz`, format: "tar.gz", dest: "." })
      expect(emu.stats().requests).toBe(2)
      // Seeding over an existing tree merges into it.
      yield* provider.writeFile(instance, "d0/f0.txt", new TextEncoder().encode("changed\n"))
      yield* provider.putArchive(instance, { archive_path: `${host}/in.tar.gz`, format: "tar.gz", dest: "." })
      expect(new TextDecoder().decode(yield* provider.readFile(instance, "d0/f0.txt"))).toBe("file 0\n")
      const paths = Array.from({ length: 300 }, (_, i) => `d${i % 7}/f${i}.txt`)
      emu.resetStats()
      yield* provider.getArchive(instance, { root: ".", paths, archive_path: `${host}/out.tar`, format: "tar" })
      expect(emu.stats().requests).toBe(3)
      const listed = execFileSync("tar", ["-tf", `${host}/out.tar`]).toString().trim().split("\n")
      expect(listed.sort()).toEqual([...paths].sort())
      const missing = yield* Effect.flip(
        provider.getArchive(instance, { root: ".", paths: ["nope"], archive_path: `${host}/x.tar`, format: "tar" })
      )
      expect(missing.reason).toBe("NotFound")
      const listing = yield* provider.listDir(instance, "..")
      expect(listing.map((e) => e.path)).not.toContain(`${instance.workdir}/.sandbox-cli`)
      const scratch = yield* provider.listDir(instance, "../.sandbox-cli")
      expect(scratch).toEqual([])
      yield* provider.destroy(instance)
    }).pipe(Effect.provide(NodeContext.layer)))
})

describe("configuration", () => {
  it.scopedLive("the backend reads DAYTONA_API_KEY and DAYTONA_API_URL through Config", () =>
    Effect.gen(function*() {
      const emu = emulator()
      const provider = yield* DaytonaBackend.definition.make({ profile: profile() }).pipe(
        Effect.withConfigProvider(
          ConfigProvider.fromMap(new Map([["DAYTONA_API_KEY", API_KEY], ["DAYTONA_API_URL", emu.url]]))
        )
      )
      const instance = yield* provider.create(spec())
      yield* provider.destroy(instance)
      const missing = yield* Effect.flip(
        DaytonaBackend.definition.make({ profile: profile() }).pipe(
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map()))
        )
      )
      expect(missing._tag).toBe("ConfigError")
      expect(missing.message).toContain("DAYTONA_API_KEY")
      expect(missing.message).not.toContain(API_KEY)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.scopedLive("a wrong key is Unauthorized; the layer builds from Config too", () =>
    Effect.gen(function*() {
      const emu = emulator()
      const layer = DaytonaProvider.layerConfig({ profile: profile({ api_url: emu.url }) }).pipe(
        Layer.provide(NodeContext.layer)
      )
      const error = yield* Effect.flip(
        Effect.gen(function*() {
          const { SandboxProvider } = yield* Effect.promise(() => import("@org/sandbox-core/SandboxProvider"))
          const provider = yield* SandboxProvider
          return yield* provider.create(spec())
        }).pipe(
          Effect.provide(layer),
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["DAYTONA_API_KEY", "wrong"]])))
        )
      )
      expect(error._tag).toBe("ProviderError")
      expect(error._tag === "ProviderError" && error.reason).toBe("Unauthorized")
    }))
})
