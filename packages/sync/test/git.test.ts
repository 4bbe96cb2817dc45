/**
 * `seed = "git"`: tracked + modified + untracked-not-ignored files only, in both directions.
 */
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { EngineLayer, expected, readTree, seed, sync, transports, world } from "./fixtures/harness.js"

const git = (cwd: string, ...args: Array<string>) =>
  execFileSync("git", ["-c", "user.email=t@example.com", "-c", "user.name=t", ...args], { cwd, stdio: "pipe" })

for (const transport of transports) {
  layer(EngineLayer)(`seed = git [${transport}]`, (it) => {
    it.scoped("sends tracked, modified and untracked-not-ignored files; ignored paths stay home both ways", () =>
      Effect.gen(function*() {
        const w = yield* world({
          ".gitignore": ".env\ndist/\n*.log\n",
          "src/tracked.ts": "v1",
          "src/modified.ts": "v1",
          "docs/forced.log": "tracked although ignored"
        }, transport)
        git(w.host, "init", "-q")
        git(w.host, "add", ".gitignore", "src")
        git(w.host, "add", "-f", "docs/forced.log")
        git(w.host, "commit", "-q", "-m", "init")
        fs.writeFileSync(path.join(w.host, "src/modified.ts"), "v2")
        fs.writeFileSync(path.join(w.host, "untracked.ts"), "new")
        fs.writeFileSync(path.join(w.host, ".env"), "SECRET=1")
        fs.mkdirSync(path.join(w.host, "dist"))
        fs.writeFileSync(path.join(w.host, "dist/bundle.js"), "host build")
        fs.writeFileSync(path.join(w.host, "debug.log"), "log")

        yield* seed(w.request({ seed: "git" }))
        expect(readTree(w.runtime)).toEqual(expected({
          ".gitignore": ".env\ndist/\n*.log\n",
          "src/tracked.ts": "v1",
          "src/modified.ts": "v2",
          "docs/forced.log": "tracked although ignored",
          "untracked.ts": "new"
        }))

        // runtime build output ignored by git never comes back; a new tracked-looking file does
        fs.mkdirSync(path.join(w.runtime, "dist"))
        fs.writeFileSync(path.join(w.runtime, "dist/out.js"), "runtime build")
        fs.writeFileSync(path.join(w.runtime, ".env"), "SECRET=runtime")
        fs.writeFileSync(path.join(w.runtime, "src/added.ts"), "added")
        const result = yield* sync(w.request({ seed: "git", reason: "stop" }))
        expect(result.files_from_runtime).toBe(1)
        const host = readTree(w.host)
        expect(host["src/added.ts"]).toBe("f:added")
        expect(host["dist/out.js"]).toBeUndefined()
        expect(host["dist/bundle.js"]).toBe("f:host build")
        expect(host[".env"]).toBe("f:SECRET=1")
      }))

    it.scoped("falls back to the whole tree when the workspace is not a git work tree", () =>
      Effect.gen(function*() {
        const w = yield* world({ "a.txt": "A" }, transport)
        yield* seed(w.request({ seed: "git" }))
        expect(readTree(w.runtime)).toEqual(expected({ "a.txt": "A" }))
      }))
  })
}
