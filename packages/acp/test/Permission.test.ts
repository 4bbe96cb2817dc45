import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as Paths from "../src/internal/paths.js"
import { keepTail } from "../src/internal/text.js"
import * as Permission from "../src/Permission.js"

const request = (kinds: ReadonlyArray<Permission.PermissionOption["kind"]>): Permission.PermissionRequest => ({
  tool_call_id: "t1",
  title: "Write a.txt",
  kind: "edit",
  input: null,
  options: kinds.map((kind) => ({ option_id: kind, name: kind, kind }))
})

describe("Permission.decide", () => {
  it.effect("allow-in-sandbox picks a one-time allow before a permanent one", () =>
    Effect.gen(function*() {
      const d = yield* Permission.decide("allow-in-sandbox", request(["allow_always", "allow_once", "reject_once"]))
      expect(d).toEqual({ outcome: "selected", option_id: "allow_once", option_kind: "allow_once", by: "policy" })
      const only = yield* Permission.decide("allow-in-sandbox", request(["reject_once"]))
      expect(only.outcome).toBe("cancelled")
    }))

  it.effect("deny picks a reject, or cancels when none is offered", () =>
    Effect.gen(function*() {
      expect(yield* Permission.decide("deny", request(["allow_once", "reject_always"]))).toMatchObject({
        outcome: "selected",
        option_id: "reject_always"
      })
      expect(yield* Permission.decide("deny", request(["allow_once"]))).toMatchObject({ outcome: "cancelled" })
    }))

  it.effect("ask uses the asker, and cancels without one or for an unknown answer", () =>
    Effect.gen(function*() {
      const ask: Permission.Asker = () => Effect.succeed(Option.some("reject_once"))
      expect(yield* Permission.decide("ask", request(["allow_once", "reject_once"]), ask)).toMatchObject({
        outcome: "selected",
        option_id: "reject_once",
        by: "user"
      })
      expect(yield* Permission.decide("ask", request(["allow_once"]))).toMatchObject({
        outcome: "cancelled",
        note: "no terminal attached to ask"
      })
      const bogus: Permission.Asker = () => Effect.succeed(Option.some("nope"))
      expect(yield* Permission.decide("ask", request(["allow_once"]), bogus)).toMatchObject({ outcome: "cancelled" })
    }))
})

describe("paths", () => {
  it("confines to the root after resolving dot segments", () => {
    expect(Paths.confine("/w", "a/../b.txt")).toEqual({ _tag: "Inside", path: "/w/b.txt" })
    expect(Paths.confine("/w/", "/w/x/./y")).toEqual({ _tag: "Inside", path: "/w/x/y" })
    expect(Paths.confine("/w", "/w")).toEqual({ _tag: "Inside", path: "/w" })
    expect(Paths.confine("/w", "../w2/x")._tag).toBe("Outside")
    expect(Paths.confine("/w", "/wx")._tag).toBe("Outside")
    expect(Paths.confine("/w", "/w/../../etc/passwd")._tag).toBe("Outside")
    expect(Paths.confine("/w", "a\0b")._tag).toBe("Outside")
    expect(Paths.confine("/w", "")._tag).toBe("Outside")
  })

  it("keeps the tail of terminal output at a character boundary", () => {
    expect(keepTail("hello", 10)).toEqual({ text: "hello", truncated: false })
    expect(keepTail("abcdef", 3)).toEqual({ text: "def", truncated: true })
    expect(keepTail("aé", 1)).toEqual({ text: "", truncated: true })
    expect(keepTail("xé", 2)).toEqual({ text: "é", truncated: true })
  })
})
