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
  /** The arguments that show the host's system directories read-only (symlinks of a merged /usr as such). */
  readonly system: ReadonlyArray<string>
}

/**
 * The host directories a sandbox sees, read-only: programs, libraries and `/etc`. Nothing else of the host
 * file system (no /home, /root, /srv, /mnt, /opt, /var, the state directory, the workspace) is there.
 *
 * @internal
 */
export const SYSTEM_DIRECTORIES: ReadonlyArray<string> = [
  "/usr",
  "/bin",
  "/sbin",
  "/lib",
  "/lib32",
  "/lib64",
  "/libx32",
  "/etc"
]

const within = (path: Path.Path, root: string, candidate: string): boolean => {
  const rel = path.relative(root, candidate)
  return rel === "" || (rel !== ".." && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel))
}

/**
 * The bubblewrap arguments: the system directories read-only, the sandbox's roots writable, fresh /dev,
 * /proc, /tmp and an empty private `$HOME`, every namespace unshared (the network too unless the profile
 * allows it), and death with the parent.
 *
 * @internal
 */
export const bwrapArgs = (
  path: Path.Path,
  isolation: Bubblewrap,
  binds: ReadonlyArray<string>,
  cwd: string,
  home: string | undefined
): Array<string> => {
  // A HOME inside a read-only system directory (or `/`) cannot get a mount point: leave it as it is.
  const privateHome = home !== undefined && path.isAbsolute(home) && path.resolve(home) !== "/" &&
    !SYSTEM_DIRECTORIES.some((dir) => within(path, dir, home))
  return [
    "--die-with-parent",
    "--unshare-all",
    ...(isolation.network ? ["--share-net"] : []),
    ...isolation.system,
    "--dev",
    "/dev",
    "--proc",
    "/proc",
    "--tmpfs",
    "/tmp",
    ...(privateHome ? ["--tmpfs", path.resolve(home)] : []),
    // After the tmpfs mounts, so a runtime under /tmp or $HOME stays visible.
    ...binds.flatMap((dir) => ["--bind", dir, dir]),
    "--chdir",
    cwd,
    "--"
  ]
}

const MISSING = "isolation = \"bubblewrap\" needs bwrap on PATH (apt-get install bubblewrap)"

/** How one system directory appears: a symlink stays a symlink, a directory is bound read-only. */
const systemArgs = (fs: FileSystem.FileSystem, dir: string): Effect.Effect<ReadonlyArray<string>> =>
  fs.readLink(dir).pipe(
    Effect.map((target) => ["--symlink", target, dir]),
    Effect.orElse(() =>
      fs.stat(dir).pipe(
        Effect.map((info) => (info.type === "Directory" ? ["--ro-bind", dir, dir] : [])),
        Effect.orElseSucceed(() => [])
      )
    )
  )

/**
 * With the network shared, name resolution must work: `/etc/resolv.conf` is often a link into `/run`.
 */
const resolverArgs = (fs: FileSystem.FileSystem, path: Path.Path): Effect.Effect<ReadonlyArray<string>> =>
  fs.realPath("/etc/resolv.conf").pipe(
    Effect.map((real) => SYSTEM_DIRECTORIES.some((dir) => within(path, dir, real)) ? [] : ["--ro-bind", real, real]),
    Effect.orElseSucceed(() => [])
  )

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
    const system = [
      ...(yield* Effect.forEach(SYSTEM_DIRECTORIES, (dir) => systemArgs(fs, dir))).flat(),
      ...(network ? yield* resolverArgs(fs, path) : [])
    ]
    const check = yield* run({
      argv: [bwrap, "--unshare-all", ...system, "--proc", "/proc", "--dev", "/dev", "--", "true"],
      cwd: "/",
      env: { PATH: searchPath }
    }).pipe(Effect.mapError(fromProcess("create", undefined)))
    if (check.exit_code !== 0) {
      return yield* providerError(
        "create",
        "Unsupported",
        `bwrap cannot create namespaces on this host (${check.stderr.trim()}); ` +
          "use isolation = \"none\" or allow unprivileged user namespaces"
      )
    }
    return { bwrap, network, system }
  })
