/**
 * `sandbox start` and `sandbox rm` on Daytona (the real SDK against the emulator; issue 12, items 8 and 9): an
 * archived sandbox is started again and used, then removed.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { scopedEmulator } from "./emulator.js"
import { expectError, expectOk, fixture, json } from "./helpers.js"

const TIMEOUT = 240_000
const KEY = "e2e-sandbox-key"
const env = { DAYTONA_API_KEY: KEY }

interface SandboxJson {
  readonly sandbox_id: string
  readonly profile: string
  readonly state: string
}

layer(NodeContext.layer)("sandbox-cli sandbox start / rm (daytona emulator)", (it) => {
  it.scoped("an archived sandbox starts again and runs commands; rm removes it", () =>
    Effect.gen(function*() {
      const emu = yield* scopedEmulator({ apiKey: KEY })
      const cli = yield* fixture()
      yield* cli.write(
        "cwd/.sandbox-cli.toml",
        `[sandboxes.arch]\nbackend = "daytona"\npersistence = "archive"\n[sandboxes.arch.daytona]\n` +
          `api_url = "${emu.url}"\n`
      )
      expectOk(yield* cli.run(["run", "-p", "arch", "--", "sh", "-c", "echo made > made.txt"], { env }))
      const list = () =>
        Effect.map(
          cli.run(["sandbox", "list", "-o", "json"], { env }),
          (r) => json<ReadonlyArray<SandboxJson>>(r)
        )
      const [sbx] = yield* list()
      expect(sbx).toMatchObject({ profile: "arch", state: "archived" })
      expect(expectError(yield* cli.run(["sandbox", "exec", sbx!.sandbox_id, "--", "true"], { env }), 2)).toContain(
        `sandbox-cli sandbox start ${sbx!.sandbox_id}`
      )
      const started = json<{ state: string }>(
        yield* cli.run(["sandbox", "start", sbx!.sandbox_id, "-o", "json"], { env })
      )
      expect(started.state).toBe("running")
      const exec = yield* cli.run(["sandbox", "exec", sbx!.sandbox_id, "-o", "json", "--", "cat", "made.txt"], { env })
      expect(JSON.parse(exec.stdout)).toEqual({ exit_code: 0, stdout: "made\n", stderr: "" })
      expectOk(yield* cli.run(["sandbox", "rm", sbx!.sandbox_id], { env }))
      expect(yield* list()).toEqual([])
      expect(emu.sandboxes().filter((s) => s.state !== "destroyed" && s.state !== "destroying")).toEqual([])
    }), TIMEOUT)
})
