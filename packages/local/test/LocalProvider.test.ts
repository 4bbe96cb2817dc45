import { NodeContext } from "@effect/platform-node"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { describe, expect, it, layer } from "@effect/vitest"
import { builtinLocal } from "@org/sandbox-core/Profile"
import type { ExecOutput } from "@org/sandbox-core/SandboxProvider"

import { Chunk, Deferred, Effect, Fiber, Scope, Stream, TestServices } from "effect"
import * as RemoveTree from "../src/internal/removeTree.js"
import * as LocalProvider from "../src/LocalProvider.js"
import { WORKSPACE_PATH_LABEL } from "../src/LocalProvider.js"
import { awaitGone, bytes, isAlive, provider, readPid, sandbox, spec, text } from "./helpers.js"

const hostPath = process.env["PATH"] ?? "/usr/bin:/bin"

// The shell and its children ignore SIGTERM, so only a SIGKILL of the whole group ends them.
const ignoreTerm = "trap '' TERM"

// Timeouts and polling need the real clock; `layer` only provides its services to the TestClock variants.
const live = <A, E>(name: string, body: () => Effect.Effect<A, E, Scope.Scope | NodeContext.NodeContext>) =>
  it.scopedLive(name, () => Effect.provide(body(), NodeContext.layer))

describe("LocalProvider processes", () => {
  live("a timeout kills the whole process group, background children included", () =>
    Effect.gen(function*() {
      const { local } = yield* provider()
      const instance = yield* sandbox(local)
      const error = yield* local.exec(instance, {
        shell: `${ignoreTerm}; echo $$ > sh.pid; sleep 30 & echo $! > bg.pid; wait`,
        timeout: "1 second"
      }).pipe(Effect.flip)
      expect(error.reason).toBe("Timeout")
      expect(yield* awaitGone(yield* readPid(local, instance, "sh.pid"))).toBe(true)
      expect(yield* awaitGone(yield* readPid(local, instance, "bg.pid"))).toBe(true)
    }))

  live("interrupting a stream kills its process group", () =>
    Effect.gen(function*() {
      const { local } = yield* provider()
      const instance = yield* sandbox(local)
      const ready = yield* Deferred.make<void>()
      const fiber = yield* local.execStream(instance, {
        shell: `${ignoreTerm}; sleep 30 & echo $! > bg.pid; echo ready; wait`
      }).pipe(
        Stream.runForEach((chunk) =>
          chunk._tag === "Stdout" && text(chunk.data).includes("ready")
            ? Deferred.succeed(ready, undefined)
            : Effect.void
        ),
        Effect.fork
      )
      yield* Deferred.await(ready)
      const pid = yield* readPid(local, instance, "bg.pid")
      expect(yield* isAlive(pid)).toBe(true)
      yield* Fiber.interrupt(fiber)
      expect(yield* awaitGone(pid)).toBe(true)
    }))

  live("a consumer that stops early (take) kills the process too", () =>
    Effect.gen(function*() {
      const { local } = yield* provider()
      const instance = yield* sandbox(local)
      const first = yield* local.execStream(instance, {
        shell: `${ignoreTerm}; echo $$ > sh.pid; echo first; exec sleep 30`
      }).pipe(
        Stream.take(1),
        Stream.runCollect
      )
      expect(Chunk.size(first)).toBe(1)
      expect(yield* awaitGone(yield* readPid(local, instance, "sh.pid"))).toBe(true)
    }))

  live("stop kills running commands; the stream ends with the signal's exit code", () =>
    Effect.gen(function*() {
      const { local } = yield* provider()
      const instance = yield* sandbox(local)
      const ready = yield* Deferred.make<void>()
      const fiber = yield* local.execStream(instance, { shell: `${ignoreTerm}; echo ready; exec sleep 30` }).pipe(
        Stream.tap((chunk) => (chunk._tag === "Stdout" ? Deferred.succeed(ready, undefined) : Effect.void)),
        Stream.runCollect,
        Effect.fork
      )
      yield* Deferred.await(ready)
      const stopped = yield* local.stop(instance)
      expect(stopped.state).toBe("stopped")
      const chunks = Chunk.toReadonlyArray(yield* Fiber.join(fiber))
      expect(chunks[chunks.length - 1]).toEqual({ _tag: "Exit", exit_code: 137 } satisfies ExecOutput)
      const refused = yield* local.exec(stopped, { argv: ["true"] }).pipe(Effect.flip)
      expect(refused.reason).toBe("InvalidState")
    }))
})

