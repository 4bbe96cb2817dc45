/**
 * The runtime's watcher process, each variant run for real (a `sh` started through the provider's `execStream`,
 * as in a sandbox): it says which watcher runs, reports a file written, rewritten in place, made in a new
 * directory and deleted (at the top and below), never an excluded one, and stops when its lease goes.
 * `inotifywait` needs `inotify-tools` (CI installs it).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import { execSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Filter from "../src/Filter.js"
import * as RuntimeWatch from "../src/RuntimeWatch.js"
import { world } from "./fixtures/harness.js"

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`

const has = (command: string) => {
  try {
    execSync(`command -v ${command}`, { stdio: "ignore", shell: "/bin/sh" })
    return true
  } catch {
    return false
  }
}

const until = (check: () => boolean, timeoutMs = 20_000) =>
  Effect.gen(function*() {
    const start = Date.now()
    while (!check()) {
      if (Date.now() - start > timeoutMs) return false
      yield* Effect.sleep("20 millis")
    }
    return true
  })

const available: Record<RuntimeWatch.Variant, boolean> = {
  "python-inotify": has("python3"),
  inotifywait: has("inotifywait"),
  scan: true
}

describe("RuntimeWatch", () => {
  for (const variant of RuntimeWatch.variants) {
    it.live.skipIf(!available[variant])(
      `${variant}: reports what changed, with its subtree's root`,
      () =>
        Effect.gen(function*() {
          const w = yield* world({})
          fs.mkdirSync(path.join(w.runtime, "dir/sub"), { recursive: true })
          fs.writeFileSync(path.join(w.runtime, "top.txt"), "T")
          fs.writeFileSync(path.join(w.runtime, "dir/sub/old.txt"), "O")
          const seen = new Map<string, string | undefined>()
          const overflows: Array<string> = []
          const watch = RuntimeWatch.make({
            provider: w.dir.provider,
            instance: w.dir.instance,
            root: w.runtime,
            filter: Filter.make({}),
            variants: [variant]
          })
          const scope = yield* Scope.make()
          yield* Scope.extend(
            watch.start({
              paths: (paths, keys) => paths.forEach((p, i) => seen.set(p, keys?.[i])),
              overflow: (why) => overflows.push(why)
            }),
            scope
          )
          expect(yield* until(() => watch.name === variant)).toBe(true)
          // a scan's first look sets its stamp a second back: what was there before it started is not news
          yield* Effect.sleep("1500 millis")
          seen.clear()
          fs.appendFileSync(path.join(w.runtime, "top.txt"), " more")
          fs.mkdirSync(path.join(w.runtime, "new"))
          fs.writeFileSync(path.join(w.runtime, "new/n.txt"), "N")
          fs.mkdirSync(path.join(w.runtime, "node_modules/x"), { recursive: true })
          fs.writeFileSync(path.join(w.runtime, "node_modules/x/i.js"), "x")
          expect(yield* until(() => seen.has("top.txt") && (seen.has("new") || seen.has("new/n.txt")))).toBe(true)
          seen.clear()
          fs.rmSync(path.join(w.runtime, "top.txt"))
          fs.rmSync(path.join(w.runtime, "dir/sub/old.txt"))
          expect(yield* until(() => seen.has("top.txt") && (seen.has("dir/sub/old.txt") || seen.has("dir/sub")))).toBe(
            true
          )
          if (variant === "python-inotify") expect(seen.get("top.txt")).toBe("-")
          expect([...seen.keys()].filter((p) => p.startsWith("node_modules"))).toEqual([])
          if (variant === "python-inotify" || variant === "scan") {
            // with the stat read after the change: what echo suppression compares with what a batch wrote
            const st = fs.lstatSync(path.join(w.runtime, "new/n.txt"), { bigint: true })
            if (seen.has("new/n.txt")) {
              expect(seen.get("new/n.txt")).toBe(`f 1 ${st.mtimeNs} ${st.ino} 644`)
            }
          }
          expect(overflows).toEqual([])
          yield* Scope.close(scope, Exit.void)
        }).pipe(Effect.scoped),
      60_000
    )
  }

  // a user namespace of its own, whose inotify watch limit is 3: the tree below needs more
  const tinyLimit = (() => {
    try {
      execSync(`unshare -Ur sh -c 'echo 3 > /proc/sys/user/max_inotify_watches'`, { stdio: "ignore" })
      return has("python3")
    } catch {
      return false
    }
  })()
  it.live.skipIf(!tinyLimit)(
    "out of inotify watches: the watcher falls back to the scan, which reports changes",
    () =>
      Effect.gen(function*() {
        const w = yield* world({})
        for (let i = 0; i < 6; i++) fs.mkdirSync(path.join(w.runtime, `d${i}/e`), { recursive: true })
        const seen = new Set<string>()
        const provider = {
          ...w.dir.provider,
          execStream: (instance: typeof w.dir.instance, request: Parameters<typeof w.dir.provider.execStream>[1]) =>
            w.dir.provider.execStream(instance, {
              ...request,
              shell: `exec unshare -Ur sh -c 'echo 3 > /proc/sys/user/max_inotify_watches && exec sh -c "$0"' ${
                quote(request.shell!)
              }`
            })
        }
        const watch = RuntimeWatch.make({
          provider,
          instance: w.dir.instance,
          root: w.runtime,
          filter: Filter.make({}),
          variants: ["python-inotify", "inotifywait", "scan"]
        })
        const scope = yield* Scope.make()
        yield* Scope.extend(
          watch.start({ paths: (paths) => paths.forEach((p) => seen.add(p)), overflow: () => {} }),
          scope
        )
        expect(yield* until(() => watch.name === "scan")).toBe(true)
        yield* Effect.sleep("1500 millis")
        fs.writeFileSync(path.join(w.runtime, "d5/e/new.txt"), "N")
        expect(yield* until(() => seen.has("d5/e/new.txt"))).toBe(true)
        yield* Scope.close(scope, Exit.void)
      }).pipe(Effect.scoped),
    60_000
  )
})
