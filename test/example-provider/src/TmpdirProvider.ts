/**
 * A sandbox-cli provider whose sandboxes are directories on the host, written against the Promise form of the
 * contract (core's `PromiseProvider`), with no Effect in sight. Each sandbox lives under `<root>/<instance_id>/`:
 *
 * - `meta.json`: labels, env and state (`running`, `stopped` or `archived`), written atomically;
 * - `work/`: the workdir, present unless archived;
 * - `work.tar.gz`: the workdir packed by `archive`, unpacked again by `start`.
 *
 * Everything lives on disk, so another process (or a later CLI run) sees the same sandboxes. Commands are
 * ordinary host processes: this is a runtime for tests and examples, not an isolation boundary.
 *
 * @since 0.0.0
 */
import type {
  PromiseCreateSpec,
  PromiseExecRequest,
  PromiseFileStat,
  PromiseInstance,
  PromiseProvider
} from "@org/sandbox-core/PromiseProvider"
import { randomUUID } from "node:crypto"
import type { Stats } from "node:fs"
import { promises as fsp } from "node:fs"
import * as nodePath from "node:path"
import { classify, guarded, TmpdirError } from "./internal/errors.js"
import { ProcessTable, runCollect, runStream } from "./internal/exec.js"

/**
 * @since 0.0.0
 * @category models
 */
export interface TmpdirOptions {
  /** Directory holding one directory per sandbox; created when missing. */
  readonly root: string
}

type State = "running" | "stopped" | "archived"

interface Meta {
  readonly version: 1
  readonly instance_id: string
  readonly labels: Record<string, string>
  readonly env: Record<string, string>
  readonly state: State
  readonly created_at: string
}

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/

const META = "meta.json"
const WORK = "work"
const PACKED = "work.tar.gz"

const matches = (labels: Readonly<Record<string, string>>, wanted: Readonly<Record<string, string>>): boolean =>
  Object.entries(wanted).every(([k, v]) => labels[k] === v)

const kindOf = (st: Stats): PromiseFileStat["kind"] =>
  st.isSymbolicLink() ? "symlink" : st.isDirectory() ? "directory" : st.isFile() ? "file" : "other"

/** Runs the system `tar`; a non-zero exit is an error carrying its stderr. */
const tar = async (args: ReadonlyArray<string>, cwd?: string): Promise<void> => {
  const table = new ProcessTable()
  const r = await runCollect({ argv: ["tar", ...args], cwd: cwd ?? process.cwd(), env: process.env }, table, "tar")
  if (r.exit_code !== 0) throw new TmpdirError("Unknown", `tar ${args[0]} exited ${r.exit_code}: ${r.stderr.trim()}`)
}

/** A relative path that stays below its root (what `getArchive` accepts). */
const safeRelative = (p: string): string => {
  const normal = nodePath.posix.normalize(p)
  if (normal.startsWith("/") || normal === ".." || normal.startsWith("../")) {
    throw new TmpdirError("InvalidState", `path ${p} must be relative and stay below the archive root`)
  }
  return normal
}

/**
 * Builds the provider. `close()` kills every command it started that is still running.
 *
 * @since 0.0.0
 * @category constructors
 */