layer(NodeContext.layer)("LocalProvider", (it) => {
  describe("exec", () => {
    it.scoped("a missing executable exits 127 and a non-executable file 126, like a shell", () =>
      Effect.gen(function*() {
        const { local } = yield* provider()
        const instance = yield* sandbox(local)
        const missing = yield* local.exec(instance, { argv: ["no-such-command-anywhere", "x"] })
        expect(missing.exit_code).toBe(127)
        expect(missing.stderr).toContain("command not found")
        yield* local.writeFile(instance, "plain.txt", bytes("not a program"))
        expect((yield* local.exec(instance, { argv: ["./plain.txt"] })).exit_code).toBe(126)
        expect((yield* local.exec(instance, { shell: "no-such-command-anywhere" })).exit_code).toBe(127)
      }))

    it.scoped("commands inherit only PATH, HOME, LANG and TERM, then profile, spec and request env", () =>
      Effect.gen(function*() {
        const { local } = yield* provider(
          { env: { FROM_PROFILE: "profile", OVERRIDE: "profile" } },
          { hostEnv: { PATH: hostPath, HOME: "/home/sandbox-test", LEAKED: "host-only" } }
        )
        const instance = yield* sandbox(local, { ...spec(), env: { FROM_SPEC: "spec", OVERRIDE: "spec" } })
        const r = yield* local.exec(instance, { argv: ["env"], env: { FROM_REQUEST: "request" } })
        const env = Object.fromEntries(r.stdout.trim().split("\n").map((line) => line.split(/=(.*)/s).slice(0, 2)))
        expect(env).toMatchObject({
          PATH: hostPath,
          HOME: "/home/sandbox-test",
          FROM_PROFILE: "profile",
          FROM_SPEC: "spec",
          FROM_REQUEST: "request",
          OVERRIDE: "spec"
        })
        expect(env["LEAKED"]).toBeUndefined()
      }))
  })

  describe("files", () => {
    it.scoped("paths that escape the runtime are refused, lexically or through a symlink", () =>
      Effect.gen(function*() {
        const { local } = yield* provider()
        const instance = yield* sandbox(local)
        for (const attempt of [local.readFile(instance, "../../outside"), local.readFile(instance, "/etc/hostname")]) {
          const error = yield* Effect.flip(attempt)
          expect(error.reason).toBe("InvalidState")
          expect(error.detail).toContain("path escapes the runtime")
        }
        yield* local.exec(instance, { argv: ["ln", "-s", "/etc", "etc-link"] })
        const through = yield* Effect.flip(local.writeFile(instance, "etc-link/sandbox-test", bytes("x")))
        expect(through.detail).toContain("through a symlink")
        expect((yield* Effect.flip(local.exec(instance, { argv: ["true"], cwd: "/" }))).reason).toBe("InvalidState")
        // Writing at the link itself replaces the link instead of writing through it.
        yield* local.writeFile(instance, "etc-link", bytes("now a file"))
        expect((yield* local.stat(instance, "etc-link")).kind).toBe("file")
      }))

    it.scoped("writeFile keeps an existing file's mode and creates parents; remove of a missing path is a no-op", () =>
      Effect.gen(function*() {
        const { local } = yield* provider()
        const instance = yield* sandbox(local)
        yield* local.writeFile(instance, "deep/er/run.sh", bytes("#!/bin/sh\n"), { mode: 0o750 })
        yield* local.writeFile(instance, "deep/er/run.sh", bytes("#!/bin/sh\necho 2\n"))
        expect((yield* local.stat(instance, "deep/er/run.sh")).mode).toBe(0o750)
        yield* local.remove(instance, "deep/never")
        const root = yield* Effect.flip(local.remove(instance, ".", { recursive: true }))
        expect(root.reason).toBe("InvalidState")
      }))
  })

  describe("lifecycle", () => {
    it.scoped("create with the same id but other labels is a Conflict", () =>
      Effect.gen(function*() {
        const { local } = yield* provider()
        const s = spec()
        yield* sandbox(local, s)
        const error = yield* Effect.flip(local.create({ ...s, labels: { ...s.labels, owner: "someone-else" } }))
        expect(error.reason).toBe("Conflict")
      }))

    it.scoped("list skips corrupt metadata instead of failing", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const path = yield* Path.Path
        const { local, stateDir } = yield* provider()
        const good = yield* sandbox(local)
        const bad = yield* sandbox(local)
        yield* fs.writeFileString(path.join(stateDir, "runtimes", ".meta", `${bad.instance_id}.json`), "{ not json")
        yield* fs.makeDirectory(path.join(stateDir, "runtimes", "stray-dir-without-metadata"))
        const listed = yield* Stream.runCollect(local.list({ labels: { "managed-by": "sandbox-cli" } }))
        expect(Chunk.toReadonlyArray(listed).map((i) => i.instance_id)).toEqual([good.instance_id])
        expect((yield* Effect.flip(local.get(bad.instance_id))).reason).toBe("Unknown")
        expect((yield* Effect.flip(local.get("../../etc"))).reason).toBe("NotFound")
      }))

    it.scoped("with a workspace-path label the sandbox runs in that directory and destroy leaves it intact", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const workspace = yield* fs.makeTempDirectoryScoped({ prefix: "sandbox-local-ws-" })
        yield* fs.writeFileString(`${workspace}/README.md`, "mine\n")
        const { local } = yield* provider({ sync_mode: "none" })
        const instance = yield* local.create(spec({ [WORKSPACE_PATH_LABEL]: workspace }))
        expect(instance.workdir).toBe(workspace)
        const r = yield* local.exec(instance, { shell: "cat README.md && echo made > by-agent.txt && pwd -P" })
        expect(r.stdout).toBe(`mine\n${yield* fs.realPath(workspace)}\n`)
        expect(yield* fs.readFileString(`${workspace}/by-agent.txt`)).toBe("made\n")
        yield* local.archive(instance)
        yield* local.start(instance)
        yield* local.destroy(instance)
        expect((yield* Effect.flip(local.get(instance.instance_id))).reason).toBe("NotFound")
        expect((yield* fs.readDirectory(workspace)).sort()).toEqual(["README.md", "by-agent.txt"])
      }))

    it.scoped("archive packs the runtime into <stateDir>/archives, start restores it, destroy removes everything", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const path = yield* Path.Path
        const { local, stateDir } = yield* provider()
        const instance = yield* local.create(spec())
        const runtime = path.join(stateDir, "runtimes", instance.instance_id)
        yield* local.writeFile(instance, "src/main.sh", bytes("echo hi\n"), { mode: 0o755 })
        yield* local.exec(instance, { argv: ["ln", "-s", "src/main.sh", "main"] })
        const archived = yield* local.archive(instance)
        expect(archived.state).toBe("archived")
        expect(yield* fs.exists(runtime)).toBe(false)
        expect((yield* fs.readDirectory(path.join(stateDir, "archives"))).sort()).toEqual([
          `${instance.instance_id}.sandbox.json`,
          `${instance.instance_id}.tar.gz`
        ])
        expect((yield* Effect.flip(local.readFile(archived, "src/main.sh"))).reason).toBe("InvalidState")
        expect((yield* local.archive(archived)).state).toBe("archived")
        const restored = yield* local.start(archived)
        expect(restored.state).toBe("running")
        expect((yield* local.exec(restored, { argv: ["./main"] })).stdout).toBe("hi\n")
        expect((yield* local.stat(restored, "src/main.sh")).mode).toBe(0o755)
        expect(yield* fs.readDirectory(path.join(stateDir, "archives"))).toEqual([])
        yield* local.archive(restored)
        yield* local.destroy(restored)
        expect(yield* fs.readDirectory(path.join(stateDir, "archives"))).toEqual([])
        expect(yield* fs.readDirectory(path.join(stateDir, "runtimes"))).toEqual([".meta"])
        expect(yield* fs.readDirectory(path.join(stateDir, "runtimes", ".meta"))).toEqual([])
      }))

    it.scoped("destroy removes a small runtime at once and a big one a directory at a time, links not followed", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const path = yield* Path.Path
        const { local, stateDir } = yield* provider()
        const outside = yield* fs.makeTempDirectoryScoped({ prefix: "sandbox-local-outside-" })
        yield* fs.writeFileString(path.join(outside, "kept.txt"), "kept")
        const small = yield* local.create(spec())
        const big = yield* local.create(spec())
        for (const instance of [small, big]) {
          yield* local.writeFile(instance, "a/b/c.txt", bytes("c"))
          yield* local.exec(instance, { argv: ["ln", "-s", outside, "a/outside"] })
        }
        const files = RemoveTree.SMALL_TREE + 10
        yield* local.exec(big, { shell: `mkdir many && cd many && seq 1 ${files} | xargs touch` })
        expect(RemoveTree.isSmall(path.join(stateDir, "runtimes", small.instance_id))).toBe(true)
        expect(RemoveTree.isSmall(path.join(stateDir, "runtimes", big.instance_id))).toBe(false)
        yield* local.destroy(small)
        yield* local.destroy(big)
        expect(yield* fs.readDirectory(path.join(stateDir, "runtimes"))).toEqual([".meta"])
        expect(yield* fs.readFileString(path.join(outside, "kept.txt"))).toBe("kept")
      }))

    it.scoped("a command left running by a provider that died is killed by destroy from a new provider", () =>
      Effect.gen(function*() {
        const { stateDir } = yield* provider()
        // The first provider's scope is never closed: as if its process had been SIGKILLed.
        const abandoned = yield* Scope.make()
        const first = yield* Scope.extend(LocalProvider.make({ profile: builtinLocal, stateDir }), abandoned)
        const instance = yield* first.create(spec())
        yield* Effect.forkIn(
          first.exec(instance, { shell: "echo $$ > pid; exec sleep 120" }),
          abandoned
        )
        let pid = 0
        for (let i = 0; i < 100 && pid === 0; i++) {
          pid = yield* Effect.orElseSucceed(readPid(first, instance, "pid"), () => 0)
          if (pid === 0) yield* Effect.sleep("50 millis")
        }
        expect(pid).toBeGreaterThan(0)
        expect(yield* isAlive(pid)).toBe(true)
        const second = yield* LocalProvider.make({ profile: builtinLocal, stateDir })
        yield* second.destroy(instance)
        expect(yield* awaitGone(pid)).toBe(true)
      }).pipe(TestServices.provideLive))

    it.scoped("a provider that closes kills only its own commands, not another process's in the same sandbox", () =>
      Effect.gen(function*() {
        const { local, stateDir } = yield* provider()
        const instance = yield* sandbox(local)
        yield* Effect.forkScoped(local.exec(instance, { shell: "echo $$ > pid; exec sleep 120" }))
        let pid = 0
        for (let i = 0; i < 100 && pid === 0; i++) {
          pid = yield* Effect.orElseSucceed(readPid(local, instance, "pid"), () => 0)
          if (pid === 0) yield* Effect.sleep("50 millis")
        }
        expect(pid).toBeGreaterThan(0)
        // Another provider (another CLI process) runs a command in the same sandbox and goes away.
        yield* Effect.scoped(
          Effect.flatMap(
            LocalProvider.make({ profile: builtinLocal, stateDir }),
            (other) => other.exec(instance, { argv: ["true"] })
          )
        )
        expect(yield* isAlive(pid)).toBe(true)
      }).pipe(TestServices.provideLive))

    it.scoped("metadata survives the provider: a new provider over the same state finds the sandbox", () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const { stateDir } = yield* provider()
        const s = spec()
        const first = yield* Effect.scoped(
          Effect.flatMap(LocalProvider.make({ profile: builtinLocal, stateDir }), (p) => p.create(s))
        )
        const second = yield* LocalProvider.make({ profile: builtinLocal, stateDir })
        const again = yield* second.create(s)
        expect(again.instance_id).toBe(first.instance_id)
        expect(yield* fs.exists(again.workdir)).toBe(true)
        yield* second.destroy(again)
      }))
  })
})
