/**
 * The file system for the CLI's own small files (the store's records, locks and event logs, supervisor locks, config
 * files): Node's, with those calls made on the calling thread. Made asynchronously, each call is a round trip through
 * libuv's thread pool, two thread wake-ups that each wait for a CPU on a busy machine: a `run` made some 400 of them
 * for these files alone. A synchronous call on a file of a few kilobytes takes microseconds. The sync engine and the
 * providers keep Node's asynchronous file system for their trees.
 */
import { SystemError, type SystemErrorReason } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Store from "@org/sandbox-core/Store"
import { Effect, Layer, Option } from "effect"
import * as fs from "node:fs"

const reasons: Record<string, SystemErrorReason> = {
  ENOENT: "NotFound",
  EACCES: "PermissionDenied",
  EPERM: "PermissionDenied",
  EEXIST: "AlreadyExists",
  EISDIR: "BadResource",
  ENOTDIR: "BadResource",
  ELOOP: "BadResource",
  EBUSY: "Busy"
}

/** The same errors as Node's asynchronous file system gives (the store tells `NotFound` and `AlreadyExists` apart). */
const attempt = <A>(method: string, pathOrDescriptor: string | number, f: () => A): Effect.Effect<A, SystemError> =>
  Effect.try({
    try: f,
    catch: (cause) => {
      const e = cause as NodeJS.ErrnoException
      return new SystemError({
        reason: reasons[e.code ?? ""] ?? "Unknown",
        module: "FileSystem",
        method,
        pathOrDescriptor,
        ...(e.syscall !== undefined ? { syscall: e.syscall } : {}),
        description: e.message,
        cause
      })
    }
  })

const infoOf = (s: fs.Stats): FileSystem.File.Info => ({
  type: s.isFile()
    ? "File"
    : s.isDirectory()
    ? "Directory"
    : s.isSymbolicLink()
    ? "SymbolicLink"
    : s.isBlockDevice()
    ? "BlockDevice"
    : s.isCharacterDevice()
    ? "CharacterDevice"
    : s.isFIFO()
    ? "FIFO"
    : s.isSocket()
    ? "Socket"
    : "Unknown",
  mtime: Option.fromNullable(s.mtime),
  atime: Option.fromNullable(s.atime),
  birthtime: Option.fromNullable(s.birthtime),
  dev: s.dev,
  rdev: Option.fromNullable(s.rdev),
  ino: Option.fromNullable(s.ino),
  mode: s.mode,
  nlink: Option.fromNullable(s.nlink),
  uid: Option.fromNullable(s.uid),
  gid: Option.fromNullable(s.gid),
  size: FileSystem.Size(s.size),
  blksize: Option.map(Option.fromNullable(s.blksize), FileSystem.Size),
  blocks: Option.fromNullable(s.blocks)
})

/** An open file whose reads and writes are synchronous; appends go to the end, as with Node's. */
const makeFile = (fd: number, append: boolean): FileSystem.File => {
  let position = 0
  const write = (buffer: Uint8Array, method: string) =>
    attempt(method, fd, () => {
      const written = fs.writeSync(fd, buffer, 0, buffer.byteLength, append ? null : position)
      if (!append) position += written
      return written
    })
  const writeAll = (buffer: Uint8Array): Effect.Effect<void, SystemError> =>
    Effect.flatMap(write(buffer, "writeAll"), (written) =>
      written === 0 && buffer.byteLength > 0
        ? Effect.fail(
          new SystemError({
            reason: "WriteZero",
            module: "FileSystem",
            method: "writeAll",
            pathOrDescriptor: fd,
            description: "write returned 0 bytes written"
          })
        )
        : written < buffer.byteLength
        ? writeAll(buffer.subarray(written))
        : Effect.void)
  const read = (buffer: Uint8Array, method: string) =>
    attempt(method, fd, () => {
      const n = fs.readSync(fd, buffer, 0, buffer.byteLength, position)
      position += n
      return n
    })
  return {
    [FileSystem.FileTypeId]: FileSystem.FileTypeId,
    fd: FileSystem.FileDescriptor(fd),
    stat: attempt("stat", fd, () => infoOf(fs.fstatSync(fd))),
    sync: attempt("sync", fd, () => fs.fsyncSync(fd)),
    seek: (offset, from) =>
      Effect.sync(() => {
        position = from === "start" ? Number(offset) : position + Number(offset)
      }),
    read: (buffer) => Effect.map(read(buffer, "read"), FileSystem.Size),
    readAlloc: (size) =>
      Effect.suspend(() => {
        const buffer = new Uint8Array(Number(size))
        return Effect.map(read(buffer, "readAlloc"), (n) =>
          n === 0 ? Option.none() : Option.some(n === buffer.byteLength ? buffer : buffer.subarray(0, n)))
      }),
    truncate: (length) =>
      attempt("truncate", fd, () => {
        fs.ftruncateSync(fd, length === undefined ? 0 : Number(length))
        if (!append) position = Math.min(position, Number(length ?? 0))
      }),
    write: (buffer) => Effect.map(write(buffer, "write"), FileSystem.Size),
    writeAll
  } as FileSystem.File
}

