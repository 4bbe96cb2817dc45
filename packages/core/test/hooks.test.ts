import { NodeContext } from "@effect/platform-node"
import * as CommandExecutor from "@effect/platform/CommandExecutor"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Hooks from "../src/Hooks.js"

describe("config hooks (real commands)", () => {
  it.effect("a hook gets the event as JSON on stdin and may add env through its stdout", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "hooks-"))
      const executor = yield* CommandExecutor.CommandExecutor
      const hooks = Hooks.fromConfig(
        { sandbox: { prepare: "cat > event.json; echo '{\"env\":{\"BUDGET\":\"10\"}}'" } },
        dir,
        executor
      )
      const result = yield* Hooks.run(hooks, "sandbox.prepare", { session_id: "ses_1", workspace: "app" })
      expect(result.env).toEqual({ BUDGET: "10" })
      const event = JSON.parse(readFileSync(join(dir, "event.json"), "utf8"))
      expect(event).toEqual({ session_id: "ses_1", workspace: "app", type: "sandbox.prepare" })
    }).pipe(Effect.provide(NodeContext.layer)))

  it.effect("a non-zero exit denies, with the hook's output in the error", () =>
    Effect.gen(function*() {
      const executor = yield* CommandExecutor.CommandExecutor
      const hooks = Hooks.fromConfig(
        { sandbox: { sync: { before: ["sh", "-c", "echo 'secrets found' >&2; exit 4"] } } },
        tmpdir(),
        executor
      )
      const result = yield* Effect.either(Hooks.run(hooks, "sandbox.sync.before", {}))
      expect(Either.isLeft(result)).toBe(true)
      const error = Either.getLeft(result).pipe((o) => (o._tag === "Some" ? o.value : undefined))!
      expect(error.exit_code).toBe(4)
      expect(error.message).toBe("hook sandbox.sync.before denied (exit 4): secrets found")
    }).pipe(Effect.provide(NodeContext.layer)))

  it.effect("a hook command that does not exist denies instead of crashing", () =>
    Effect.gen(function*() {
      const executor = yield* CommandExecutor.CommandExecutor
      const hooks = Hooks.fromConfig({ sandbox: { stop: ["/nonexistent/hook"] } }, tmpdir(), executor)
      const result = yield* Effect.either(Hooks.run(hooks, "sandbox.stop", {}))
      expect(Either.isLeft(result)).toBe(true)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.effect("unset hooks allow and add nothing; non-JSON stdout is ignored", () =>
    Effect.gen(function*() {
      const executor = yield* CommandExecutor.CommandExecutor
      expect(yield* Hooks.run({}, "sandbox.ready", {})).toEqual({})
      const hooks = Hooks.fromConfig({ sandbox: { ready: "echo hello" } }, tmpdir(), executor)
      expect(yield* Hooks.run(hooks, "sandbox.ready", {})).toEqual({})
    }).pipe(Effect.provide(NodeContext.layer)))
})
