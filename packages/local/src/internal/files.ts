import type { ProviderError } from "@org/sandbox-core/SandboxError"
import type { FileStat } from "@org/sandbox-core/SandboxProvider"
import { Effect, Option } from "effect"
import type { Stats } from "node:fs"
import { lstat as nodeLstat } from "node:fs/promises"
import { fromPlatform, providerError } from "./errors.js"
import type { Runner } from "./exec.js"
import { type Located, writeAtomic } from "./layout.js"
import { type Access, confine } from "./paths.js"

type Files = Pick<Runner, "fs" | "path">

const within = (files: Files, found: Located, operation: string, p: string, access: Access) =>
  confine(files.fs, files.path, found, operation, p, access)

// @effect/platform's FileSystem has no lstat, and a sync engine must see symlinks as links.
const lstat = (operation: string, id: string, absolute: string): Effect.Effect<Option.Option<Stats>, ProviderError> =>
  Effect.tryPromise({
    try: () => nodeLstat(absolute),
    catch: (cause) => cause as NodeJS.ErrnoException
  }).pipe(
    Effect.map(Option.some),
    Effect.catchAll((error) =>
      error.code === "ENOENT" || error.code === "ENOTDIR"
        ? Effect.succeed(Option.none<Stats>())
        : Effect.fail(providerError(operation, "Unknown", `${absolute}: ${error.message}`, id, error))
    )
  )

const toFileStat = (p: string, stats: Stats): FileStat => ({
  path: p,
  kind: stats.isFile() ? "file" : stats.isDirectory() ? "directory" : stats.isSymbolicLink() ? "symlink" : "other",
  size: stats.size,
  mode: stats.mode & 0o7777,
  mtime_ms: Math.floor(stats.mtimeMs)
})

const notFound = (operation: string, found: Located, p: string) =>
  providerError(operation, "NotFound", `${p}: no such file or directory`, found.meta.sandbox_id)

/** @internal */
export const readFile = (files: Files, found: Located, p: string) =>
  Effect.gen(function*() {
    const absolute = yield* within(files, found, "readFile", p, "follow")
    return yield* files.fs.readFile(absolute).pipe(Effect.mapError(fromPlatform("readFile", found.meta.sandbox_id, p)))
  })

/**
 * Atomic (temp file and rename, so a symlink at the target is replaced, not written through). Parents are
 * created. Without `mode`, an existing file keeps its mode.
 *
 * @internal
 */
export const writeFile = (files: Files, found: Located, p: string, data: Uint8Array, mode?: number) =>
  Effect.gen(function*() {
    const id = found.meta.sandbox_id
    const absolute = yield* within(files, found, "writeFile", p, "entry")
    yield* files.fs.makeDirectory(files.path.dirname(absolute), { recursive: true })
    const existing = yield* lstat("writeFile", id, absolute)
    const keep = Option.flatMap(existing, (s) => (s.isFile() ? Option.some(s.mode & 0o7777) : Option.none()))
    yield* writeAtomic(files.fs, absolute, data, mode ?? Option.getOrUndefined(keep))
  }).pipe(Effect.catchTag("SystemError", "BadArgument", fromPlatform("writeFile", found.meta.sandbox_id, p)))

/** @internal */
export const stat = (files: Files, found: Located, p: string) =>
  Effect.gen(function*() {
    const absolute = yield* within(files, found, "stat", p, "entry")
    const stats = yield* lstat("stat", found.meta.sandbox_id, absolute)
    if (Option.isNone(stats)) return yield* notFound("stat", found, p)
    return toFileStat(p, stats.value)
  })

/**
 * Entries sorted by name; each `path` is the listed directory joined with the entry's name.
 *
 * @internal
 */
export const listDir = (files: Files, found: Located, p: string) =>
  Effect.gen(function*() {
    const id = found.meta.sandbox_id
    const absolute = yield* within(files, found, "listDir", p, "follow")
    const names = yield* files.fs.readDirectory(absolute).pipe(Effect.mapError(fromPlatform("listDir", id, p)))
    const entries = yield* Effect.forEach(
      [...names].sort(),
      (name) =>
        Effect.map(
          lstat("listDir", id, files.path.join(absolute, name)),
          // An entry removed since readdir is simply not listed.
          Option.map((stats) => toFileStat(files.path.join(p, name), stats))
        ),
      { concurrency: 16 }
    )
    return entries.flatMap(Option.toArray)
  })

/**
 * Like `rm -f`: a path that is already gone is not an error, so the operation can be retried.
 *
 * @internal
 */
export const remove = (files: Files, found: Located, p: string, recursive: boolean) =>
  Effect.gen(function*() {
    const id = found.meta.sandbox_id
    const absolute = yield* within(files, found, "remove", p, "entry")
    if (found.roots.includes(absolute) || absolute === found.workdir) {
      return yield* providerError(
        "remove",
        "InvalidState",
        `${p}: refusing to remove the workdir or a sandbox root`,
        id
      )
    }
    const exists = yield* lstat("remove", id, absolute)
    if (Option.isNone(exists)) return
    yield* files.fs.remove(absolute, { recursive }).pipe(Effect.mapError(fromPlatform("remove", id, p)))
  })

/**
 * Like `mkdir -p`.
 *
 * @internal
 */
export const mkdir = (files: Files, found: Located, p: string) =>
  Effect.gen(function*() {
    const absolute = yield* within(files, found, "mkdir", p, "entry")
    yield* files.fs.makeDirectory(absolute, { recursive: true }).pipe(
      Effect.mapError(fromPlatform("mkdir", found.meta.sandbox_id, p))
    )
  })
