/**
 * Walks, copies and hashing in two worker threads, so that they use both cores while the main thread (whose
 * large heap makes a walk's allocations slower) mostly waits: a walk is mostly `lstat` system calls, two in one
 * thread take twice as long. A worker answers a walk with a manifest diff against the walk this side holds, so a
 * no-op cycle moves a few bytes between the threads; the entries handed out are that held walk's own objects (no
 * digests; callers build a new entry rather than mutate one). An idle worker never keeps the process alive.
 *
 * Where no worker can start (the module runs from sources, the worker file is missing, under Deno, or a worker
 * stopped) `walk` returns `undefined` and the caller does the work in its own thread: same result, one core.
 *
 * Workers start only for a tree big enough to pay for them: starting one (a thread, its module loaded and
 * compiled) costs more than walking or copying a few thousand files here. A walk first takes up to {@link WORTH}
 * entries in the caller's thread; a tree that ends within them is answered from there, a bigger one is handed to
 * the workers (and remembered as big, so later walks of it go there at once).
 *
 * @internal
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import { fileURLToPath } from "node:url"
import { Worker } from "node:worker_threads"
import type { Filter } from "../Filter.js"
import type { Walked } from "../HostScan.js"
import type { Entry } from "../Manifest.js"
import type { CopyJob, CopyResult } from "./copyFile.js"
import { Walker } from "./hostFs.js"
import { decodeEntry, type Reply, type Request } from "./walkProtocol.js"

// two workers at most: the second walks the other half of a split walk, so that neither half runs in the
// caller's thread, whose large heap makes every allocation of a walk slower
const workers: Array<Worker | undefined> = [undefined, undefined]
let broken = false
let nextId = 0
const pending = new Map<number, { readonly slot: number; readonly resume: (reply: Reply) => void }>()
const inFlight = [0, 0]
// the walk this side holds per (root, rules, part): the worker's entries, never mutated here
const views = new Map<string, { token: string; readonly templates: Map<string, Entry> }>()

/**
 * Entries (or files to copy) from which the work goes to worker threads; below it, the caller's thread does it.
 */
export const WORTH = 5000
let worth = WORTH

/** Sets the threshold of {@link WORTH} (tests: 0 sends every walk and every copy of two chunks to the workers). */
export const setWorth = (entries: number): void => {
  worth = entries
}

/** How many worker threads run now. */
export const running = (): number => workers.filter((w) => w !== undefined).length

// roots (with their rules) whose walk went past `WORTH` entries: walked in a worker from then on
const bigRoots = new Set<string>()

/**
 * The walk of a tree that ends within `WORTH` entries, done here; `undefined` when it is bigger (then that root is
 * remembered as big). Fails when the root is not a directory.
 */
const walkIfSmall = (root: string, filter: Filter, part?: 0 | 1): Walked | undefined => {
  const key = `${root}\0${filter.key}`
  if (bigRoots.has(key)) return undefined
  const walker = new Walker(root, filter, part)
  if (walker.step(worth)) return { entries: walker.entries, problems: walker.problems }
  bigRoots.add(key)
  return undefined
}

let present: boolean | undefined

/** Whether a worker could start here (without starting one). */
export const available = (): boolean => {
  if (broken) return false
  if (present === undefined) {
    try {
      const url = new URL("./scanWorker.js", import.meta.url)
      present = !("deno" in process.versions) && url.protocol === "file:" && fs.existsSync(fileURLToPath(url))
    } catch {
      present = false
    }
  }
  return present
}

/** Whether copying `files` files of `bytes` bytes is worth the workers (they run already, or the job is big). */
export const worthCopying = (files: number, bytes: number): boolean =>
  workers[0] !== undefined || files >= worth || bytes >= 256 << 20

const WITH_VALUE = new Set(["-C", "--conditions", "-e", "--eval", "-p", "--print", "--input-type"])
const WITHOUT = new Set(["-i", "--interactive", "-c", "--check"])
const DROPPED_PREFIX = ["--conditions=", "--eval=", "--print=", "--input-type="]

/**
 * A worker's young generation, in MB: V8's default lets it grow to 48 MB per thread, which the walk of a big tree
 * fills with entries that live on anyway; a small one keeps a 100,000-file walk's peak memory tens of MB lower.
 */
const YOUNG_GENERATION_MB = 6

/**
 * Starts a worker with the parent's options. V8's own options (a supervisor's `--max-semi-space-size`) already
 * hold for the whole process, and a worker refuses to be given them: those Node names in its refusal are left out.
 */