export const makeTmpdirProvider = async (options: TmpdirOptions): Promise<PromiseProvider> => {
  const root = nodePath.resolve(options.root)
  await guarded(() => fsp.mkdir(root, { recursive: true }))
  const processes = new ProcessTable()

  const dirOf = (id: string): string => {
    if (!ID.test(id)) throw new TmpdirError("NotFound", `no sandbox ${JSON.stringify(id)}`)
    return nodePath.join(root, id)
  }
  const workdirOf = (id: string): string => nodePath.join(dirOf(id), WORK)

  const readMeta = async (id: string): Promise<Meta> => {
    try {
      return JSON.parse(await fsp.readFile(nodePath.join(dirOf(id), META), "utf8")) as Meta
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new TmpdirError("NotFound", `no sandbox ${id}`)
      return classify(e)
    }
  }

  /** Temp file and rename: a reader never sees half a record. */
  const writeMeta = (meta: Meta): Promise<void> =>
    guarded(async () => {
      const file = nodePath.join(dirOf(meta.instance_id), META)
      const tmp = `${file}.${randomUUID()}.tmp`
      await fsp.writeFile(tmp, JSON.stringify(meta, null, 2))
      await fsp.rename(tmp, file)
    })

  const toInstance = (meta: Meta): PromiseInstance => ({
    instance_id: meta.instance_id,
    state: meta.state,
    provider_state_name: meta.state,
    labels: { ...meta.labels },
    workdir: workdirOf(meta.instance_id),
    provider_state: { version: 1, data: { root } }
  })

  const allMeta = async (): Promise<Array<Meta>> => {
    const names = await guarded(() => fsp.readdir(root))
    const metas: Array<Meta> = []
    for (const name of names.sort()) {
      if (!ID.test(name)) continue
      // A directory whose meta.json is missing is half created or half destroyed: not a sandbox (yet).
      const meta = await readMeta(name).catch(() => undefined)
      if (meta) metas.push(meta)
    }
    return metas
  }

  /** A path inside the sandbox: relative to the workdir, or absolute (the runtime is the host). */
  const resolvePath = (instance: PromiseInstance, p: string): string =>
    nodePath.isAbsolute(p) ? p : nodePath.join(instance.workdir, p)

  const running = async (instance: PromiseInstance): Promise<Meta> => {
    const meta = await readMeta(instance.instance_id)
    if (meta.state !== "running") {
      throw new TmpdirError("InvalidState", `sandbox ${meta.instance_id} is ${meta.state}, not running`)
    }
    return meta
  }

  const runRequest = (meta: Meta, instance: PromiseInstance, request: PromiseExecRequest) => ({
    argv: request.argv,
    shell: request.shell,
    cwd: request.cwd === undefined ? instance.workdir : resolvePath(instance, request.cwd),
    env: { ...process.env, ...meta.env, ...request.env },
    stdin: request.stdin,
    timeoutMs: request.timeout_ms,
    signal: request.signal
  })

  const start = async (instance: PromiseInstance): Promise<PromiseInstance> => {
    const meta = await readMeta(instance.instance_id)
    if (meta.state === "running") return toInstance(meta)
    if (meta.state === "archived") {
      const dir = dirOf(meta.instance_id)
      await guarded(() => fsp.mkdir(nodePath.join(dir, WORK), { recursive: true }))
      await tar(["-xzpf", nodePath.join(dir, PACKED), "-C", nodePath.join(dir, WORK)])
      await guarded(() => fsp.rm(nodePath.join(dir, PACKED), { force: true }))
    }
    const next: Meta = { ...meta, state: "running" }
    await writeMeta(next)
    return toInstance(next)
  }

  const stop = async (instance: PromiseInstance): Promise<PromiseInstance> => {
    const meta = await readMeta(instance.instance_id)
    processes.kill(meta.instance_id)
    if (meta.state !== "running") return toInstance(meta)
    const next: Meta = { ...meta, state: "stopped" }
    await writeMeta(next)
    return toInstance(next)
  }

  const provider: PromiseProvider = {
    name: "tmpdir",
    contract_version: 1,
    capabilities: {
      exec: true,
      exec_stream: true,
      fs: true,
      archive_transfer: true,
      reuse: true,
      archive: true,
      labels: true,
      preview_urls: true,
      idle_model: "none"
    },

    async create(spec: PromiseCreateSpec) {
      // Idempotent: a sandbox carrying all of the spec's labels is the one an earlier attempt made.
      const existing = (await allMeta()).find((m) => matches(m.labels, spec.labels))
      if (existing) return start(toInstance(existing))
      const instance_id = `tmpdir-${randomUUID()}`
      const dir = dirOf(instance_id)
      await guarded(() => fsp.mkdir(nodePath.join(dir, WORK), { recursive: true }))
      const meta: Meta = {
        version: 1,
        instance_id,
        labels: { ...spec.labels },
        env: { ...spec.profile.env, ...spec.env },
        state: "running",
        created_at: new Date().toISOString()
      }
      await writeMeta(meta)
      return toInstance(meta)
    },

    get: async (id) => toInstance(await readMeta(id)),

    async *list(filter) {
      for (const meta of await allMeta()) if (matches(meta.labels, filter.labels)) yield toInstance(meta)
    },

    start,
    stop,

    async archive(instance) {
      const meta = await readMeta(instance.instance_id)
      if (meta.state === "archived") return toInstance(meta)
      processes.kill(meta.instance_id)
      const dir = dirOf(meta.instance_id)
      await tar(["-czf", nodePath.join(dir, PACKED), "-C", nodePath.join(dir, WORK), "."])
      // Record the state before dropping the tree: a crash in between leaves an archived sandbox with a stale copy.
      const next: Meta = { ...meta, state: "archived" }
      await writeMeta(next)
      await guarded(() => fsp.rm(nodePath.join(dir, WORK), { recursive: true, force: true }))
      return toInstance(next)
    },

    async destroy(instance) {
      processes.kill(instance.instance_id)
      const dir = dirOf(instance.instance_id)
      // meta.json goes first, so a half-removed directory no longer lists as a sandbox.
      await guarded(() => fsp.rm(nodePath.join(dir, META), { force: true }))
      await guarded(() => fsp.rm(dir, { recursive: true, force: true, maxRetries: 3 }))
    },

    async exec(instance, request) {
      const meta = await running(instance)
      return runCollect(runRequest(meta, instance, request), processes, meta.instance_id)
    },

    async *execStream(instance, request) {
      const meta = await running(instance)
      yield* runStream(runRequest(meta, instance, request), processes, meta.instance_id)
    },

    readFile: (instance, p) => guarded(async () => new Uint8Array(await fsp.readFile(resolvePath(instance, p)))),

    writeFile: (instance, p, data, options) =>
      guarded(async () => {
        const target = resolvePath(instance, p)
        // Through a temp file and rename, so a reader never sees a half-written file.
        const tmp = nodePath.join(nodePath.dirname(target), `.${nodePath.basename(target)}.${randomUUID()}.tmp`)
        try {
          await fsp.writeFile(tmp, data)
          if (options?.mode !== undefined) await fsp.chmod(tmp, options.mode)
          await fsp.rename(tmp, target)
        } catch (e) {
          await fsp.rm(tmp, { force: true })
          throw e
        }
      }),

    stat: (instance, p) =>
      guarded(async () => {
        const st = await fsp.lstat(resolvePath(instance, p))
        return { path: p, kind: kindOf(st), size: st.size, mode: st.mode & 0o7777, mtime_ms: st.mtimeMs }
      }),

    listDir: (instance, p) =>
      guarded(async () => {
        const dir = resolvePath(instance, p)
        const names = (await fsp.readdir(dir)).sort()
        return Promise.all(names.map(async (name) => {
          const st = await fsp.lstat(nodePath.join(dir, name))
          return {
            path: nodePath.posix.join(p, name),
            kind: kindOf(st),
            size: st.size,
            mode: st.mode & 0o7777,
            mtime_ms: st.mtimeMs
          }
        }))
      }),

    remove: (instance, p, options) =>
      guarded(async () => {
        const target = resolvePath(instance, p)
        if (options?.recursive) return fsp.rm(target, { recursive: true, force: true })
        // Without `recursive` only a file, a link or an empty directory goes; a missing path is already removed.
        const st = await fsp.lstat(target).catch((e: NodeJS.ErrnoException) => {
          if (e.code === "ENOENT") return undefined
          throw e
        })
        if (st === undefined) return
        return st.isDirectory() ? fsp.rmdir(target) : fsp.unlink(target)
      }),

    mkdir: (instance, p) =>
      guarded(async () => {
        await fsp.mkdir(resolvePath(instance, p), { recursive: true })
      }),

    async putArchive(instance, request) {
      await running(instance)
      const dest = resolvePath(instance, request.dest)
      await guarded(() => fsp.mkdir(dest, { recursive: true }))
      // GNU and BSD tar both refuse members with `..` or an absolute path unless told otherwise.
      const flags = request.format === "tar.gz" ? "-xzf" : "-xf"
      await tar([flags, request.archive_path, "-C", dest, "--no-same-owner"])
    },

    async getArchive(instance, request) {
      await running(instance)
      const from = resolvePath(instance, request.root)
      const paths = request.paths.map(safeRelative)
      const flags = request.format === "tar.gz" ? "-czf" : "-cf"
      await tar([flags, request.archive_path, "-C", from, "--", ...paths])
    },

    // Commands are host processes, so a server a sandbox starts is on the host's loopback already.
    previewUrl: async (instance, port) => {
      await running(instance)
      if (!Number.isInteger(port) || port < 1 || port > 65535) {
        throw new TmpdirError("InvalidState", `port ${port} is not in 1..65535`)
      }
      return `http://127.0.0.1:${port}`
    },

    // The workdir is a directory on this machine: the sync engine may read and write it directly.
    hostPath: async (instance) => {
      await running(instance)
      return instance.workdir
    },

    close: async () => processes.killAll()
  }
  return provider
}
