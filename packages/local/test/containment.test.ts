import { NodeContext } from "@effect/platform-node"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { expect, layer } from "@effect/vitest"
import type { Instance, Service } from "@org/sandbox-core/SandboxProvider"
import { Effect } from "effect"
import { createServer } from "node:net"
import { WORKSPACE_PATH_LABEL } from "../src/LocalProvider.js"
import { bwrapUsable, provider, sandbox, spec } from "./helpers.js"

/**
 * What a hostile agent writes to redirect its sandbox: the provider metadata as it looked on disk, with
 * `workspace_path` pointing at a host directory it wants bound read-write (and later scanned and deleted).
 */
const forged = (instance: Instance, victim: string) =>
  JSON.stringify({
    version: 1,
    sandbox_id: instance.instance_id,
    state: "running",
    labels: instance.labels,
    env: {},
    workspace_path: victim,
    created_at: "2026-01-01T00:00:00.000Z",
    updated_at: "2026-01-01T00:00:00.000Z"
  })

/** A directory outside any runtime and outside /tmp (which bubblewrap replaces anyway), holding a file. */
const hostDirectory = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const dir = yield* fs.makeTempDirectoryScoped({ directory: process.cwd(), prefix: ".sandbox-local-victim-" })
  yield* fs.writeFileString(`${dir}/precious.txt`, "the user's work\n")
  return dir
})

/** Every place the agent might hope the provider keeps its metadata, written from inside the sandbox. */
const plant = (local: Service, instance: Instance, json: string, candidates: ReadonlyArray<string>) =>
  Effect.forEach(
    candidates,
    (file) => local.exec(instance, { shell: `cat > "${file}" 2>/dev/null; true`, stdin: json }),
    { discard: true }
  )

/** After the attempt, the sandbox still runs in its own runtime and the victim is untouched. */
const stillContained = (local: Service, instance: Instance, victim: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const again = yield* local.get(instance.instance_id)
    expect(again.workdir).toBe(instance.workdir)
    expect(yield* local.hostPath!(again)).toBe(instance.workdir)
    const where = yield* local.exec(again, { shell: "pwd -P && echo owned > owned.txt" })
    expect(where.stdout).toBe(`${yield* fs.realPath(instance.workdir)}\n`)
    expect(yield* fs.exists(`${victim}/owned.txt`)).toBe(false)
    yield* local.destroy(again)
    expect((yield* fs.readDirectory(victim)).sort()).toEqual(["precious.txt"])
    expect(yield* fs.readFileString(`${victim}/precious.txt`)).toBe("the user's work\n")
  })

