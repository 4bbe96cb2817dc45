import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import type { ProviderError } from "@org/sandbox-core/SandboxError"
import { Effect } from "effect"
import { fromProcess, providerError } from "./errors.js"
import { missingExecutable, run } from "./process.js"

/**
 * Run every command under bubblewrap with this binary.
 *
 * @internal
 */
export interface Bubblewrap {
  readonly bwrap: string
  readonly network: boolean
}

/**
 * The bubblewrap arguments: the host read-only, the sandbox's roots writable, fresh /dev, /proc and /tmp,
 * every namespace unshared (the network too unless the profile allows it), and death with the parent.
 *
 * @internal
 */
export const bwrapArgs = (isolation: Bubblewrap, binds: ReadonlyArray<string>, cwd: string): Array<string> => [
  "--die-with-parent",
  "--unshare-all",
  ...(isolation.network ? ["--share-net"] : []),
  "--ro-bind",
  "/",
  "/",
  "--dev",
  "/dev",
  "--proc",
  "/proc",
  "--tmpfs",
  "/tmp",
  // After the /tmp tmpfs, so a runtime under /tmp stays visible.
  ...binds.flatMap((dir) => ["--bind", dir, dir]),
  "--chdir",
  cwd,
  "--"
]

const MISSING = "isolation = \"bubblewrap\" needs bwrap on PATH (apt-get install bubblewrap)"

/**
 * Find bwrap on PATH and check once that it can create namespaces here (containers often forbid it), so
 * that `create` fails with a clear `Unsupported` instead of every command failing later.
 *
 * @internal
 */
export const probe = (
  fs: FileSystem.FileSystem,
  path: Path.Path,
  searchPath: string,
  network: boolean
): Effect.Effect<Bubblewrap, ProviderError> =>
  Effect.gen(function*() {
    let bwrap: string | undefined
    for (const dir of searchPath.split(":").filter((d) => d.startsWith("/"))) {
      const candidate = path.join(dir, "bwrap")
      if ((yield* missingExecutable(fs, path, candidate, "/", undefined)) === undefined) {
        bwrap = candidate
        break
      }
    }
    if (bwrap === undefined) return yield* providerError("create", "Unsupported", MISSING)
    const check = yield* run({ argv: [bwrap, "--ro-bind", "/", "/", "true"], cwd: "/", env: { PATH: searchPath } })
      .pipe(
        Effect.mapError(fromProcess("create", undefined))
      )
    if (check.exit_code !== 0) {
      return yield* providerError(
        "create",
        "Unsupported",
        `bwrap cannot create namespaces on this host (${check.stderr.trim()}); ` +
          "use isolation = \"none\" or allow unprivileged user namespaces"
      )
    }
    return { bwrap, network }
  })
