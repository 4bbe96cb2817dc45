/**
 * The runtime walk in a worker thread, so that the host and the runtime are walked on two cores at once (a walk
 * is mostly `lstat` system calls; two in one thread take twice as long); and half of a large copy into the
 * runtime, for the same reason. The worker answers with a manifest diff
 * against the walk this side holds, so a no-op cycle moves a few bytes between the threads, and fresh `Entry`
 * objects are built here from that held walk (they are mutated by the digest step, so they are never shared).
 *
 * Where no worker can start (the module runs from sources or from a single-file bundle, or the platform has no
 * worker threads) `walk` returns `undefined` and the caller walks in its own thread: same result, one core.
 *
 * @internal
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import { fileURLToPath } from "node:url"
import { Worker } from "node:worker_threads"
import type { Filter } from "../Filter.js"
import type { Walked } from "../HostScan.js"
import { Entry } from "../Manifest.js"
import type { CopyJob, CopyResult } from "./hostFs.js"
import { decodeEntry, type Reply, type Request } from "./walkProtocol.js"

let worker: Worker | undefined
let broken = false
let nextId = 0
const pending = new Map<number, (reply: Reply) => void>()
// the walk this side holds per (root, rules): templates, never handed out
const views = new Map<string, { token: string; readonly templates: Map<string, Entry> }>()

const start = (): Worker | undefined => {
  if (worker !== undefined || broken) return worker
  try {
    const url = new URL("./scanWorker.js", import.meta.url)
    if (url.protocol !== "file:" || !fs.existsSync(fileURLToPath(url))) {
      broken = true
      return undefined
    }
    // a parent run with `--conditions` (sources instead of builds) would make the worker load TypeScript
    const execArgv: Array<string> = []
    for (let i = 0; i < process.execArgv.length; i++) {
      const arg = process.execArgv[i]!
      if (arg === "-C" || arg === "--conditions") i++
      else if (!arg.startsWith("--conditions=")) execArgv.push(arg)
    }
    const w = new Worker(url, { execArgv })
    w.unref()
    w.on("message", (reply: Reply) => {
      const resume = pending.get(reply.id)
      pending.delete(reply.id)
      if (pending.size === 0) w.unref()
      resume?.(reply)
    })
    w.on("error", () => fail(w))
    w.on("exit", () => fail(w))
    worker = w
    return w
  } catch {
    broken = true
    return undefined
  }
}

const fail = (w: Worker) => {
  if (worker !== w) return
  worker = undefined
  broken = true
  views.clear()
  for (const [id, resume] of pending) resume({ id, error: "the scan worker stopped" })
  pending.clear()
}

/** Sends a request and waits for its reply; the worker is kept referenced while a reply is due. */
const ask = (w: Worker, request: Request, onInterrupt: () => void = () => {}): Effect.Effect<Reply> =>
  Effect.async<Reply>((resume) => {
    pending.set(request.id, (reply) => resume(Effect.succeed(reply)))
    w.ref()
    w.postMessage(request)
    return Effect.sync(() => {
      pending.delete(request.id)
      if (pending.size === 0) w.unref()
      onInterrupt()
    })
  })

/** Starts the worker ahead of its first use (it takes a moment to load); false when there is none. */
export const warm = (): boolean => start() !== undefined

/**
 * Copies files in the worker (see `hostFs.copyJob`); `undefined` when no worker is available. The request is sent
 * at once, so the caller can copy other files meanwhile.
 */
export const copyInWorker = (jobs: ReadonlyArray<CopyJob>): Promise<ReadonlyArray<CopyResult>> | undefined => {
  const w = start()
  if (w === undefined) return undefined
  const id = nextId++
  const reply = new Promise<Reply>((resolve) => pending.set(id, resolve))
  w.ref()
  w.postMessage({ _tag: "copy", id, jobs } satisfies Request)
  return reply.then((r) => {
    if ("results" in r) return r.results
    throw new Error("error" in r ? r.error : "unexpected reply")
  })
}

/**
 * Walks `root` in the worker; `undefined` when no worker is available. Fails when the walk failed there.
 */
export const walk = (root: string, filter: Filter, part?: 0 | 1): Effect.Effect<Walked | undefined, Error> =>
  Effect.suspend(() => {
    const w = start()
    if (w === undefined) return Effect.succeed(undefined)
    const key = `${root}\0${filter.key}\0${part ?? ""}`
    const view = views.get(key)
    const request: Request = { _tag: "walk", id: nextId++, root, spec: filter.spec, base: view?.token, part }
    return ask(w, request, () => views.delete(key)).pipe(
      Effect.flatMap((reply) => {
        if ("error" in reply) {
          views.delete(key)
          return Effect.fail(new Error(reply.error))
        }
        if (!("token" in reply)) return Effect.fail(new Error("unexpected reply"))
        const current = views.get(key)
        let templates: Map<string, Entry>
        if (reply.full || current === undefined || current.token !== request.base) {
          if (!reply.full) {
            // the held walk moved on meanwhile (a concurrent walk of the same root): ask again for all of it
            views.delete(key)
            return walk(root, filter, part)
          }
          templates = new Map()
        } else templates = current.templates
        for (const p of reply.gone) templates.delete(p)
        for (const line of reply.set) {
          const nl = line.indexOf("\n")
          const p = line.slice(0, nl)
          templates.set(p, decodeEntry(p, line.slice(nl + 1)))
        }
        views.set(key, { token: reply.token, templates })
        const entries = new Map<string, Entry>()
        for (const [p, t] of templates) {
          entries.set(p, new Entry(p, t.kind, t.size, t.mtime_ns, t.mode, t.ino, undefined, t.link_target))
        }
        return Effect.succeed<Walked>({ entries, problems: [...reply.problems] })
      })
    )
  })
