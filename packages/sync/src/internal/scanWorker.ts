/**
 * The worker-thread side of `walkInWorker.ts`: walks a root with the host walker and answers with what changed
 * since its previous walk of the same root under the same rules (or everything, when the caller does not hold
 * that walk); or copies its half of a transfer's files. Runs only as a worker's entry point.
 *
 * @internal
 */
import { parentPort } from "node:worker_threads"
import * as Filter from "../Filter.js"
import type { Entry } from "../Manifest.js"
import { copyJob } from "./copyFile.js"
import { hashFile, Walker } from "./hostFs.js"
import { encodeEntry, type Reply, type Request, type WalkRequest } from "./walkProtocol.js"

const instance = Math.random().toString(36).slice(2, 10)
let counter = 0
// the last walk of each (root, rules); a few roots at most
const known = new Map<string, { readonly token: string; readonly entries: Map<string, Entry> }>()

const same = (a: Entry, b: Entry): boolean =>
  a.kind === b.kind && a.size === b.size && a.mtime_ns === b.mtime_ns && a.mode === b.mode && a.ino === b.ino &&
  a.link_target === b.link_target

const walk = (request: WalkRequest): Reply => {
  const filter = Filter.make(request.spec)
  const walker = new Walker(request.root, filter, request.part).run()
  const key = `${request.root}\0${filter.key}\0${request.part ?? ""}`
  const previous = known.get(key)
  const entries = walker.entries
  const token = `${instance}:${++counter}`
  const diff = previous !== undefined && previous.token === request.base
  const set: Array<string> = []
  const gone: Array<string> = []
  for (const [p, e] of entries) {
    const before = diff ? previous.entries.get(p) : undefined
    if (before === undefined || !same(before, e)) set.push(`${p}\n${encodeEntry(e)}`)
  }
  if (diff) { for (const p of previous.entries.keys()) if (!entries.has(p)) gone.push(p) }
  known.delete(key)
  known.set(key, { token, entries })
  if (known.size > 4) known.delete(known.keys().next().value!)
  const digests: Array<string> = []
  if (request.hash === true) {
    for (const [p, e] of entries) {
      if (e.kind !== "file") continue
      const digest = hashFile(`${request.root}/${p}`)
      if (digest !== undefined) digests.push(digest + p)
    }
  }
  return {
    id: request.id,
    token,
    full: !diff,
    set,
    gone,
    problems: walker.problems,
    ...(request.hash === true ? { digests } : {})
  }
}

parentPort?.on("message", (request: Request) => {
  let reply: Reply
  try {
    reply = request._tag === "walk" ? walk(request) : { id: request.id, results: request.jobs.map(copyJob) }
  } catch (error) {
    reply = { id: request.id, error: error instanceof Error ? error.message : String(error) }
  }
  parentPort?.postMessage(reply)
})
