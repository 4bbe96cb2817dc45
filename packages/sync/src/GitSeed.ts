/**
 * `seed = "git"`: the host side of the sync is git's view of the workspace — tracked, modified and
 * untracked-but-not-ignored files (`git ls-files -z -co --exclude-standard`), then the profile's filter. The
 * runtime and the ancestor are cut the same way: a path that is not in that list is asked about with
 * `git check-ignore --stdin -z` (which reads every `.gitignore`, `.git/info/exclude` and `core.excludesFile`),
 * and an ignored one is untracked on both sides, so a runtime build output ignored by git never comes back and
 * an ignored host file (`.env`) never goes. Submodule contents are not included.
 *
 * @since 0.1.0
 */
import { SyncError } from "@org/sandbox-core/SandboxError"
import { Effect, Option } from "effect"
import { run, splitNul } from "./internal/command.js"

const gitError = (detail: string) => new SyncError({ direction: "to_runtime", reason: "Io", detail })

/**
 * The files git would hand over, relative to `root`; `None` when `root` is not inside a git work tree.
 *
 * @since 0.1.0
 * @category git
 */
export const listFiles = Effect.fn("GitSeed.listFiles")(function*(root: string) {
  const out = yield* run(["git", "-C", root, "ls-files", "-z", "-c", "-o", "--exclude-standard"]).pipe(
    Effect.mapError((e) => gitError(`git: ${e.message}`))
  )
  if (out.exitCode !== 0) return Option.none<Array<string>>()
  // `-c` lists a file modified in the index and in the tree once per stage when it conflicts: dedupe
  return Option.some([...new Set(splitNul(out.stdout))])
})

/**
 * Which of `paths` git ignores (directories are asked with a trailing slash, as git needs for `dir/` rules).
 *
 * @since 0.1.0
 * @category git
 */
export const ignoredAmong = Effect.fn("GitSeed.ignoredAmong")(function*(
  root: string,
  paths: ReadonlyArray<{ readonly path: string; readonly dir: boolean }>
) {
  if (paths.length === 0) return new Set<string>()
  const input = paths.map((p) => (p.dir ? `${p.path}/` : p.path)).join("\0") + "\0"
  const out = yield* run(["git", "-C", root, "check-ignore", "-z", "--stdin"], { stdin: input }).pipe(
    Effect.mapError((e) => gitError(`git: ${e.message}`))
  )
  // exit 1: nothing ignored
  if (out.exitCode > 1) return yield* gitError(`git check-ignore failed: ${out.stderr.trim()}`)
  return new Set(splitNul(out.stdout).map((p) => p.replace(/\/$/, "")))
})
