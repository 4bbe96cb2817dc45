import type { PlatformError } from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { DateTime, Effect, Option, Schedule, Schema } from "effect"
import { SandboxEvent } from "../Event.js"
import type { EventInput } from "../Event.js"
import { HistoryEntry } from "../History.js"
import { StoreError } from "../SandboxError.js"
import { Session } from "../Session.js"
import type { Listing, Quarantined, Service } from "../Store.js"
import { Workspace } from "../Workspace.js"

const TEMP_MARK = ".tmp-"
/** A lock older than this belongs to a process that died while holding it: locks are held for milliseconds. */
const STALE_LOCK_MS = 10_000
/** Temp files older than this are leftovers of a crashed writer. */
const STALE_TEMP_MS = 60_000

const workspaceJson = Schema.parseJson(Workspace)
const sessionJson = Schema.parseJson(Session)
const eventJson = Schema.parseJson(SandboxEvent)
const historyJson = Schema.parseJson(HistoryEntry)

const safeName = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/

const randomTag = () => {
  const bytes = new Uint8Array(6)
  globalThis.crypto.getRandomValues(bytes)
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")
}

const isReason = (reason: string) => (e: PlatformError) => e._tag === "SystemError" && e.reason === reason

export const make = (root: string): Effect.Effect<Service, StoreError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const dirs = {
      workspaces: path.join(root, "workspaces"),
      sessions: path.join(root, "sessions"),
      events: path.join(root, "events"),
      history: path.join(root, "history"),
      quarantine: path.join(root, "quarantine")
    }
    const io = (operation: string, target: string) => (e: PlatformError) =>
      new StoreError({ operation, path: target, reason: "Io", detail: e.message })

    yield* Effect.forEach(
      Object.values(dirs),
      (dir) => fs.makeDirectory(dir, { recursive: true }).pipe(Effect.mapError(io("init", dir))),
      { discard: true }
    )

    const checkName = (kind: string, name: string) =>
      safeName.test(name)
        ? Effect.void
        : Effect.fail(
          new StoreError({
            operation: `read ${kind}`,
            path: name,
            reason: "NotFound",
            detail: `no ${kind} named ${JSON.stringify(name)}`
          })
        )

    const syncDir = (dir: string) =>
      Effect.scoped(Effect.flatMap(fs.open(dir, { flag: "r" }), (f) => f.sync)).pipe(Effect.ignore)

    /**
     * temp file, fsync, then rename (or link when the target must not exist yet). Returns what the committed file
     * looks like on disk (the rename keeps the temp file's inode and times), so a later update can tell it is still
     * the file this store wrote.
     */
    const writeAtomic = (target: string, text: string, mode: "replace" | "create", durable = true) =>
      Effect.gen(function*() {
        const temp = `${target}${TEMP_MARK}${randomTag()}`
        const bytes = new TextEncoder().encode(text)
        const info = yield* Effect.scoped(Effect.gen(function*() {
          const file = yield* fs.open(temp, { flag: "wx" })
          yield* file.writeAll(bytes)
          yield* file.sync
          return yield* file.stat
        })).pipe(Effect.mapError(io("write", target)))
        if (mode === "replace") {
          yield* fs.rename(temp, target).pipe(Effect.mapError(io("write", target)))
        } else {
          const linked = yield* fs.link(temp, target).pipe(
            Effect.as(true),
            Effect.catchIf(isReason("AlreadyExists"), () => Effect.succeed(false)),
            Effect.mapError(io("write", target)),
            Effect.ensuring(fs.remove(temp).pipe(Effect.ignore))
          )
          if (!linked) {
            return yield* new StoreError({
              operation: "create",
              path: target,
              reason: "AlreadyExists",
              detail: "already exists"
            })
          }
        }
        // The file's content was synced before the rename, so the name points at a whole record whenever the rename
        // reaches the disk; syncing the directory makes it reach the disk now.
        if (durable) yield* syncDir(path.dirname(target))
        return info
      })

    const quarantine = (file: string, reason: string) =>
      Effect.gen(function*() {
        const stamp = DateTime.formatIso(yield* DateTime.now).replace(/[:.]/g, "-")
        // the random tag keeps an earlier quarantined copy of the same record from being overwritten
        const movedTo = path.join(
          dirs.quarantine,
          `${path.basename(path.dirname(file))}-${path.basename(file)}.${stamp}-${randomTag()}`
        )
        const moved = yield* fs.rename(file, movedTo).pipe(
          Effect.as(true),
          // another reader (maybe another process) moved it first, and reports it
          Effect.catchIf(isReason("NotFound"), () => Effect.succeed(false)),
          Effect.mapError(io("quarantine", file))
        )
        return moved ? Option.some({ path: file, moved_to: movedTo, reason } satisfies Quarantined) : Option.none()
      })

    const readRecord = <A>(kind: string, file: string, schema: Schema.Schema<A, string>) =>
      Effect.gen(function*() {
        const text = yield* fs.readFileString(file).pipe(
          Effect.mapError((e) =>
            isReason("NotFound")(e)
              ? new StoreError({ operation: `read ${kind}`, path: file, reason: "NotFound", detail: `no such ${kind}` })
              : io(`read ${kind}`, file)(e)
          )
        )
        return yield* Schema.decode(schema)(text).pipe(
          Effect.catchTag("ParseError", (error) =>
            Effect.flatMap(quarantine(file, error.message.split("\n")[0] ?? "invalid"), (q) =>
              Effect.fail(
                new StoreError({
                  operation: `read ${kind}`,
                  path: file,
                  reason: "Corrupt",
                  detail: Option.isSome(q)
                    ? `corrupt ${kind} record moved to ${q.value.moved_to}`
                    : `corrupt ${kind} record moved aside by another reader`
                })
              )))
        )
      }) as Effect.Effect<A, StoreError>

    const listRecords = <A>(kind: string, dir: string, schema: Schema.Schema<A, string>) =>
      Effect.gen(function*() {
        const names = yield* fs.readDirectory(dir).pipe(Effect.mapError(io(`list ${kind}`, dir)))
        const nowMs = Date.now()
        // One record per file: read side by side (each read waits on the disk, not on the others), kept in name order.
        const read = yield* Effect.forEach(names.sort(), (name) =>
          Effect.gen(function*() {
            const file = path.join(dir, name)
            if (name.includes(TEMP_MARK)) {
              // A writer died between creating its temp file and renaming it: the record it meant to write was
              // never committed, so the leftover is removed once it is clearly abandoned.
              const info = yield* fs.stat(file).pipe(Effect.option)
              const mtime = info._tag === "Some" ? info.value.mtime : undefined
              if (mtime && mtime._tag === "Some" && nowMs - mtime.value.getTime() > STALE_TEMP_MS) {
                yield* fs.remove(file).pipe(Effect.ignore)
              }
              return undefined
            }
            if (!name.endsWith(".json")) return undefined
            const text = yield* fs.readFileString(file).pipe(Effect.option)
            if (text._tag === "None") return undefined
            const decoded = yield* Schema.decode(schema)(text.value).pipe(Effect.either)
            if (decoded._tag === "Right") return { item: decoded.right }
            const moved = yield* quarantine(file, decoded.left.message.split("\n")[0] ?? "invalid")
            return Option.isSome(moved) ? { quarantined: moved.value } : undefined
          }), { concurrency: 16 })
        const items: Array<A> = []
        const quarantined: Array<Quarantined> = []
        for (const r of read) {
          if (r === undefined) continue
          if ("item" in r) items.push(r.item)
          else quarantined.push(r.quarantined)
        }
        return { items, quarantined } satisfies Listing<A>
      })

    const withLock = <A, E>(target: string, body: Effect.Effect<A, E>) => {
      const lock = `${target}.lock`
      const acquire = fs.open(lock, { flag: "wx" }).pipe(
        Effect.catchIf(isReason("AlreadyExists"), (e) =>
          fs.stat(lock).pipe(
            Effect.flatMap((info) => {
              const age = info.mtime._tag === "Some" ? Date.now() - info.mtime.value.getTime() : 0
              return age > STALE_LOCK_MS ? fs.remove(lock).pipe(Effect.ignore) : Effect.void
            }),
            Effect.ignore,
            Effect.zipRight(Effect.fail(e))
          )),
        Effect.retry({ schedule: Schedule.spaced("5 millis").pipe(Schedule.jittered), times: 4000 }),
        Effect.mapError((e) => new StoreError({ operation: "lock", path: lock, reason: "Locked", detail: e.message }))
      )
      return Effect.scoped(
        Effect.acquireRelease(acquire, () => fs.remove(lock).pipe(Effect.ignore)).pipe(
          Effect.zipRight(body)
        )
      )
    }

    /**
     * What a file this store wrote looked like: inode, size, birth and modification times. A file that still matches
     * is the one written (every writer replaces a record through a new inode, and an event log only grows), so its
     * content need not be read back.
     */
    const identity = (info: FileSystem.File.Info) =>
      Option.isSome(info.ino)
        ? `${info.ino.value}:${info.size}:${
          Option.getOrElse(Option.map(info.birthtime, (d) => d.getTime()), () => 0)
        }:${Option.getOrElse(Option.map(info.mtime, (d) => d.getTime()), () => 0)}`
        : undefined
    /** The session records this store last wrote, by file, with their identity on disk. */
    const writtenSessions = new Map<string, { readonly identity: string; readonly session: Session }>()
    /** The last event this store appended to each log, with the log's inode and size right after. */
    const lastEvents = new Map<string, { readonly ino: number; readonly size: bigint; readonly seq: number }>()

    const writeSession = (s: Session, durable = true) =>
      Effect.gen(function*() {
        const file = sessionFile(s.id)
        writtenSessions.delete(file)
        const info = yield* writeAtomic(file, encodeSession(s), "replace", durable)
        const id = identity(info)
        if (id !== undefined) writtenSessions.set(file, { identity: id, session: s })
      })

    /** The session as it is on disk: what this store wrote, unless the file changed since (another writer). */
    const currentSession = (id: string) =>
      Effect.gen(function*() {
        const file = sessionFile(id)
        const written = writtenSessions.get(file)
        if (written !== undefined) {
          const info = yield* fs.stat(file).pipe(Effect.option)
          if (Option.isSome(info) && identity(info.value) === written.identity) return written.session
          writtenSessions.delete(file)
        }
        return yield* readRecord("session", file, sessionJson)
      })

    const encodeWorkspace = (w: Workspace) => Schema.encodeSync(workspaceJson)(w)
    const encodeSession = (s: Session) => JSON.stringify(Schema.encodeSync(Session)(s), null, 2)
    const workspaceFile = (name: string) => path.join(dirs.workspaces, `${name}.json`)
    const sessionFile = (id: string) => path.join(dirs.sessions, `${id}.json`)
    const eventsFile = (id: string) => path.join(dirs.events, `${id}.jsonl`)

    const readEventsRaw = (id: string) =>
      fs.readFileString(eventsFile(id)).pipe(
        Effect.catchIf(isReason("NotFound"), () => Effect.succeed("")),
        Effect.mapError(io("read events", eventsFile(id)))
      )

    const parseEvents = (id: string, text: string, afterSeq: number) =>
      Effect.gen(function*() {
        const items: Array<SandboxEvent> = []
        const quarantined: Array<Quarantined> = []
        const lines = text.split("\n")
        // The last element is "" for a complete log, or a torn line from a crashed append.
        const torn = lines.pop() ?? ""
        if (torn !== "") {
          quarantined.push({
            path: eventsFile(id),
            moved_to: "",
            reason: "incomplete last line (repaired on next append)"
          })
        }
        lines.forEach((line, index) => {
          const decoded = Schema.decodeEither(eventJson)(line)
          if (decoded._tag === "Right") {
            if (decoded.right.seq > afterSeq) items.push(decoded.right)
          } else {
            quarantined.push({
              path: `${eventsFile(id)}:${index + 1}`,
              moved_to: "",
              reason: "invalid event line kept in place"
            })
          }
        })
        return { items, quarantined }
      })

    /**
     * Read a log to find its last seq (its size once repaired): a torn last line (a crashed append) is kept in
     * quarantine and cut, and so are garbled complete lines at the end (a disk error, a hand edit), so that the log
     * keeps going with gap-free numbers. Runs under the log's lock.
     */
    const lastSeq = (id: string) =>
      Effect.gen(function*() {
        const file = eventsFile(id)
        const text = yield* readEventsRaw(id)
        const end = text.lastIndexOf("\n") + 1
        if (end < text.length) {
          const stamp = Date.now()
          yield* fs.writeFileString(path.join(dirs.quarantine, `events-${id}.torn.${stamp}`), text.slice(end))
            .pipe(Effect.mapError(io("quarantine", file)))
          yield* fs.truncate(file, new TextEncoder().encode(text.slice(0, end)).byteLength).pipe(
            Effect.mapError(io("repair events", file))
          )
        }
        const complete = text.slice(0, end)
        let keep = complete.length
        let last = 0
        while (keep > 0) {
          const from = complete.lastIndexOf("\n", keep - 2) + 1
          const line = complete.slice(from, keep - 1)
          const decoded = line.trim() === "" ? undefined : Schema.decodeEither(eventJson)(line)
          if (decoded !== undefined && decoded._tag === "Right") {
            last = decoded.right.seq
            break
          }
          keep = from
        }
        if (keep < complete.length) {
          yield* fs.writeFileString(
            path.join(dirs.quarantine, `events-${id}.garbled.${Date.now()}`),
            complete.slice(keep)
          ).pipe(Effect.mapError(io("quarantine", file)))
          yield* fs.truncate(file, new TextEncoder().encode(complete.slice(0, keep)).byteLength).pipe(
            Effect.mapError(io("repair events", file))
          )
        }
        return { seq: last, size: BigInt(new TextEncoder().encode(complete.slice(0, keep)).byteLength) }
      })

    const service: Service = {
      root,
      addWorkspace: (w) =>
        Effect.zipRight(
          checkName("workspace", w.name),
          writeAtomic(workspaceFile(w.name), encodeWorkspace(w), "create")
        ),
      putWorkspace: (w) =>
        Effect.zipRight(
          checkName("workspace", w.name),
          writeAtomic(workspaceFile(w.name), encodeWorkspace(w), "replace")
        ),
      getWorkspace: (name) =>
        Effect.zipRight(checkName("workspace", name), readRecord("workspace", workspaceFile(name), workspaceJson)),
      listWorkspaces: listRecords("workspace", dirs.workspaces, workspaceJson),
      removeWorkspace: (name) =>
        Effect.zipRight(
          checkName("workspace", name),
          fs.remove(workspaceFile(name)).pipe(
            Effect.mapError((e) =>
              isReason("NotFound")(e)
                ? new StoreError({
                  operation: "remove workspace",
                  path: name,
                  reason: "NotFound",
                  detail: `no workspace named ${JSON.stringify(name)}`
                })
                : io("remove workspace", name)(e)
            )
          )
        ),
      putSession: (s) => writeSession(s),
      getSession: (id) =>
        Effect.zipRight(checkName("session", id), readRecord("session", sessionFile(id), sessionJson)),
      updateSession: (id, f, options) =>
        Effect.zipRight(
          checkName("session", id),
          withLock(
            sessionFile(id),
            Effect.gen(function*() {
              const next = f(yield* currentSession(id))
              yield* writeSession(next, options?.durable ?? true)
              return next
            })
          )
        ),
      listSessions: listRecords("session", dirs.sessions, sessionJson),
      appendEvent: (input: EventInput) =>
        withLock(
          eventsFile(input.session_id),
          Effect.gen(function*() {
            const file = eventsFile(input.session_id)
            const appended = yield* Effect.scoped(Effect.gen(function*() {
              const handle = yield* fs.open(file, { flag: "a" })
              const info = yield* handle.stat
              const known = lastEvents.get(file)
              // The log is as this store left it (same inode, same size): its last seq is known without reading it.
              const tail = known !== undefined && Option.getOrUndefined(info.ino) === known.ino &&
                  info.size === known.size
                ? { seq: known.seq, size: known.size }
                : yield* lastSeq(input.session_id)
              const event = SandboxEvent.make({
                seq: tail.seq + 1,
                at: yield* DateTime.now,
                session_id: input.session_id,
                sandbox_id: input.sandbox_id,
                type: input.type,
                attrs: input.attrs ?? {}
              })
              const bytes = new TextEncoder().encode(`${Schema.encodeSync(eventJson)(event)}\n`)
              // No fsync: see `appendEvent` in Store.ts. A torn or lost tail is repaired by `lastSeq`.
              yield* handle.writeAll(bytes)
              return { event, ino: info.ino, size: tail.size + BigInt(bytes.byteLength) }
            })).pipe(Effect.mapError((e) => e._tag === "StoreError" ? e : io("append event", file)(e)))
            if (Option.isSome(appended.ino)) {
              lastEvents.set(file, { ino: appended.ino.value, size: appended.size, seq: appended.event.seq })
            } else lastEvents.delete(file)
            return appended.event
          })
        ),
      readEvents: (id, options) =>
        Effect.zipRight(
          checkName("session", id),
          Effect.flatMap(readEventsRaw(id), (text) => parseEvents(id, text, options?.afterSeq ?? 0))
        ),
      // History is append-only and written by one supervisor: a torn last line (a crash mid-append) is skipped.
      appendHistory: (id, entries) =>
        Effect.zipRight(
          checkName("session", id),
          Effect.scoped(Effect.gen(function*() {
            const handle = yield* fs.open(path.join(dirs.history, `${id}.jsonl`), { flag: "a" })
            const text = entries.map((e) => Schema.encodeSync(historyJson)(e)).join("\n") + "\n"
            yield* handle.writeAll(new TextEncoder().encode(text))
          })).pipe(Effect.mapError(io("append history", id)))
        ),
      readHistory: (id) =>
        Effect.zipRight(
          checkName("session", id),
          fs.readFileString(path.join(dirs.history, `${id}.jsonl`)).pipe(
            Effect.catchIf(isReason("NotFound"), () => Effect.succeed("")),
            Effect.mapError(io("read history", id)),
            Effect.map((text) => {
              const items: Array<HistoryEntry> = []
              const quarantined: Array<Quarantined> = []
              const lines = text.split("\n")
              lines.pop()
              lines.forEach((line, index) => {
                const decoded = Schema.decodeEither(historyJson)(line)
                if (decoded._tag === "Right") items.push(decoded.right)
                else {quarantined.push({
                    path: `${id}.jsonl:${index + 1}`,
                    moved_to: "",
                    reason: "invalid history line kept in place"
                  })}
              })
              return { items, quarantined }
            })
          )
        )
    }
    return service
  })
