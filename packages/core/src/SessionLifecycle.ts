/**
 * One session from start to end: Prepare → Sync → Setup → Launch → Stop, with an event and a span for every
 * step and the state written before the step runs (intent before side effect). The stop phase always runs:
 * after success, failure, a denied hook or an interruption (Ctrl-C, `session stop`).
 *
 * @since 0.1.0
 */
import type { Scope } from "effect"
import { Cause, DateTime, Deferred, Duration, Effect, Either, Exit, Fiber, Option, Queue, Stream } from "effect"
import { type Agent, locationOf } from "./Agent.js"
import type * as AgentDriver from "./AgentDriver.js"
import * as EndOfSession from "./EndOfSession.js"
import type { EventType } from "./Event.js"
import { HistoryEntry } from "./History.js"
import * as Hooks from "./Hooks.js"
import type { SandboxId, SessionId } from "./Ids.js"
import { makeSandboxId, makeSessionId } from "./Ids.js"
import { type Profile, stopGraceMillis } from "./Profile.js"
import { ExecError, type ProviderError, type StoreError, type SyncError, UsageError } from "./SandboxError.js"
import type { Instance, Service as ProviderService, StopRequest } from "./SandboxProvider.js"
import { Label, labelsFor } from "./SandboxProvider.js"
import type { SandboxState, SessionState } from "./Session.js"
import { conflictsAfterSync, isFinal, SandboxRecord, Session, SyncStatus, transition } from "./Session.js"
import { Store } from "./Store.js"
import type { Workspace } from "./Workspace.js"
import type { LiveHandle, LiveStatus, SyncResult } from "./WorkspaceSync.js"
import { type SyncReason, WorkspaceSync } from "./WorkspaceSync.js"

const concatBytes = (chunks: Iterable<Uint8Array>): Uint8Array => {
  const all = [...chunks]
  const out = new Uint8Array(all.reduce((n, c) => n + c.length, 0))
  let at = 0
  for (const c of all) {
    out.set(c, at)
    at += c.length
  }
  return out
}

/**
 * A request to the running session from outside (the CLI, through the supervisor).
 *
 * @since 0.1.0
 * @category models
 */
export type ControlRequest =
  /**
   * `accept_held`: apply the runtime's changes to host config and hooks instead of holding them back; `force`: let
   * the sync pass the mass-deletion guard (`session sync --force`).
   */
  | {
    readonly _tag: "Sync"
    readonly reply: Deferred.Deferred<SyncResult, LifecycleError>
    readonly accept_held?: boolean
    readonly force?: boolean
  }
  /**
   * `force`: the stop's sync-back may pass the mass-deletion guard (`session stop --force`); `grace`: how long the
   * command may clean up after its signal (instead of the profile's `stop_grace`).
   */
  | { readonly _tag: "Stop"; readonly force?: boolean; readonly grace?: Duration.Duration }
  /** A further prompt turn for a live ACP session. */
  | {
    readonly _tag: "Prompt"
    readonly text: string
    readonly reply: Deferred.Deferred<AgentDriver.TurnResult, LifecycleError>
  }

/**
 * @since 0.1.0
 * @category models
 */
export interface StartOptions {
  readonly workspace: Workspace
  readonly profile: Profile
  readonly provider: ProviderService
  /** The agent, or `null` for an ad-hoc command. */
  readonly agent: Agent | null
  /** argv of what to launch. */
  readonly command: ReadonlyArray<string>
  /** Host identity, the `owner` label. */
  readonly owner: string
  /** More labels for a sandbox this session creates (the CLI adds its state directory's `state-dir`). */
  readonly labels?: Readonly<Record<string, string>>
  readonly hooks: Hooks.HookSet
  /** Where the sync engine keeps per-sandbox state. */
  readonly syncStateDir: (sandbox_id: SandboxId) => string
  /** Pre-allocated id (the durable path prints it before the supervisor starts). */
  readonly sessionId?: SessionId
  /** Keep the sandbox at stop whatever the persistence says (`run --keep`). */
  readonly keep?: boolean
  /** Sync-back even if it would delete most of the host tree. */
  readonly force?: boolean
  /** The stop's sync-back applies the runtime's changes to host config and hooks (`run --accept-held`). */
  readonly acceptHeld?: boolean
  /**
   * Workspace-relative paths whose runtime changes every sync holds back (the hook scripts the config in force
   * names, wherever that config lives): passed to the engine as `protected_paths`.
   */
  readonly protectedPaths?: ReadonlyArray<string>
  /** Live output of the launched command (the one-shot path streams it to the terminal). */
  readonly onOutput?: (stream: "stdout" | "stderr", data: Uint8Array) => Effect.Effect<void>
  /**
   * What the launched command reads (the one-shot path passes its own stdin through): streamed while it runs where
   * the provider has `execInteractive`, else read to its end first and handed over whole.
   */
  readonly stdin?: Stream.Stream<Uint8Array>
  /**
   * How the launched command is stopped when the session is interrupted from outside, asked at that moment (the
   * one-shot path's Ctrl-C asks for `SIGINT`, `--grace` for another grace than the profile's `stop_grace`).
   */
  readonly stop?: Effect.Effect<Partial<StopRequest>>
  /** Requests from outside while the command runs. */
  readonly control?: Queue.Dequeue<ControlRequest>
  /** Called once the session record exists (before any provider call). */
  readonly onCreated?: (session: Session) => Effect.Effect<void>
  /** Starts protocol (ACP) agents; without it an ACP agent cannot run. */
  readonly driver?: AgentDriver.AgentDriver
  /** The first prompt for an ACP agent. */
  readonly prompt?: string
  /** Live sync (`sync_mode = "live"`) started: its handle (pause, resume, status), while the agent runs. */
  readonly onLive?: (handle: LiveHandle) => Effect.Effect<void>
  /** Live sync's health, whenever it changes. */
  readonly onLiveStatus?: (status: LiveStatus) => Effect.Effect<void>
}

