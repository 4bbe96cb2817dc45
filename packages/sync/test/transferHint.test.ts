/**
 * The archive format follows the provider's transfer hint (`archive_format`), never its name: a third-party
 * provider gets what the built-in local one gets by declaring the same hint.
 */
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { EngineLayer, seed, world } from "./fixtures/harness.js"

layer(EngineLayer)("transfer hints", (it) => {
  it.scoped("a third-party provider that declares archive_format tar gets plain tar archives", () =>
    Effect.gen(function*() {
      const w = yield* world({ "a.txt": "A" }, "archive", { name: "acme-vm", archiveFormat: "tar" })
      yield* seed(w.request())
      expect(w.dir.formats).toEqual(["tar"])
    }))

  it.scoped("a provider named local without the hint gets gzip like any other", () =>
    Effect.gen(function*() {
      const w = yield* world({ "a.txt": "A" }, "archive", { name: "local" })
      yield* seed(w.request())
      expect(w.dir.formats).toEqual(["tar.gz"])
    }))
})
