import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import type { ProviderError } from "@org/sandbox-core/SandboxError"
import { Effect } from "effect"
import { providerError } from "./errors.js"
import type { Located } from "./layout.js"

/**
 * How an operation uses a path: `follow` reads through it (readFile, listDir, a cwd), so the target itself
 * must resolve inside a root; `entry` acts on the directory entry (stat, write, remove, mkdir), so only
 * its parent must, and a symlink there is replaced or reported, never written through.
 *
 * @internal
 */
export type Access = "follow" | "entry"

const within = (path: Path.Path, root: string, candidate: string): boolean =>
  candidate === root || candidate.startsWith(root.endsWith(path.sep) ? root : `${root}${path.sep}`)

/** The real path of `p`, or of its deepest existing ancestor. */
const realExisting = (fs: FileSystem.FileSystem, path: Path.Path, p: string): Effect.Effect<string> =>
  fs.realPath(p).pipe(
    Effect.catchAll(() => {
      const parent = path.dirname(p)
      return parent === p ? Effect.succeed(p) : realExisting(fs, path, parent)
    })
  )

/**
 * Resolve a path given relative to the workdir (or absolute) and refuse anything outside the sandbox's
 * roots, lexically (`..`) or through a symlink.
 *
 * @internal
 */
export const confine = (
  fs: FileSystem.FileSystem,
  path: Path.Path,
  found: Located,
  operation: string,
  p: string,
  access: Access
): Effect.Effect<string, ProviderError> =>
  Effect.gen(function*() {
    const escapes = (how: string) =>
      providerError(operation, "InvalidState", `${p}: path escapes the runtime${how}`, found.meta.sandbox_id)
    const absolute = path.resolve(found.workdir, p)
    if (!found.roots.some((root) => within(path, root, absolute))) return yield* escapes("")
    const probe = access === "follow" || found.roots.includes(absolute) ? absolute : path.dirname(absolute)
    const real = yield* realExisting(fs, path, probe)
    const realRoots = yield* Effect.forEach(found.roots, (root) => realExisting(fs, path, root))
    if (!realRoots.some((root) => within(path, root, real))) return yield* escapes(" through a symlink")
    return absolute
  })
