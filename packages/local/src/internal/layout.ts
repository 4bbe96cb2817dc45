import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import { Instance } from "@org/sandbox-core/SandboxProvider"
import { Effect, Option, Random, Schema } from "effect"
import { fromPlatform, providerError } from "./errors.js"

/** @internal */
export const LocalState = Schema.Literal("running", "stopped", "archived")

/**
 * What a sandbox's metadata file holds: everything needed to find, describe and run a sandbox again after a
 * restart. It decides what the host binds, scans and deletes, so it never lives where the sandbox can write.
 *
 * @internal
 */
export class Metadata extends Schema.Class<Metadata>("@org/sandbox-local/Metadata")({
  version: Schema.Literal(1),
  sandbox_id: Schema.String,
  state: LocalState,
  labels: Schema.Record({ key: Schema.String, value: Schema.String }),
  /** The spec's env, applied to every exec. */
  env: Schema.Record({ key: Schema.String, value: Schema.String }),
  /** With `sync_mode = "none"`: the host workspace the sandbox runs in (never deleted by us). */
  workspace_path: Schema.NullOr(Schema.String),
  created_at: Schema.String,
  updated_at: Schema.String
}) {}

const MetadataJson = Schema.parseJson(Metadata, { space: 2 })
const decodeMetadata = Schema.decodeUnknownEither(MetadataJson)
const encodeMetadata = Schema.encodeSync(MetadataJson)

/** Our ids are file names; anything else (`..`, `/`) is simply not one of ours. */
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/

/** @internal */
export const isSafeId = (id: string): boolean => SAFE_ID.test(id)

/** @internal */
export const METADATA_FILE = ".sandbox.json"

/** The suffix of a live sandbox's metadata file in the metadata directory. */
const LIVE_METADATA = ".json"

/**
 * Where things live: `<runtimes>/<id>/workspace/` while the sandbox exists on disk (the only part a sandboxed
 * process can write), its metadata beside the runtimes in `<runtimes>/.meta/<id>.json` (a name no id can
 * take, never bound into a sandbox), and `<archives>/<id>.tar.gz` plus `<archives>/<id>.sandbox.json` while
 * it is archived.
 *
 * @internal
 */
export interface Layout {
  readonly runtimesDir: string
  readonly metadataDir: string
  readonly archivesDir: string
}

/** @internal */
export const makeLayout = (path: Path.Path, runtimesDir: string, archivesDir: string): Layout => ({
  runtimesDir,
  metadataDir: path.join(runtimesDir, ".meta"),
  archivesDir
})

/**
 * Every path of a sandbox derives from the layout and its id, never from anything read back from disk.
 *
 * @internal
 */
export const paths = (path: Path.Path, layout: Layout, id: string) => ({
  runtimeDir: path.join(layout.runtimesDir, id),
  metadata: path.join(layout.metadataDir, `${id}${LIVE_METADATA}`),
  archive: path.join(layout.archivesDir, `${id}.tar.gz`),
  archiveMetadata: path.join(layout.archivesDir, `${id}${METADATA_FILE}`)
})

/**
 * The ids with live metadata, from the names in the metadata directory.
 *
 * @internal
 */
export const liveIds = (names: ReadonlyArray<string>): Array<string> =>
  names.filter((name) => name.endsWith(LIVE_METADATA)).map((name) => name.slice(0, -LIVE_METADATA.length))

/**
 * A sandbox found on disk, with the directories derived from its metadata.
 *
 * @internal
 */
export interface Located {
  readonly meta: Metadata
  readonly where: "runtime" | "archive"
  readonly runtimeDir: string
  readonly workdir: string
  /** What file operations may touch and bubblewrap binds writable: the workdir alone. */
  readonly roots: ReadonlyArray<string>
}

/** @internal */
export const located = (path: Path.Path, layout: Layout, meta: Metadata, where: Located["where"]): Located => {
  const runtimeDir = paths(path, layout, meta.sandbox_id).runtimeDir
  const workdir = meta.workspace_path ?? path.join(runtimeDir, "workspace")
  return { meta, where, runtimeDir, workdir, roots: [workdir] }
}

/** @internal */
export const toInstance = (path: Path.Path, layout: Layout, found: Located): Instance =>
  Instance.make({
    instance_id: found.meta.sandbox_id,
    state: found.meta.state,
    provider_state_name: found.meta.state,
    labels: found.meta.labels,
    workdir: found.workdir,
    provider_state: {
      version: 1,
      data: {
        runtime_dir: found.runtimeDir,
        ...(found.where === "archive" ? { archive: paths(path, layout, found.meta.sandbox_id).archive } : {})
      }
    }
  })

/**
 * A unique suffix for temp names next to their target.
 *
 * @internal
 */
export const tempSuffix: Effect.Effect<string> = Effect.map(
  Effect.all([Random.nextIntBetween(0, 2 ** 31), Random.nextIntBetween(0, 2 ** 31)]),
  ([a, b]) => `${a.toString(36)}${b.toString(36)}`
)

/**
 * Write through a temp file in the same directory, fsync, then rename: a crash leaves the old or the new
 * file, never half of one. `mode` is applied with chmod so the umask does not change it.
 *
 * @internal
 */
export const writeAtomic = (fs: FileSystem.FileSystem, file: string, data: Uint8Array, mode?: number) =>
  Effect.gen(function*() {
    const tmp = `${file}.tmp-${yield* tempSuffix}`
    const write = Effect.scoped(
      Effect.gen(function*() {
        const handle = yield* fs.open(tmp, { flag: "w" })
        // writeAll reports a zero-length write as a failure.
        if (data.length > 0) yield* handle.writeAll(data)
        yield* handle.sync
      })
    ).pipe(
      Effect.zipRight(mode === undefined ? Effect.void : fs.chmod(tmp, mode)),
      Effect.zipRight(fs.rename(tmp, file))
    )
    yield* Effect.onError(write, () => Effect.ignore(fs.remove(tmp)))
  })

/**
 * Read one metadata file: `None` when it does not exist, a failure when it is unreadable or corrupt.
 *
 * @internal
 */
export const readMetadata = (fs: FileSystem.FileSystem, file: string, operation: string, id: string) =>
  fs.readFileString(file).pipe(
    Effect.map(Option.some),
    Effect.catchIf(
      (e) => e._tag === "SystemError" && e.reason === "NotFound",
      () => Effect.succeed(Option.none<string>())
    ),
    Effect.mapError(fromPlatform(operation, id, file)),
    Effect.flatMap(Option.match({
      onNone: () => Effect.succeed(Option.none<Metadata>()),
      onSome: (json) => {
        const decoded = decodeMetadata(json)
        return decoded._tag === "Right" && decoded.right.sandbox_id === id
          ? Effect.succeed(Option.some(decoded.right))
          : Effect.fail(providerError(operation, "Unknown", `corrupt sandbox metadata at ${file}`, id))
      }
    }))
  )

/** @internal */
export const writeMetadata = (fs: FileSystem.FileSystem, file: string, meta: Metadata, operation: string) =>
  // 0600: the spec's env may hold values the owner would not share.
  writeAtomic(fs, file, new TextEncoder().encode(`${encodeMetadata(meta)}\n`), 0o600).pipe(
    Effect.mapError(fromPlatform(operation, meta.sandbox_id, file))
  )