const newWorker = (url: URL, execArgv: ReadonlyArray<string>): Worker => {
  const resourceLimits = { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB }
  try {
    return new Worker(url, { execArgv: [...execArgv], resourceLimits })
  } catch (error) {
    if ((error as { code?: unknown }).code !== "ERR_WORKER_INVALID_EXEC_ARGV") throw error
    const refused = String((error as Error).message)
    const listed = new Set(refused.slice(refused.indexOf(":") + 1).split(",").map((arg) => arg.trim()))
    return new Worker(url, { execArgv: execArgv.filter((arg) => !listed.has(arg)), resourceLimits })
  }
}

const start = (slot = 0): Worker | undefined => {
  const running = workers[slot]
  if (running !== undefined || broken) return running
  // Deno runs `node:worker_threads` workers, but a start costs seconds there: the main thread is faster
  if ("deno" in process.versions) {
    broken = true
    return undefined
  }
  try {
    const url = new URL("./scanWorker.js", import.meta.url)
    if (url.protocol !== "file:" || !fs.existsSync(fileURLToPath(url))) {
      broken = true
      return undefined
    }
    // the parent's options, but not those about its own entry point: `--conditions` (sources instead of builds
    // would make the worker load TypeScript), `-e`/`-p` (a worker refuses them), `--input-type`
    const execArgv: Array<string> = []
    for (let i = 0; i < process.execArgv.length; i++) {
      const arg = process.execArgv[i]!
      if (WITH_VALUE.has(arg)) i++
      else if (!WITHOUT.has(arg) && !DROPPED_PREFIX.some((p) => arg.startsWith(p))) execArgv.push(arg)
    }
    const w = newWorker(url, execArgv)
    w.on("message", (reply: Reply) => {
      const waiting = pending.get(reply.id)
      pending.delete(reply.id)
      if (waiting !== undefined && --inFlight[slot]! === 0) w.unref()
      waiting?.resume(reply)
    })
    w.on("error", () => fail(w))
    w.on("exit", () => fail(w))
    // after the listeners: a "message" listener refs the worker's port again; idle, a worker never keeps the
    // process alive
    w.unref()
    workers[slot] = w
    return w
  } catch {
    broken = true
    return undefined
  }
}

const fail = (w: Worker) => {
  const slot = workers.indexOf(w)
  if (slot < 0) return
  workers[slot] = undefined
  broken = true
  views.clear()
  for (const [id, waiting] of pending) {
    if (waiting.slot === slot) {
      pending.delete(id)
      waiting.resume({ id, error: "the scan worker stopped", stopped: true })
    }
  }
  inFlight[slot] = 0
}

const send = (slot: number, w: Worker, request: Request, resume: (reply: Reply) => void) => {
  pending.set(request.id, { slot, resume })
  if (inFlight[slot]!++ === 0) w.ref()
  w.postMessage(request)
}

const forget = (slot: number, w: Worker, id: number) => {
  if (pending.delete(id) && --inFlight[slot]! === 0) w.unref()
}

/** Sends a request and waits for its reply; the worker is kept referenced while a reply is due. */
const ask = (slot: number, w: Worker, request: Request, onInterrupt: () => void = () => {}): Effect.Effect<Reply> =>
  Effect.async<Reply>((resume) => {
    send(slot, w, request, (reply) => resume(Effect.succeed(reply)))
    return Effect.sync(() => {
      forget(slot, w, request.id)
      onInterrupt()
    })
  })

/**
 * Starts the worker ahead of its first use (it takes a moment to load), and with `split` the second one too;
 * false when there is none.
 */
export const warm = (split = false): boolean => start(0) !== undefined && (!split || start(1) !== undefined)

/**
 * Copies files in a worker (see `copyFile.copyJob`); `undefined` when it is not available. The request is sent at
 * once, so the caller can copy other files meanwhile.
 */
export const copyInWorker = (
  jobs: ReadonlyArray<CopyJob>,
  slot: 0 | 1 = 0
): Promise<ReadonlyArray<CopyResult>> | undefined => {
  const w = start(slot)
  if (w === undefined) return undefined
  const reply = new Promise<Reply>((resolve) => send(slot, w, { _tag: "copy", id: nextId++, jobs }, resolve))
  return reply.then((r) => {
    if ("results" in r) return r.results
    throw new Error("error" in r ? r.error : "unexpected reply")
  })
}

/**
 * Walks `root` (or one half of it, see `hostFs.Walker`) in a worker; `undefined` when no worker is available.
 * Part 0 has a worker of its own. Fails when the walk failed there.
 */