/**
 * `node`'s file system with synchronous calls for what is done on small files.
 */
export const make = (node: FileSystem.FileSystem): FileSystem.FileSystem => ({
  ...FileSystem.make({
    ...node,
    open: (path, options) =>
      Effect.map(
        Effect.acquireRelease(
          attempt("open", path, () => fs.openSync(path, options?.flag ?? "r", options?.mode)),
          (fd) => Effect.sync(() => fs.closeSync(fd))
        ),
        (fd) => makeFile(fd, options?.flag?.startsWith("a") ?? false)
      ),
    access: (path, options) =>
      attempt("access", path, () =>
        fs.accessSync(
          path,
          (options?.readable ? fs.constants.R_OK : 0) | (options?.writable ? fs.constants.W_OK : 0) ||
            fs.constants.F_OK
        )),
    realPath: (path) => attempt("realPath", path, () => fs.realpathSync(path)),
    readFile: (path) => attempt("readFile", path, () => new Uint8Array(fs.readFileSync(path))),
    writeFile: (path, data, options) =>
      attempt("writeFile", path, () =>
        fs.writeFileSync(path, data, {
          ...(options?.flag !== undefined ? { flag: options.flag } : {}),
          ...(options?.mode !== undefined ? { mode: options.mode } : {})
        })),
    rename: (from, to) => attempt("rename", from, () => fs.renameSync(from, to)),
    link: (from, to) => attempt("link", from, () => fs.linkSync(from, to)),
    remove: (path, options) =>
      attempt(
        "remove",
        path,
        () => fs.rmSync(path, { recursive: options?.recursive ?? false, force: options?.force ?? false })
      ),
    stat: (path) => attempt("stat", path, () => infoOf(fs.statSync(path))),
    truncate: (path, length) =>
      attempt("truncate", path, () => fs.truncateSync(path, length === undefined ? 0 : Number(length))),
    makeDirectory: (path, options) =>
      attempt("makeDirectory", path, () => {
        fs.mkdirSync(path, {
          recursive: options?.recursive ?? false,
          ...(options?.mode !== undefined ? { mode: options.mode } : {})
        })
      }),
    readDirectory: (path, options) =>
      attempt(
        "readDirectory",
        path,
        () => fs.readdirSync(path, { encoding: "utf8", recursive: options?.recursive ?? false })
      )
  }),
  // Probing is most often answered "no" (the configuration search asks every directory up to the root): without
  // the exception and error object a failed `access` costs. Any error reads as absent, as Node's existsSync has it.
  exists: (path) => Effect.sync(() => fs.existsSync(path))
})

/**
 * Provides the small-file system over the platform's.
 *
 * @since 0.3.0
 * @category layers
 */
export const layer: Layer.Layer<FileSystem.FileSystem, never, FileSystem.FileSystem> = Layer.effect(
  FileSystem.FileSystem,
  Effect.map(FileSystem.FileSystem, make)
)

/**
 * The store under the state directory, working through {@link layer}.
 *
 * @since 0.3.0
 * @category layers
 */
export const storeLayer = Store.layerConfig.pipe(Layer.provide(layer))
