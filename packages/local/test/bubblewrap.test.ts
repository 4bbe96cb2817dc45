import { NodeContext } from "@effect/platform-node"
import * as FileSystem from "@effect/platform/FileSystem"
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { WORKSPACE_PATH_LABEL } from "../src/LocalProvider.js"
import { bwrapUsable, provider, sandbox, spec, text } from "./helpers.js"

/** Interface names as /proc/net/dev shows them (it reflects the reader's network namespace). */
const interfaces = (procNetDev: string) =>
  procNetDev.split("\n").slice(2).map((line) => line.split(":")[0]!.trim()).filter((name) => name !== "").sort()

layer(NodeContext.layer)("LocalProvider with isolation = bubblewrap", (it) => {
  it.scoped("create fails Unsupported, naming the fix, when bwrap is not on PATH", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const emptyPath = yield* fs.makeTempDirectoryScoped({ prefix: "sandbox-local-nopath-" })
      const { local } = yield* provider({ isolation: "bubblewrap" }, { hostEnv: { PATH: emptyPath } })
      const error = yield* Effect.flip(local.create(spec()))
      expect(error.reason).toBe("Unsupported")
      expect(error.detail).toBe("isolation = \"bubblewrap\" needs bwrap on PATH (apt-get install bubblewrap)")
    }))

  it.scoped.skipIf(!bwrapUsable)(
    "the host is read-only, the runtime writable and /tmp private",
    () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const { local } = yield* provider({ isolation: "bubblewrap" })
        const instance = yield* sandbox(local)
        const host = yield* local.exec(instance, { shell: "touch /usr/sandbox-bwrap-test" })
        expect(host.exit_code).not.toBe(0)
        expect(host.stderr).toContain("Read-only file system")
        expect(yield* fs.exists("/usr/sandbox-bwrap-test")).toBe(false)
        const marker = `/tmp/sandbox-bwrap-private-${instance.instance_id}`
        const inside = yield* local.exec(instance, {
          shell: `echo made > inside.txt && echo tmp > ${marker} && cat ${marker}`
        })
        expect(inside).toEqual({ exit_code: 0, stdout: "tmp\n", stderr: "" })
        expect(text(yield* local.readFile(instance, "inside.txt"))).toBe("made\n")
        expect(yield* fs.exists(marker)).toBe(false)
      })
  )

  it.scoped.skipIf(!bwrapUsable)(
    "a workspace-path sandbox can write its workspace and nothing beside it",
    () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const parent = yield* fs.makeTempDirectoryScoped({ prefix: "sandbox-local-bwrap-ws-" })
        yield* fs.makeDirectory(`${parent}/ws`)
        const { local } = yield* provider({ isolation: "bubblewrap", sync_mode: "none" })
        const instance = yield* sandbox(local, spec({ [WORKSPACE_PATH_LABEL]: `${parent}/ws` }))
        expect((yield* local.exec(instance, { shell: "echo ok > result.txt" })).exit_code).toBe(0)
        expect(yield* fs.readFileString(`${parent}/ws/result.txt`)).toBe("ok\n")
        // The parent is on the private /tmp inside the sandbox: a write there never reaches the host.
        yield* local.exec(instance, { shell: "echo escaped > ../escaped.txt" })
        expect(yield* fs.exists(`${parent}/escaped.txt`)).toBe(false)
      })
  )

  it.scoped.skipIf(!bwrapUsable)("no network namespace is shared unless network = true", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const closed = yield* provider({ isolation: "bubblewrap", network: false })
      const closedBox = yield* sandbox(closed.local)
      const none = yield* closed.local.exec(closedBox, { argv: ["cat", "/proc/net/dev"] })
      expect(interfaces(none.stdout)).toEqual(["lo"])
      const open = yield* provider({ isolation: "bubblewrap", network: true })
      const openBox = yield* sandbox(open.local)
      const shared = yield* open.local.exec(openBox, { argv: ["cat", "/proc/net/dev"] })
      expect(interfaces(shared.stdout)).toEqual(interfaces(yield* fs.readFileString("/proc/net/dev")))
    }))
})