/**
 * How a session ended.
 *
 * @since 0.1.0
 * @category models
 */
export interface Outcome {
  readonly session: Session
  /** What the process should exit with: the command's code, 1 on failure, 130 on interruption, 70 on a defect. */
  readonly exit_code: number
  /** What the sandbox still holds that did not come home, one line per kind (for stderr). */
  readonly left_behind: ReadonlyArray<string>
  /** What the session's syncs transferred with a loss of form (a sparse file written in full, a hard link split). */
  readonly notices: ReadonlyArray<{ readonly path: string; readonly reason: string }>
}

/**
 * Everything a session step can fail with.
 *
 * @since 0.1.0
 * @category models
 */
export type LifecycleError = StoreError | ProviderError | SyncError | ExecError | Hooks.HookDenied | UsageError

/**
 * `Effect.raceFirst`, but an interruption from outside (Ctrl-C on `run`) waits until both sides have finished
 * stopping: left to itself a race leaves its halves stopping in the background, and the stop phase would sync back
 * while the command's trap still cleans up.
 */
const raceToTheEnd = <A, E, B, E2>(
  left: Effect.Effect<A, E>,
  right: Effect.Effect<B, E2>
): Effect.Effect<A | B, E | E2> =>
  Effect.flatMap(
    Effect.fork(Effect.raceFirst(left, right)),
    (fiber) => Fiber.join(fiber).pipe(Effect.onInterrupt(() => Fiber.interrupt(fiber)))
  )

/**
 * The states whose record must survive a crash of the machine before the next step: `running`, because from then on
 * the runtime holds work that only a sync-back brings home, and the reconciler syncs back only a session whose record
 * shows the seed done (`last_to_runtime_at`, written before). The first record (before the provider is called) and
 * the last (how the session ended) are durable too; the writes between need only be atomic.
 */
const durableStates: ReadonlySet<SessionState> = new Set(["running"])

const tail = (text: string, max = 4000) => (text.length > max ? `…${text.slice(-max)}` : text)

const commandText = (c: string | ReadonlyArray<string>) => (typeof c === "string" ? c : c.join(" "))

const syncAttrs = (result: SyncResult, direction: string, reason: string) => ({
  direction,
  reason,
  files: direction === "to_runtime" ? result.files_to_runtime : result.files_from_runtime,
  bytes: direction === "to_runtime" ? result.bytes_to_runtime : result.bytes_from_runtime,
  files_to_runtime: result.files_to_runtime,
  files_from_runtime: result.files_from_runtime,
  deleted_on_host: result.deleted_on_host,
  duration_ms: result.duration_ms,
  conflicts: result.conflicts.map((c) => c.path),
  refused: result.refused.map((r) => r.path),
  notices: (result.notices ?? []).map((n) => `${n.path}: ${n.reason}`)
})

/**
 * Find the sandbox a reuse session should reattach to: the newest earlier session of the same workspace and
 * profile whose sandbox is kept.
 *
 * @since 0.1.0
 * @category lifecycle
 */
export const findReusable = (workspace: string, profile: string) =>
  Effect.gen(function*() {
    const store = yield* Store
    const { items } = yield* store.listSessions
    const candidates = items
      .filter((s) =>
        s.workspace === workspace && s.sandbox.profile === profile && s.sandbox.instance_id !== null &&
        s.sandbox.state !== "gone" && isFinal(s.state)
      )
      .sort((a, b) => DateTime.toEpochMillis(b.created_at) - DateTime.toEpochMillis(a.created_at))
    return Option.fromNullable(candidates[0])
  })

/**
 * Run a session to its end. Requires the store and the sync engine; the provider comes with the options.
 *
 * @since 0.1.0
 * @category lifecycle
 */
