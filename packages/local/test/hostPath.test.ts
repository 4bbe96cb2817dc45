import { NodeContext } from "@effect/platform-node"
import * as FileSystem from "@effect/platform/FileSystem"
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { WORKSPACE_PATH_LABEL } from "../src/LocalProvider.js"
import { bwrapUsable, bytes, provider, sandbox, spec, text } from "./helpers.js"

layer(NodeContext.layer)("LocalProvider.hostPath", (it) => {
  it.scoped("is the workdir: what the runtime writes is there, and what is written there the runtime reads", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const { local } = yield* provider()
      const instance = yield* sandbox(local)
      const dir = yield* local.hostPath!(instance)
      expect(dir).toBe(instance.workdir)
      yield* local.exec(instance, { shell: "mkdir -p sub && printf from-runtime > sub/a.txt" })
      expect(yield* fs.readFileString(`${dir}/sub/a.txt`)).toBe("from-runtime")
      yield* fs.writeFileString(`${dir}/b.txt`, "from-host")
      expect(text(yield* local.readFile(instance, "b.txt"))).toBe("from-host")
    }))

  it.scoped.skipIf(!bwrapUsable)(
    "under bubblewrap it is the same host directory the isolated processes see",
    () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const { local } = yield* provider({ isolation: "bubblewrap" })
        const instance = yield* sandbox(local)
        const dir = yield* local.hostPath!(instance)
        yield* fs.writeFileString(`${dir}/host.txt`, "seen inside")
        const r = yield* local.exec(instance, { shell: "cat host.txt && printf inside > inside.txt" })
        expect(r.stdout).toBe("seen inside")
        expect(yield* fs.readFileString(`${dir}/inside.txt`)).toBe("inside")
      })
  )

  it.scoped("with sync_mode none it is the workspace itself", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const workspace = yield* fs.makeTempDirectoryScoped({ prefix: "sandbox-local-ws-" })
      const { local } = yield* provider()
      const instance = yield* sandbox(local, spec({ [WORKSPACE_PATH_LABEL]: workspace }))
      expect(yield* local.hostPath!(instance)).toBe(workspace)
    }))

  it.scoped("fails InvalidState once the sandbox is archived, and works again after start", () =>
    Effect.gen(function*() {
      const { local } = yield* provider()
      const instance = yield* sandbox(local)
      yield* local.writeFile(instance, "kept.txt", bytes("kept"))
      const archived = yield* local.archive(instance)
      const error = yield* Effect.flip(local.hostPath!(archived))
      expect(error.reason).toBe("InvalidState")
      const started = yield* local.start(archived)
      const fs = yield* FileSystem.FileSystem
      expect(yield* fs.readFileString(`${yield* local.hostPath!(started)}/kept.txt`)).toBe("kept")
    }))
})