layer(NodeContext.layer)("LocalProvider containment", (it) => {
  it.scoped("nothing the runtime writes decides where the sandbox runs or what the host scans", () =>
    Effect.gen(function*() {
      const path = yield* Path.Path
      const victim = yield* hostDirectory
      const { local } = yield* provider()
      const instance = yield* sandbox(local)
      // Everything under the runtime directory is the runtime's to write (isolation = "none" binds nothing).
      const runtimeDir = path.dirname(instance.workdir)
      yield* plant(local, instance, forged(instance, victim), [
        `${runtimeDir}/.sandbox.json`,
        `${instance.workdir}/.sandbox.json`
      ])
      yield* stillContained(local, instance, victim)
    }))

  it.scoped("a workspace-path that holds or lies in the state directory is refused: it would bind the records", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const { local, stateDir } = yield* provider({ sync_mode: "none" })
      for (const workspace of [path.dirname(stateDir), stateDir, path.join(stateDir, "runtimes")]) {
        const error = yield* Effect.flip(local.create(spec({ [WORKSPACE_PATH_LABEL]: workspace })))
        expect(error.reason).toBe("InvalidState")
        expect(error.detail).toContain("overlaps the")
      }
      const beside = yield* fs.makeTempDirectoryScoped({ prefix: "sandbox-local-ws-" })
      expect((yield* sandbox(local, spec({ [WORKSPACE_PATH_LABEL]: beside }))).workdir).toBe(beside)
    }))

  it.scoped.skipIf(!bwrapUsable)(
    "under bubblewrap the agent cannot rewrite its metadata to bind a host directory",
    () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const path = yield* Path.Path
        const victim = yield* hostDirectory
        const { local, stateDir } = yield* provider({ isolation: "bubblewrap" })
        const instance = yield* sandbox(local)
        const runtimes = path.join(stateDir, "runtimes")
        const candidates = [
          `${path.dirname(instance.workdir)}/.sandbox.json`,
          `${instance.workdir}/.sandbox.json`,
          ...(yield* fs.readDirectory(runtimes)).flatMap((name) =>
            name.startsWith(".") ? [`${runtimes}/${name}/${instance.instance_id}.json`] : []
          )
        ]
        yield* plant(local, instance, forged(instance, victim), candidates)
        const seen = yield* local.exec(instance, { shell: `cat "${victim}/precious.txt"` })
        expect(seen.exit_code).not.toBe(0)
        yield* stillContained(local, instance, victim)
      })
  )

  it.scoped.skipIf(!bwrapUsable)(
    "under bubblewrap host files outside the runtime are not visible: not the user's, not the state directory",
    () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const outside = yield* hostDirectory
        const { local, stateDir } = yield* provider({ isolation: "bubblewrap" }, {
          hostEnv: { PATH: "/usr/bin:/bin", HOME: outside }
        })
        const instance = yield* sandbox(local)
        const read = yield* local.exec(instance, { shell: `cat "${outside}/precious.txt"` })
        expect(read.exit_code).not.toBe(0)
        expect(read.stdout).toBe("")
        // Of the state directory only the empty directories leading to the runtime's workdir are there.
        const state = yield* local.exec(instance, { shell: `find "${stateDir}" ! -type d` })
        expect(state).toEqual({ exit_code: 0, stdout: "", stderr: "" })
        // HOME is private and empty; system directories are there, read-only.
        const home = yield* local.exec(instance, {
          shell: "ls -A \"$HOME\" && echo x > \"$HOME/h\" && ls /usr/bin/env"
        })
        expect(home).toEqual({ exit_code: 0, stdout: "/usr/bin/env\n", stderr: "" })
        expect(yield* fs.exists(`${outside}/h`)).toBe(false)
        for (const dir of ["/home", "/root", "/work", "/srv", "/mnt", "/var"]) {
          // At most the empty directories that lead to a mount point.
          const r = yield* local.exec(instance, { shell: `find ${dir} ! -type d 2>/dev/null | head -1` })
          expect(r.stdout, dir).toBe("")
        }
      })
  )

  it.scoped.skipIf(!bwrapUsable)(
    "network = false reaches no host service, not even on loopback",
    () =>
      Effect.gen(function*() {
        const server = createServer((socket) => socket.end("hello\n"))
        const port = yield* Effect.async<number>((resume) => {
          server.listen(0, "127.0.0.1", () => resume(Effect.succeed((server.address() as { port: number }).port)))
        })
        yield* Effect.addFinalizer(() => Effect.sync(() => server.close()))
        const probe = `exec 3<>/dev/tcp/127.0.0.1/${port} && head -1 <&3`
        const open = yield* provider({ isolation: "bubblewrap", network: true })
        const reached = yield* open.local.exec(yield* sandbox(open.local), { argv: ["bash", "-c", probe] })
        expect(reached.stdout).toBe("hello\n")
        const closed = yield* provider({ isolation: "bubblewrap", network: false })
        const refused = yield* closed.local.exec(yield* sandbox(closed.local), { argv: ["bash", "-c", probe] })
        expect(refused.exit_code).not.toBe(0)
        expect(refused.stdout).toBe("")
      })
  )
})