export const run = Effect.fn("Session.run")(function*(options: StartOptions) {
  // Only prepare and the body are interruptible: whatever interrupts them, the stop phase still runs.
  return yield* Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      const store = yield* Store
      const sync = yield* WorkspaceSync
      const provider = options.provider
      const profile = options.profile
      const created_at = yield* DateTime.now
      const session_id = options.sessionId ?? makeSessionId()

      // A reuse profile reattaches to the sandbox an earlier session of this workspace kept.
      const reusable = profile.persistence === "reuse"
        ? yield* findReusable(options.workspace.name, profile.name)
        : Option.none<Session>()
      const sandbox_id = Option.match(reusable, { onNone: () => makeSandboxId(), onSome: (s) => s.sandbox.sandbox_id })

      const initial = Session.make({
        id: session_id,
        workspace: options.workspace.name,
        agent: options.agent?.name ?? null,
        command: [...options.command],
        state: "preparing",
        created_at,
        updated_at: created_at,
        ended_at: null,
        exit_code: null,
        reason: null,
        owner: options.owner,
        workspace_path: options.workspace.path,
        sandbox: SandboxRecord.make({
          sandbox_id,
          backend: profile.backend,
          profile: profile.name,
          instance_id: Option.match(reusable, { onNone: () => null, onSome: (s) => s.sandbox.instance_id }),
          state: "pending",
          provider_state: null,
          sync: Option.match(reusable, {
            onNone: () => SyncStatus.empty,
            onSome: (s) => SyncStatus.make({ ...s.sandbox.sync, conflicts: [] })
          }),
          last_error: null
        })
      })
      // Intent before side effect: the session and its sandbox id exist before the provider is called.
      yield* store.putSession(initial)
      if (options.onCreated) yield* options.onCreated(initial)

      /**
       * Durable writes are the ones recovery depends on (see `durableStates`); the others are atomic, and a machine
       * crash leaves what the last durable write had, which is what the reconciler then works from.
       */
      const update = (f: (s: Session) => Session, durable = false) =>
        Effect.flatMap(DateTime.now, (now) =>
          store.updateSession(session_id, (s) => Session.make({ ...f(s), updated_at: now }), { durable }))
      // Every state change goes through the state machine; a refused one leaves the record as it is and fails.
      const setState = (state: SessionState) =>
        Effect.gen(function*() {
          let refused: Either.Either<Session, import("./Session.js").InvalidTransition> | undefined
          const next = yield* update((s) => {
            const moved = transition(s, state)
            if (Either.isLeft(moved)) {
              refused = moved
            }
            return Either.getOrElse(moved, () =>
              s)
          }, durableStates.has(state))
          if (refused !== undefined && Either.isLeft(refused)) return yield* Effect.die(refused.left)
          return next
        })
      const setSandbox = (patch: Partial<typeof SandboxRecord.Type>) =>
        update((s) => Session.make({ ...s, sandbox: SandboxRecord.make({ ...s.sandbox, ...patch }) }))
      // An event that cannot be written is reported, and never stops the session (least of all its stop phase).
      const emit = (type: EventType, attrs: Record<string, unknown> = {}) =>
        store.appendEvent({ session_id, sandbox_id, type, attrs }).pipe(
          Effect.withSpan(type, { attributes: attrs }),
          Effect.asVoid,
          Effect.catchAll((e) => Effect.logWarning(`event ${type} not recorded: ${e.message}`))
        )
      const history = (kind: string, text: string, data?: Record<string, unknown>) =>
        Effect.flatMap(DateTime.now, (at) =>
          store.appendHistory(session_id, [HistoryEntry.make({ at, kind, text, ...(data ? { data } : {}) })]))
      const hookEvent = (extra: Record<string, unknown> = {}) => ({
        session_id,
        sandbox_id,
        workspace: options.workspace.name,
        workspace_path: options.workspace.path,
        profile: profile.name,
        backend: profile.backend,
        ...extra
      })

      yield* emit("session.created", {
        workspace: options.workspace.name,
        profile: profile.name,
        backend: profile.backend,
        agent: options.agent?.name ?? null,
        command: options.command,
        reattach: Option.isSome(reusable)
      })

      // ---- Prepare
      const prepare = Effect.gen(function*() {
        const added = yield* Hooks.run(options.hooks, "sandbox.prepare", hookEvent())
        yield* emit("sandbox.prepare.start", { backend: profile.backend, reattach: Option.isSome(reusable) })
        yield* setSandbox({ state: "provisioning" })
        // Two live sessions never share one runtime: of the sessions not ended that record this sandbox, only the
        // earliest goes on (each writes its record before it looks, so two racing sessions agree on which).
        if (Option.isSome(reusable)) {
          const { items } = yield* store.listSessions
          const first = items
            .filter((s) =>
              s.sandbox.sandbox_id === sandbox_id && !isFinal(s.state)
            )
            .sort((a, b) =>
              DateTime.toEpochMillis(a.created_at) - DateTime.toEpochMillis(b.created_at) || a.id.localeCompare(b.id)
            )[0]
          if (first !== undefined && first.id !== session_id) {
            return yield* new UsageError({
              detail:
                `the reusable sandbox ${sandbox_id} of workspace ${options.workspace.name} is in use by session ${first.id} ` +
                `(${first.state}); stop it first (sandbox-cli session stop ${first.id}), or run reconcile if it crashed`
            })
          }
        }
        const create = provider.create({
          sandbox_id,
          session_id,
          workspace: options.workspace.name,
          owner: options.owner,
          profile,
          labels: {
            ...labelsFor({ sandbox_id, session_id, workspace: options.workspace.name, owner: options.owner }),
            ...options.labels,
            [Label.createdAt]: String(DateTime.toEpochMillis(created_at)),
            ...(profile.sync_mode === "none" ? { [Label.workspacePath]: options.workspace.path } : {})
          },
          env: { ...profile.env }
        }) // the provider retries its own operations (one retry layer per operation)
        const instance = yield* Option.match(reusable, {
          onNone: () => create,
          onSome: (s) =>
            provider.get(s.sandbox.instance_id!).pipe(
              Effect.flatMap((i): Effect.Effect<Instance, ProviderError | "gone"> =>
                i.state === "running"
                  ? Effect.succeed(i)
                  : i.state === "gone"
                  ? Effect.fail("gone" as const)
                  : provider.start(i)
              ),
              // A kept sandbox that vanished (a /tmp cleaned at reboot, deleted in a dashboard) is replaced by a
              // fresh one, which the seed then fills; its old sync state describes a runtime that is no more.
              Effect.catchAll((e) =>
                e !== "gone" && e.reason !== "NotFound" ? Effect.fail(e) : Effect.gen(function*() {
                  yield* emit("sandbox.replaced", {
                    instance_id: s.sandbox.instance_id,
                    reason: "the kept sandbox no longer exists; a fresh one is created"
                  })
                  yield* EndOfSession.forget(sync, options.syncStateDir(sandbox_id))
                  return yield* create
                })
              )
            )
        })
        yield* setSandbox({
          instance_id: instance.instance_id,
          state: instance.state,
          provider_state: instance.provider_state
        })
        yield* emit("sandbox.prepare.complete", { instance_id: instance.instance_id, state: instance.state })
        yield* emit("sandbox.ready", { instance_id: instance.instance_id, workdir: instance.workdir })
        yield* Hooks.run(options.hooks, "sandbox.ready", hookEvent({ instance_id: instance.instance_id }))
        return { instance, env: { ...profile.env, ...(added.env ?? {}) } }
      }).pipe(
        Effect.tapError((e) => emit("sandbox.prepare.error", { error: e.message }).pipe(Effect.ignore))
      )

      let forcedStop = false
      // How the command is stopped: the grace a Stop request asked for, else what the caller says, else SIGTERM and
      // the profile's grace.
      let requestedGrace: Duration.Duration | undefined
      const stopRequest: Effect.Effect<StopRequest> = Effect.map(
        options.stop ?? Effect.succeed<Partial<StopRequest>>({}),
        (outside) => ({
          signal: outside.signal ?? "SIGTERM",
          grace: requestedGrace ?? outside.grace ?? Duration.millis(stopGraceMillis(profile))
        })
      )
      const syncRequest = (
        instance: Instance,
        reason: SyncReason,
        extra: ReadonlyArray<string>,
        acceptHeld = false,
        force = false
      ) => ({
        session_id,
        sandbox_id,
        host_root: options.workspace.path,
        instance,
        provider,
        profile,
        state_dir: options.syncStateDir(sandbox_id),
        reason,
        ...(options.force || forcedStop || force ? { force: true } : {}),
        ...(extra.length > 0 ? { extra_excludes: extra } : {}),
        ...(options.protectedPaths !== undefined && options.protectedPaths.length > 0
          ? { protected_paths: options.protectedPaths }
          : {}),
        ...(acceptHeld ? { accept_held: true } : {})
      })

      /**
       * What a sync moved, added to the record; a sync that read the runtime (any but the seed) stamps when, and
       * settles the recorded conflicts it found agreeing (`scope`: what a live batch read).
       */
      const recordSync = (result: SyncResult, fromRuntime: boolean, scope?: ReadonlyArray<string>) =>
        Effect.flatMap(DateTime.now, (now) =>
          Effect.tap(
            update((s) =>
              Session.make({
                ...s,
                sandbox: SandboxRecord.make({
                  ...s.sandbox,
                  sync: SyncStatus.make({
                    last_to_runtime_at: result.files_to_runtime > 0 || s.sandbox.sync.last_to_runtime_at === null
                      ? now
                      : s.sandbox.sync.last_to_runtime_at,
                    last_from_runtime_at: fromRuntime ? now : s.sandbox.sync.last_from_runtime_at,
                    files_to_runtime: s.sandbox.sync.files_to_runtime + result.files_to_runtime,
                    files_from_runtime: s.sandbox.sync.files_from_runtime + result.files_from_runtime,
                    bytes_to_runtime: s.sandbox.sync.bytes_to_runtime + result.bytes_to_runtime,
                    bytes_from_runtime: s.sandbox.sync.bytes_from_runtime + result.bytes_from_runtime,
                    conflicts: fromRuntime
                      ? conflictsAfterSync(
                        s.sandbox.sync.conflicts,
                        result.conflicts.map((c) => c.path),
                        scope
                      )
                      : s.sandbox.sync.conflicts
                  })
                })
              })
            ),
            (s) => void (mayHoldConflicts = s.sandbox.sync.conflicts.length > 0)
          ))
      let mayHoldConflicts = true

      // one sync at a time: a checkpoint, a live batch and the sync-back never overlap
      const syncLock = yield* Effect.makeSemaphore(1)

      /**
       * One live batch: the engine's scoped two-way sync under the sync lock, never interrupted halfway. A batch
       * that moved nothing and found no new conflict records nothing; one that did records
       * `sandbox.sync.before|after` with `reason = "live"` (with the conflicts it was the first to find). The `sandbox.sync.before` hook ran once, at the start
       * of live sync; its excludes apply to every batch.
       */
      const liveBatch =
        (instance: Instance, extra: ReadonlyArray<string>) => (scope: ReadonlyArray<string> | undefined) =>
          syncLock.withPermits(1)(Effect.gen(function*() {
            const direction = "from_runtime"
            const started = Date.now()
            const request = { ...syncRequest(instance, "live", extra), ...(scope !== undefined ? { scope } : {}) }
            const result = yield* sync.sync(request).pipe(
              Effect.tapError((e) =>
                emit("sandbox.sync.error", {
                  direction,
                  reason: "live",
                  error: e.message,
                  duration_ms: Date.now() - started
                })
                  .pipe(Effect.ignore)
              )
            )
            // A conflict still recorded (found by an earlier sync and not resolved) is no news: every batch reads it
            // again while it stands, and only the batch that finds it first reports it. The record is read only
            // while it may hold one (resolving one elsewhere only ever removes it).
            const found = result.conflicts.map((c) => c.path)
            const recorded = found.length > 0 || mayHoldConflicts
              ? yield* store.getSession(session_id).pipe(
                Effect.map((s) => s.sandbox.sync.conflicts),
                Effect.orElseSucceed((): ReadonlyArray<string> => [])
              )
              : []
            mayHoldConflicts = recorded.length > 0 || found.length > 0
            const fresh = result.conflicts.filter((c) => !recorded.includes(c.path))
            const moved = result.files_to_runtime + result.deleted_in_runtime + result.files_from_runtime +
              result.deleted_on_host + fresh.length + (result.held?.length ?? 0)
            // a batch that moved nothing may still settle a recorded conflict (both sides made to agree)
            if (moved === 0 && recorded.some((c) => !conflictsAfterSync([c], found, scope).includes(c))) {
              yield* recordSync(result, true, scope)
            }
            if (moved > 0) {
              yield* recordSync(result, true, scope)
              yield* emit("sandbox.sync.before", { direction, reason: "live", scope: scope?.length ?? null })
              yield* emit("sandbox.sync.after", syncAttrs({ ...result, conflicts: fresh }, direction, "live"))
            }
            return result
          })).pipe(Effect.uninterruptible)

      const withLive = <A, E>(instance: Instance, running: Effect.Effect<A, E>) =>
        profile.sync_mode !== "live" || sync.live === undefined ? running : Effect.scoped(Effect.gen(function*() {
          const added = yield* Hooks.run(
            options.hooks,
            "sandbox.sync.before",
            hookEvent({ direction: "from_runtime", reason: "live" })
          )
          const handle = yield* sync.live!(syncRequest(instance, "live", added.exclude ?? []), {
            batch: liveBatch(instance, added.exclude ?? []),
            ...(options.onLiveStatus !== undefined ? { onStatus: options.onLiveStatus } : {})
          })
          if (options.onLive !== undefined) yield* options.onLive(handle)
          return yield* running
        }))

      /** One sync with its hooks and events; `to_runtime` at start, both directions later. */
      // what every sync of the session transferred with a loss of form (a sparse file, a hard link), for the caller
      const notices: Array<{ readonly path: string; readonly reason: string }> = []
      const doSync = (
        instance: Instance,
        reason: "start" | "checkpoint" | "stop" | "crash",
        acceptHeld = false,
        force = false
      ) =>
        syncLock.withPermits(1)(Effect.gen(function*() {
          const direction = reason === "start" ? "to_runtime" : "from_runtime"
          const added = yield* Hooks.run(options.hooks, "sandbox.sync.before", hookEvent({ direction, reason }))
          yield* emit("sandbox.sync.before", { direction, reason })
          const started = Date.now()
          const request = syncRequest(instance, reason, added.exclude ?? [], acceptHeld, force)
          const result = yield* (reason === "start" ? sync.seed(request) : sync.sync(request)).pipe(
            Effect.tapError((e) =>
              emit("sandbox.sync.error", { direction, reason, error: e.message, duration_ms: Date.now() - started })
                .pipe(Effect.ignore)
            )
          )
          yield* recordSync(result, reason !== "start")
          notices.push(...(result.notices ?? []))
          yield* emit("sandbox.sync.after", syncAttrs(result, direction, reason))
          yield* Hooks.run(options.hooks, "sandbox.sync.after", hookEvent({ direction, reason, result }))
          return result
        }))

      // ---- Setup
      const setup = (instance: Instance, env: Record<string, string>) =>
        Effect.forEach(profile.setup, (command, index) =>
          Effect.gen(function*() {
            const text = commandText(command)
            yield* emit("sandbox.setup.start", { index, command: text })
            const result = yield* provider.exec(instance, {
              ...(typeof command === "string" ? { shell: command } : { argv: command }),
              env
            })
            if (result.exit_code !== 0) {
              const output = tail(`${result.stdout}${result.stderr}`)
              yield* emit("sandbox.setup.error", { index, command: text, exit_code: result.exit_code, output })
              return yield* new ExecError({
                command: text,
                reason: "Failed",
                exit_code: result.exit_code,
                detail: `setup command "${text}" exited ${result.exit_code}: ${output.trim()}`
              })
            }
            yield* emit("sandbox.setup.complete", { index, command: text, exit_code: 0 })
          }), { discard: true })

      // ---- Launch: stream the command's output; serve control requests meanwhile.
      // ---- Launch an ACP agent: one turn per prompt; between turns the session stays live for more.
      const launchAcp = (instance: Instance, env: Record<string, string>, agent: Agent) =>
        Effect.gen(function*() {
          const location = locationOf(profile)
          yield* emit("sandbox.launch.start", { command: agent.command, agent: agent.name, protocol: "acp", location })
          if (options.driver === undefined) {
            return yield* new UsageError({ detail: `agent ${agent.name} speaks ACP, and no ACP client is available` })
          }
          yield* setState("running")
          yield* emit("session.running", {})
          const connection = yield* options.driver.start({
            agent,
            profile,
            provider,
            instance,
            env,
            onHistory: (entry) => Effect.ignore(store.appendHistory(session_id, [entry])),
            onEvent: (type, attrs) => Effect.ignore(emit(type, attrs))
          })
          const control = options.control
          if (control === undefined) {
            if (options.prompt !== undefined) yield* connection.prompt(options.prompt)
            yield* emit("sandbox.launch.complete", { exit_code: 0 })
            return 0
          }
          // Turns run one after another in their own fiber, so Sync and Stop are served while a turn runs; a
          // Stop interrupts the turn (the agent is asked to cancel it). A failed turn ends the session.
          const turns = yield* Queue.unbounded<{
            readonly text: string
            readonly reply: Deferred.Deferred<AgentDriver.TurnResult, LifecycleError> | null
          }>()
          if (options.prompt !== undefined) yield* Queue.offer(turns, { text: options.prompt, reply: null })
          let inTurn = false
          const worker: Effect.Effect<never, LifecycleError> = Queue.take(turns).pipe(
            Effect.tap(() => Effect.sync(() => (inTurn = true))),
            Effect.flatMap((turn) =>
              Effect.exit(connection.prompt(turn.text)).pipe(
                Effect.tap(() => Effect.sync(() => (inTurn = false))),
                Effect.tap((exit) => (turn.reply ? Deferred.done(turn.reply, exit) : Effect.void)),
                Effect.flatten
              )
            ),
            Effect.forever
          )
          const serve: Effect.Effect<void, LifecycleError> = Queue.take(control).pipe(
            Effect.flatMap((request) => {
              switch (request._tag) {
                case "Stop":
                  if (request.force === true) forcedStop = true
                  return Effect.succeed(true)
                case "Sync":
                  return Effect.exit(
                    doSync(instance, "checkpoint", request.accept_held === true, request.force === true)
                  ).pipe(
                    Effect.flatMap((exit) => Deferred.done(request.reply, exit)),
                    Effect.as(false)
                  )
                case "Prompt":
                  return Effect.as(Queue.offer(turns, { text: request.text, reply: request.reply }), false)
              }
            }),
            Effect.repeat({ until: (stopped) => stopped }),
            Effect.asVoid
          )
          // An exit during a turn is the turn's failure to report (with the agent's stderr); this is for the rest.
          const exited = Effect.flatMap(connection.exited, (code) =>
            inTurn ? Effect.never : Effect.fail(
              new ExecError({
                command: `agent ${agent.name}`,
                reason: "Failed",
                ...(code !== null ? { exit_code: code } : {}),
                detail: `the agent exited${code === null ? "" : ` with code ${code}`} between turns`
              })
            ))
          // Whichever ends first: Stop, a failed turn, or the agent exiting between turns.
          yield* raceToTheEnd(serve, Effect.raceFirst(worker, exited))
          yield* emit("sandbox.launch.complete", { exit_code: 0 })
          return 0
        }).pipe(
          Effect.tapError((e) => emit("sandbox.launch.error", { error: e.message }).pipe(Effect.ignore)),
          Effect.scoped
        )

      const launch = (instance: Instance, env: Record<string, string>) =>
        Effect.gen(function*() {
          if (options.agent?.protocol === "acp") return yield* launchAcp(instance, env, options.agent)
          const argv = options.command
          yield* emit("sandbox.launch.start", { command: argv, agent: options.agent?.name ?? null })
          yield* setState("running")
          yield* emit("session.running", {})
          const exitCode = yield* Deferred.make<number>()
          const request = { argv, env: { ...env, ...(options.agent?.env ?? {}) }, stop: stopRequest }
          const stdin = options.stdin
          const execution = stdin === undefined
            ? provider.execStream(instance, request)
            : provider.execInteractive !== undefined
            ? provider.execInteractive(instance, { ...request, stdin })
            : Stream.unwrap(
              Effect.map(
                Stream.runCollect(stdin),
                (chunks) => {
                  const bytes = concatBytes(chunks)
                  return provider.execStream(instance, bytes.length > 0 ? { ...request, stdin: bytes } : request)
                }
              )
            )
          const output = execution.pipe(
            Stream.runForEach((chunk) => {
              if (chunk._tag === "Exit") {
                return Deferred.succeed(exitCode, chunk.exit_code)
              }
              const stream = chunk._tag === "Stdout" ? "stdout" : "stderr"
              // A provider that breaks the contract (text instead of bytes) is a defect: its output is still
              // kept, and the session then ends failed (exit 70).
              const data: unknown = chunk.data
              const bytes = data instanceof Uint8Array ? data : new TextEncoder().encode(String(data))
              const shown = Effect.zipRight(
                options.onOutput ? options.onOutput(stream, bytes) : Effect.void,
                history(stream, new TextDecoder().decode(bytes))
              )
              return data instanceof Uint8Array ? shown : Effect.zipRight(
                shown,
                Effect.dieMessage(`provider ${provider.name} yielded ${typeof data} instead of bytes on ${stream}`)
              )
            }),
            Effect.tapError((e) => emit("sandbox.launch.error", { error: e.message }).pipe(Effect.ignore))
          )
          const control = options.control
          const serve = control
            ? Queue.take(control).pipe(
              Effect.flatMap((request) =>
                request._tag === "Stop"
                  ? Effect.zipRight(
                    Effect.sync(() => {
                      if (request.force === true) forcedStop = true
                      if (request.grace !== undefined) requestedGrace = request.grace
                    }),
                    Effect.interrupt
                  )
                  : request._tag === "Prompt"
                  ? Deferred.fail(
                    request.reply,
                    new UsageError({ detail: "this session runs a command; only ACP agent sessions take prompts" })
                  )
                  : Effect.exit(doSync(instance, "checkpoint", request.accept_held === true, request.force === true))
                    .pipe(
                      Effect.flatMap((exit) => Deferred.done(request.reply, exit))
                    )
              ),
              Effect.forever
            )
            : Effect.never
          // Whichever ends first: the command, or a Stop request (which interrupts the command).
          yield* raceToTheEnd(output, serve)
          const code = yield* Deferred.poll(exitCode).pipe(
            Effect.flatMap((o) => Option.isSome(o) ? o.value : Effect.succeed(-1))
          )
          yield* emit("sandbox.launch.complete", { exit_code: code })
          return code
        })

      // ---- Stop: always runs, uninterruptible. The end-of-session rule (sync back → verify → persistence),
      // hooks, final state.
      const stop = (instance: Instance | null, exit: Exit.Exit<number, LifecycleError>, agentStarted: boolean) =>
        Effect.gen(function*() {
          const current = yield* store.getSession(session_id)
          if (isFinal(current.state)) {
            // Someone else (the reconciler, while this process was paused) already finished the session: the
            // sandbox is theirs now, and the record says how the session ended.
            yield* Effect.logWarning(`session ${session_id} was already finished (${current.state}) by another process`)
            return { session: current, exit_code: 1, left_behind: [], notices } satisfies Outcome
          }
          yield* setState("stopping")
          const keepRequested = options.keep === true
          yield* emit("sandbox.stop.start", { persistence: keepRequested ? "keep" : profile.persistence })
          const errors: Array<string> = []
          const hookErrors: Array<string> = []
          // After the sync-back, before persistence: the hook still reaches the sandbox.
          const stopHook = Hooks.run(
            options.hooks,
            "sandbox.stop",
            hookEvent({ instance_id: instance?.instance_id ?? null })
          )
            .pipe(Effect.asVoid, Effect.catchAll((e) => Effect.sync(() => void hookErrors.push(e.message))))
          // Without an instance: nothing was created, or a kept sandbox could not be reattached (it stays as its
          // last session left it; never recorded gone, or the reconciler would take it for an orphan).
          let finalState: SandboxState = instance !== null
            ? "running"
            : Option.match(reusable, { onNone: () => "gone" as const, onSome: (r) => r.sandbox.state })
          let unsynced = false
          let left_behind: ReadonlyArray<string> = []
          if (instance !== null) {
            const wantsSync = agentStarted && profile.sync_mode !== "none" && profile.sync_mode !== "seed"
            const ended = yield* EndOfSession.finish({
              session_id,
              provider,
              instance,
              syncBack: wantsSync
                ? Option.some((instance: Instance) =>
                  Effect.map(doSync(instance, "stop", options.acceptHeld === true), (result) => ({ result, instance }))
                )
                : Option.none(),
              apply: keepRequested || profile.persistence === "reuse"
                ? "keep"
                : profile.persistence === "archive"
                ? "archive"
                : "destroy",
              sync,
              state_dir: options.syncStateDir(sandbox_id),
              beforeApply: stopHook
            })
            errors.push(...ended.errors, ...hookErrors)
            finalState = ended.sandbox_state
            unsynced = ended.unsynced
            left_behind = ended.left_behind
          }
          if (instance === null) yield* stopHook
          errors.push(...(instance === null ? hookErrors : []))
          const failure = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
          // A defect (a provider breaking its contract, a bug of ours) ends the session failed with exit 70.
          const defect = Exit.isFailure(exit) ? Cause.dieOption(exit.cause) : Option.none()
          const defectText = Option.map(defect, (d) => `internal error: ${d instanceof Error ? d.message : String(d)}`)
          const interrupted = Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause)
          const commandCode = Exit.isSuccess(exit) ? exit.value : null
          const reason = Option.isSome(failure)
            ? failure.value.message
            : Option.isSome(defectText)
            ? defectText.value
            : interrupted
            ? (agentStarted ? (unsynced ? errors.join("; ") : null) : "interrupted before the command started")
            : errors.length > 0
            ? errors.join("; ")
            : null
          const state: SessionState =
            Option.isSome(failure) || Option.isSome(defect) || unsynced || (errors.length > 0 && Exit.isSuccess(exit))
              ? "failed"
              : "stopped"
          const now = yield* DateTime.now
          // how the session ended: durable
          const final = yield* update((s) =>
            Either.getOrElse(
              transition(s, state, {
                ended_at: now,
                exit_code: commandCode,
                reason,
                sandbox: SandboxRecord.make({
                  ...s.sandbox,
                  state: finalState,
                  ...(unsynced ? { kept: "unsynced" as const } : keepRequested ? { kept: "requested" as const } : {}),
                  last_error: errors.length > 0
                    ? errors.join("; ")
                    : Option.isSome(failure)
                    ? failure.value.message
                    : Option.getOrElse(defectText, () => s.sandbox.last_error)
                })
              }),
              () => s
            ), true)
          yield* emit("sandbox.stop.complete", { sandbox_state: finalState, errors, left_behind })
          yield* emit(state === "failed" ? "session.failed" : "session.stopped", {
            exit_code: commandCode,
            reason,
            interrupted
          })
          const exit_code = Option.isSome(defect)
            ? 70
            : interrupted
            ? 130
            : state === "failed"
            ? (commandCode !== null && commandCode !== 0 ? commandCode : 1)
            : commandCode ?? 0
          return { session: final, exit_code, left_behind, notices } satisfies Outcome
        }).pipe(Effect.uninterruptible)

      // Prepare may fail before any instance exists; the stop phase then records the failure.
      const prepared = yield* Effect.exit(restore(prepare))
      if (Exit.isFailure(prepared)) {
        return yield* stop(null, prepared as Exit.Exit<never, LifecycleError>, false)
      }
      const { env, instance } = prepared.value
      let agentStarted = false
      const body = Effect.gen(function*() {
        if (profile.sync_mode !== "none") {
          yield* setState("syncing")
          yield* doSync(instance, "start")
        }
        yield* setState("launching")
        yield* setup(instance, env)
        agentStarted = true
        return yield* withLive(instance, launch(instance, env))
      })
      const result = yield* Effect.exit(restore(body))
      return yield* stop(instance, result, agentStarted)
    })
  )
})

/**
 * The services a session needs besides its options.
 *
 * @since 0.1.0
 * @category models
 */
export type Requirements = Store | WorkspaceSync | Scope.Scope
