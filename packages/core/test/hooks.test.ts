import { NodeContext } from "@effect/platform-node"
import * as CommandExecutor from "@effect/platform/CommandExecutor"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Option } from "effect"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Hooks from "../src/Hooks.js"
import * as HookTrust from "../src/HookTrust.js"

describe("config hooks (real commands)", () => {
  it.effect("a hook gets the event as JSON on stdin and may add env through its stdout", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "hooks-"))
      const executor = yield* CommandExecutor.CommandExecutor
      const hooks = Hooks.fromConfig(
        { sandbox: { prepare: "cat > event.json; echo '{\"env\":{\"BUDGET\":\"10\"}}'" } },
        dir,
        executor,
        HookTrust.trustAll
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
        executor,
        HookTrust.trustAll
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
      const hooks = Hooks.fromConfig(
        { sandbox: { stop: ["/nonexistent/hook"] } },
        tmpdir(),
        executor,
        HookTrust.trustAll
      )
      const result = yield* Effect.either(Hooks.run(hooks, "sandbox.stop", {}))
      expect(Either.isLeft(result)).toBe(true)
    }).pipe(Effect.provide(NodeContext.layer)))

  it.effect("unset hooks allow and add nothing; non-JSON stdout is ignored", () =>
    Effect.gen(function*() {
      const executor = yield* CommandExecutor.CommandExecutor
      expect(yield* Hooks.run({}, "sandbox.ready", {})).toEqual({})
      const hooks = Hooks.fromConfig({ sandbox: { ready: "echo hello" } }, tmpdir(), executor, HookTrust.trustAll)
      expect(yield* Hooks.run(hooks, "sandbox.ready", {})).toEqual({})
    }).pipe(Effect.provide(NodeContext.layer)))

  describe("trust: a hook that changed since the user last ran it is not run", () => {
    /** A workspace with a hook script that leaves a mark each time it runs, and a trust store beside it. */
    const setup = () => {
      const root = mkdtempSync(join(tmpdir(), "hooks-trust-"))
      const workspace = join(root, "ws")
      mkdirSync(join(workspace, "hooks"), { recursive: true })
      const script = join(workspace, "hooks", "prepare.sh")
      writeFileSync(script, "#!/bin/sh\necho run >> \"$MARKS\"\n", { mode: 0o755 })
      const marks = join(root, "marks")
      const runs = () => (existsSync(marks) ? readFileSync(marks, "utf8").split("\n").filter(Boolean).length : 0)
      return { root, workspace, script, marks, runs, dir: join(root, "state", "trusted-hooks") }
    }
    const prepare = (
      t: ReturnType<typeof setup>,
      spec: string | readonly [string, ...Array<string>],
      approve = false
    ) =>
      Effect.gen(function*() {
        const executor = yield* CommandExecutor.CommandExecutor
        const trust = yield* HookTrust.make({ dir: t.dir, approve })
        const hooks = Hooks.fromConfig({ sandbox: { prepare: spec } }, t.workspace, executor, trust)
        return yield* Effect.either(Hooks.run(hooks, "sandbox.prepare", {}))
      })

    it.effect("a script edited after its first run is refused with one line naming the fix, and runs once approved", () =>
      Effect.gen(function*() {
        const t = setup()
        // The log it appends to changes at every run: data, not code, so it never makes the hook "changed".
        const spec = `MARKS=${t.marks} ./hooks/prepare.sh >> hooks.log`
        expect(Either.isRight(yield* prepare(t, spec))).toBe(true)
        expect(Either.isRight(yield* prepare(t, spec))).toBe(true)
        expect(t.runs()).toBe(2)
        // What a sandbox might send home: the same hook, doing something else.
        writeFileSync(t.script, "#!/bin/sh\necho run >> \"$MARKS\"\necho pwned > /dev/null\n")
        const refused = yield* prepare(t, spec)
        expect(t.runs()).toBe(2)
        const error = Either.getLeft(refused).pipe(Option.getOrThrow)
        expect(error.message).toBe(
          "hook sandbox.prepare not run: ./hooks/prepare.sh changed since you last ran it; " +
            "check it, then run again with --trust-hooks"
        )
        expect(error.message).not.toContain("\n")
        // Still refused until approved; approval runs it and trusts it as it is now.
        expect(Either.isLeft(yield* prepare(t, spec))).toBe(true)
        expect(Either.isRight(yield* prepare(t, spec, true))).toBe(true)
        expect(Either.isRight(yield* prepare(t, spec))).toBe(true)
        expect(t.runs()).toBe(4)
      }).pipe(Effect.provide(NodeContext.layer)))

    it.effect("a changed command in the hooks table is refused too; other workspaces are trusted apart", () =>
      Effect.gen(function*() {
        const t = setup()
        expect(Either.isRight(yield* prepare(t, ["sh", "-c", `echo run >> ${t.marks}`]))).toBe(true)
        const changed = yield* prepare(t, ["sh", "-c", `echo run >> ${t.marks}; curl example.com`])
        expect(Either.getLeft(changed).pipe(Option.getOrThrow).message).toContain("its command changed")
        expect(t.runs()).toBe(1)
        const other = { ...t, workspace: join(t.root, "other") }
        mkdirSync(other.workspace)
        expect(Either.isRight(yield* prepare(other, ["sh", "-c", `echo run >> ${t.marks}; true`]))).toBe(true)
        expect(t.runs()).toBe(2)
      }).pipe(Effect.provide(NodeContext.layer)))
  })
})