export const walk = (
  root: string,
  filter: Filter,
  part?: 0 | 1,
  hash = false
): Effect.Effect<Walked | undefined, Error> =>
  Effect.suspend(() => {
    const slot = part === 0 ? 1 : 0
    if (!available()) return Effect.succeed(undefined)
    const key = `${root}\0${filter.key}\0${part ?? ""}`
    const small = Effect.try({ try: () => walkIfSmall(root, filter, part), catch: (error) => error as Error })
    return Effect.flatMap(small, (walked) =>
      walked !== undefined ? Effect.succeed(walked) : walkThere(root, filter, part, hash, slot, key))
  })

const walkThere = (
  root: string,
  filter: Filter,
  part: 0 | 1 | undefined,
  hash: boolean,
  slot: number,
  key: string
): Effect.Effect<Walked | undefined, Error> =>
  Effect.suspend(() => {
    const w = start(slot)
    if (w === undefined) return Effect.succeed(undefined)
    const view = views.get(key)
    const request: Request = { _tag: "walk", id: nextId++, root, spec: filter.spec, base: view?.token, part, hash }
    return ask(slot, w, request, () => views.delete(key)).pipe(
      Effect.flatMap((reply) => {
        if ("error" in reply) {
          views.delete(key)
          // a worker that stopped (or never started) is no error of the walk: the caller walks in its own thread
          return "stopped" in reply ? Effect.succeed(undefined) : Effect.fail(new Error(reply.error))
        }
        if (!("token" in reply)) return Effect.fail(new Error("unexpected reply"))
        const current = views.get(key)
        let templates: Map<string, Entry>
        if (reply.full || current === undefined || current.token !== request.base) {
          if (!reply.full) {
            // the held walk moved on meanwhile (a concurrent walk of the same root): ask again for all of it
            views.delete(key)
            return walk(root, filter, part, hash)
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
        // a new map of the held entries themselves: callers never mutate an entry (see `Walked`)
        let digests: Map<string, string> | undefined
        if (reply.digests !== undefined) {
          digests = new Map()
          for (const d of reply.digests) digests.set(d.slice(64), d.slice(0, 64))
        }
        const same = !reply.full && reply.set.length === 0 && reply.gone.length === 0
        return Effect.succeed<Walked>({
          entries: new Map(templates),
          problems: [...reply.problems],
          shared: true,
          version: { token: reply.token, sameAs: same ? request.base : undefined },
          ...(digests !== undefined ? { digests } : {})
        })
      })
    )
  })

/**
 * The walk in two halves, one per worker thread (the caller's thread only waits: its heap is usually large, which
 * makes a walk's allocations slower there); `undefined` when no worker is available. A half whose worker could
 * not start is walked in the caller's thread. The entries are shared (see `Walked`). With `hash`, the workers
 * also hash every regular file they walked (`digests`).
 */
export const walkSplit = (root: string, filter: Filter, hash = false): Effect.Effect<Walked | undefined, Error> =>
  Effect.gen(function*() {
    if (!available()) return undefined
    const small = yield* Effect.try({
      try: () => walkIfSmall(root, filter),
      catch: (error) => error as Error
    })
    if (small !== undefined) return small
    warm(true)
    const halves = yield* Effect.all([walk(root, filter, 0, hash), walk(root, filter, 1, hash)], { concurrency: 2 })
    const [first, second] = yield* Effect.forEach(
      halves,
      (half, i) =>
        half !== undefined ? Effect.succeed(half) : Effect.try({
          try: (): Walked => {
            const walker = new Walker(root, filter, i as 0 | 1).run()
            return { entries: walker.entries, problems: walker.problems }
          },
          catch: (error) => error as Error
        })
    )
    for (const [p, e] of second!.entries) first!.entries.set(p, e)
    // digests only when both halves hashed (a half walked here did not)
    const digests = first!.digests !== undefined && second!.digests !== undefined
      ? new Map([...first!.digests, ...second!.digests])
      : undefined
    const [a, b] = [first!.version, second!.version]
    return {
      entries: first!.entries,
      problems: [...first!.problems, ...second!.problems],
      shared: true,
      ...(a !== undefined && b !== undefined
        ? {
          version: {
            token: `${a.token}|${b.token}`,
            sameAs: a.sameAs !== undefined && b.sameAs !== undefined ? `${a.sameAs}|${b.sameAs}` : undefined
          }
        }
        : {}),
      ...(digests !== undefined ? { digests } : {})
    }
  })
