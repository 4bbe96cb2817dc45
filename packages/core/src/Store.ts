/**
 * The store: workspaces, sessions and their event logs. The embedded default keeps one JSON document per
 * workspace and per session and an append-only event log per session under the state directory. Every write
 * is atomic, every read is schema-validated, and a corrupt record is moved aside and reported.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { Context, DateTime, Effect, Layer, Schema } from "effect"
import type { EventInput } from "./Event.js"
import { SandboxEvent } from "./Event.js"
import type { HistoryEntry } from "./History.js"
import * as FileStore from "./internal/fileStore.js"
import * as MemoryStore from "./internal/memoryStore.js"
import * as Locations from "./Locations.js"
import type { StoreError } from "./SandboxError.js"
import { Session } from "./Session.js"
import { Workspace } from "./Workspace.js"

/**
 * A record that failed validation and was moved aside.
 *
 * @since 0.1.0
 * @category models
 */
export interface Quarantined {
  readonly path: string
  readonly moved_to: string
  readonly reason: string
}

/**
 * A listing with what had to be set aside to produce it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Listing<A> {
  readonly items: ReadonlyArray<A>
  readonly quarantined: ReadonlyArray<Quarantined>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Where the store keeps its files (`:memory:` for the memory layer). */
  readonly root: string
  /** Fails with `AlreadyExists` if the name is taken, even when several processes race. */
  readonly addWorkspace: (workspace: Workspace) => Effect.Effect<void, StoreError>
  readonly putWorkspace: (workspace: Workspace) => Effect.Effect<void, StoreError>
  readonly getWorkspace: (name: string) => Effect.Effect<Workspace, StoreError>
  readonly listWorkspaces: Effect.Effect<Listing<Workspace>, StoreError>
  readonly removeWorkspace: (name: string) => Effect.Effect<void, StoreError>
  readonly putSession: (session: Session) => Effect.Effect<void, StoreError>
  readonly getSession: (id: string) => Effect.Effect<Session, StoreError>
  /**
   * Read, change and write a session under its lock. Every write is atomic and seen at once by every process. A
   * write is also durable (it survives a crash of the machine, not only of the process) unless `durable: false`
   * says a step needs no more than atomic: a machine crash may then leave the session as its last durable write
   * had it, which every later durable write of the session brings up to date.
   */
  readonly updateSession: (
    id: string,
    f: (session: Session) => Session,
    options?: { readonly durable?: boolean }
  ) => Effect.Effect<Session, StoreError>
  readonly listSessions: Effect.Effect<Listing<Session>, StoreError>
  /**
   * Append an event with the next gap-free `seq` for its session. The log is an account of what happened, not a
   * record anything recovers from: an append is seen at once by every process, and a machine crash may lose the
   * log's last events (the next append numbers on from the last one kept).
   */
  readonly appendEvent: (event: EventInput) => Effect.Effect<SandboxEvent, StoreError>
  readonly readEvents: (
    sessionId: string,
    options?: { readonly afterSeq?: number }
  ) => Effect.Effect<Listing<SandboxEvent>, StoreError>
  /** Append to a session's history (agent output, turns, tool calls). */
  readonly appendHistory: (sessionId: string, entries: ReadonlyArray<HistoryEntry>) => Effect.Effect<void, StoreError>
  readonly readHistory: (sessionId: string) => Effect.Effect<Listing<HistoryEntry>, StoreError>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Store extends Context.Tag("@org/sandbox-core/Store")<Store, Service>() {}

/**
 * The record schemas the store validates on every read.
 *
 * @since 0.1.0
 * @category schemas
 */
export const records = {
  workspace: Schema.parseJson(Workspace),
  session: Schema.parseJson(Session),
  event: Schema.parseJson(SandboxEvent)
} as const

/**
 * The embedded file store rooted at `root`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeFile = (root: string): Effect.Effect<Service, StoreError, FileSystem.FileSystem | Path.Path> =>
  FileStore.make(root)

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (root: string): Layer.Layer<Store, StoreError, FileSystem.FileSystem | Path.Path> =>
  Layer.effect(Store, makeFile(root))

/**
 * The file store under `$SANDBOX_CLI_HOME` (or the platform's per-user state directory).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig: Layer.Layer<
  Store,
  StoreError | import("effect/ConfigError").ConfigError,
  FileSystem.FileSystem | Path.Path
> = Layer.effect(Store, Effect.flatMap(Locations.stateDir, makeFile))

/**
 * An in-memory store for tests.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<Store> = Layer.sync(Store, MemoryStore.make)

/**
 * The current time as the store records it.
 *
 * @since 0.1.0
 * @category utils
 */
export const now: Effect.Effect<DateTime.Utc> = DateTime.now
