/**
 * The conflict matrix: {create, modify, delete, type changes, exec bit, symlinks} × {host only, runtime only,
 * both} × {seed, session-bidirectional}, each asserting the exact final trees on both sides and the conflicts.
 */
import { describe, expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { EngineLayer, readTree, seed, SESSION, sorted, sync, transports, world, writeTree } from "./fixtures/harness.js"

type Side = "host" | "runtime"

const T0 = {
  "a.txt": "A",
  "dir/b.txt": "B",
  "dir/sub/c.txt": "C",
  "run.sh": { x: "#!/bin/sh\n" },
  link: { link: "a.txt" },
  "keep.txt": "K"
} as const

interface Change {
  readonly name: string
  readonly apply: (root: string, side: Side) => void
  /** Where a conflict appears when both sides make the change differently (`undefined`: they agree). */
  readonly both: string | undefined
  /** What a re-seed does with a runtime-only change: keep it untracked, restore the host's, or a conflict at. */
  readonly seedRuntime: "untracked" | "restore" | { readonly conflict: string }
}

const at = (root: string, p: string) => path.join(root, p)
const write = (root: string, p: string, text: string) => {
  fs.mkdirSync(path.dirname(at(root, p)), { recursive: true })
  fs.writeFileSync(at(root, p), text)
}

const changes: ReadonlyArray<Change> = [
  { name: "create file", apply: (r, s) => write(r, "new.txt", `N-${s}`), both: "new.txt", seedRuntime: "untracked" },
  {
    name: "modify file",
    apply: (r, s) => write(r, "a.txt", `A-${s}`),
    both: "a.txt",
    seedRuntime: { conflict: "a.txt" }
  },
  { name: "delete file", apply: (r) => fs.rmSync(at(r, "dir/b.txt")), both: undefined, seedRuntime: "restore" },
  {
    name: "delete directory",
    apply: (r) => fs.rmSync(at(r, "dir/sub"), { recursive: true }),
    both: undefined,
    seedRuntime: "restore"
  },
  {
    name: "file → dir",
    apply: (r, s) => {
      fs.rmSync(at(r, "a.txt"))
      write(r, "a.txt/inner.txt", `I-${s}`)
    },
    both: "a.txt/inner.txt",
    seedRuntime: { conflict: "a.txt" }
  },
  {
    name: "dir → file",
    apply: (r, s) => {
      fs.rmSync(at(r, "dir/sub"), { recursive: true })
      write(r, "dir/sub", `S-${s}`)
    },
    both: "dir/sub",
    seedRuntime: { conflict: "dir/sub" }
  },
  {
    name: "file → symlink",
    apply: (r, s) => {
      fs.rmSync(at(r, "keep.txt"))
      fs.symlinkSync(s === "host" ? "a.txt" : "run.sh", at(r, "keep.txt"))
    },
    both: "keep.txt",
    seedRuntime: { conflict: "keep.txt" }
  },
  {
    name: "symlink → file",
    apply: (r, s) => {
      fs.rmSync(at(r, "link"))
      write(r, "link", `L-${s}`)
    },
    both: "link",
    seedRuntime: { conflict: "link" }
  },
  {
    name: "exec bit cleared",
    apply: (r) => fs.chmodSync(at(r, "run.sh"), 0o644),
    both: undefined,
    seedRuntime: { conflict: "run.sh" }
  },
  {
    name: "exec bit set",
    apply: (r) => fs.chmodSync(at(r, "keep.txt"), 0o755),
    both: undefined,
    seedRuntime: { conflict: "keep.txt" }
  },
  {
    name: "symlink retarget",
    apply: (r, s) => {
      fs.rmSync(at(r, "link"))
      fs.symlinkSync(s === "host" ? "dir/b.txt" : "keep.txt", at(r, "link"))
    },
    both: "link",
    seedRuntime: { conflict: "link" }
  },
  {
    name: "symlink create",
    apply: (r, s) => fs.symlinkSync(s === "host" ? "a.txt" : "dir", at(r, "newlink")),
    both: "newlink",
    seedRuntime: "untracked"
  },
  { name: "symlink delete", apply: (r) => fs.rmSync(at(r, "link")), both: undefined, seedRuntime: "restore" }
]

/** The tree T0 with `change` applied by `side` (computed in a scratch dir with the same code). */
const treeAfter = (change: Change | undefined, side: Side): Record<string, string> => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sync-expect-"))
  try {
    writeTree(dir, T0)
    change?.apply(dir, side)
    return readTree(dir)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

// the runtime's side of a conflict beside the host's: a file, a symlink, or a whole directory tree
const withCopy = (tree: Record<string, string>, conflict: string, runtimeTree: Record<string, string>) => {
  if (runtimeTree[conflict] === undefined) return tree
  const copy = `${conflict}.sandbox-conflict-${SESSION}`
  const out = { ...tree }
  for (const [p, v] of Object.entries(runtimeTree)) {
    if (p === conflict || p.startsWith(`${conflict}/`)) out[`${copy}${p.slice(conflict.length)}`] = v
  }
  return sorted(out)
}

const sides = ["host", "runtime", "both"] as const

for (const transport of transports) {
  layer(EngineLayer)(`conflict matrix [${transport}]`, (it) => {
    for (const change of changes) {
      describe(change.name, () => {
        for (const who of sides) {
          it.scoped(`${who} · session-bidirectional checkpoint`, () =>
            Effect.gen(function*() {
              const w = yield* world(T0, transport)
              yield* seed(w.request())
              if (who !== "runtime") change.apply(w.host, "host")
              if (who !== "host") change.apply(w.runtime, "runtime")
              const result = yield* sync(w.request())
              const hostTree = treeAfter(change, "host")
              const runtimeTree = treeAfter(change, "runtime")
              if (who === "both" && change.both !== undefined) {
                expect(result.conflicts.map((c) => c.path)).toEqual([change.both])
                expect(readTree(w.runtime)).toEqual(runtimeTree)
                expect(readTree(w.host)).toEqual(withCopy(hostTree, change.both, runtimeTree))
              } else {
                expect(result.conflicts).toEqual([])
                const winner = who === "runtime" ? runtimeTree : hostTree
                expect(readTree(w.host)).toEqual(winner)
                expect(readTree(w.runtime)).toEqual(winner)
              }
              // a second sync is a no-op (the ancestor recorded the outcome)
              const again = yield* sync(w.request())
              expect(
                again.files_to_runtime + again.files_from_runtime + again.deleted_in_runtime + again.deleted_on_host
              )
                .toBe(0)
            }))

          if (who !== "both") {
            it.scoped(`${who} · session-bidirectional stop (sync-back)`, () =>
              Effect.gen(function*() {
                const w = yield* world(T0, transport)
                yield* seed(w.request())
                change.apply(who === "host" ? w.host : w.runtime, who)
                const result = yield* sync(w.request({ reason: "stop" }))
                expect(result.conflicts).toEqual([])
                if (who === "host") {
                  // host-only changes are left alone on sync-back
                  expect(readTree(w.host)).toEqual(treeAfter(change, "host"))
                  expect(readTree(w.runtime)).toEqual(treeAfter(undefined, "host"))
                  expect(result.files_to_runtime + result.deleted_in_runtime).toBe(0)
                } else {
                  expect(readTree(w.host)).toEqual(treeAfter(change, "runtime"))
                  expect(readTree(w.runtime)).toEqual(treeAfter(change, "runtime"))
                }
              }))
          }

          it.scoped(`${who} · seed mode`, () =>
            Effect.gen(function*() {
              const w = yield* world(T0, transport)
              yield* seed(w.request({ mode: "seed" }))
              if (who !== "runtime") change.apply(w.host, "host")
              if (who !== "host") change.apply(w.runtime, "runtime")
              const before = { host: readTree(w.host), runtime: readTree(w.runtime) }
              // in seed mode a sync moves nothing
              const idle = yield* sync(w.request({ mode: "seed" }))
              expect({ ...idle, duration_ms: 0 }).toEqual({
                files_to_runtime: 0,
                bytes_to_runtime: 0,
                deleted_in_runtime: 0,
                files_from_runtime: 0,
                bytes_from_runtime: 0,
                deleted_on_host: 0,
                conflicts: [],
                refused: [],
                held: [],
                left_behind: [],
                notices: [],
                duration_ms: 0
              })
              expect({ host: readTree(w.host), runtime: readTree(w.runtime) }).toEqual(before)
              // a re-seed is one-way-safe: host changes go, runtime changes are never overwritten
              const result = yield* seed(w.request({ mode: "seed" }))
              const hostTree = treeAfter(change, "host")
              const runtimeTree = treeAfter(change, "runtime")
              const base = treeAfter(undefined, "host")
              if (who === "host") {
                expect(result.conflicts).toEqual([])
                expect(readTree(w.host)).toEqual(hostTree)
                expect(readTree(w.runtime)).toEqual(hostTree)
              } else if (who === "runtime") {
                const outcome = change.seedRuntime
                if (outcome === "untracked") {
                  expect(result.conflicts).toEqual([])
                  expect(readTree(w.host)).toEqual(base)
                  expect(readTree(w.runtime)).toEqual(runtimeTree)
                } else if (outcome === "restore") {
                  expect(result.conflicts).toEqual([])
                  expect(readTree(w.host)).toEqual(base)
                  expect(readTree(w.runtime)).toEqual(base)
                } else {
                  expect(result.conflicts.map((c) => c.path)).toEqual([outcome.conflict])
                  expect(readTree(w.runtime)).toEqual(runtimeTree)
                  expect(readTree(w.host)).toEqual(withCopy(base, outcome.conflict, runtimeTree))
                }
              } else if (change.both !== undefined) {
                expect(result.conflicts.map((c) => c.path)).toEqual([change.both])
                expect(readTree(w.runtime)).toEqual(runtimeTree)
                expect(readTree(w.host)).toEqual(withCopy(hostTree, change.both, runtimeTree))
              } else {
                expect(result.conflicts).toEqual([])
                expect(readTree(w.host)).toEqual(hostTree)
                expect(readTree(w.runtime)).toEqual(hostTree)
              }
            }))
        }
      })
    }
  })
}
