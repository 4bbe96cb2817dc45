/**
 * The one end-of-session rule, shared by the session lifecycle and the reconciler: the agent stops → sync back →
 * verify what landed → apply persistence. The sync-back sees the sandbox's final state, as nothing of the session
 * writes in it any more: the lifecycle's own agent has ended by then; after a crash, `halt` stops the sandbox
 * first. A runtime that may hold work not yet home (the sync-back failed, or it left content behind) is kept,
 * whatever the policy says, and the session records why (`kept: "unsynced"`), so that `reconcile` retries the
 * sync-back and `prune` refuses to destroy it without `--discard`.
 *
 * @since 0.2.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import { Effect, Option } from "effect"
import * as Progress from "./Progress.js"
import type { Instance, Service as ProviderService } from "./SandboxProvider.js"
import type { SandboxState } from "./Session.js"
import type { Held, LeftBehind, Service as SyncService, SyncResult } from "./WorkspaceSync.js"

/**
 * What the policy wants done with the sandbox once its work is home.
 *
 * @since 0.2.0
 * @category models
 */
export type Apply = "destroy" | "archive" | "keep"

/**
 * @since 0.2.0
 * @category models
 */
export interface Input<E> {
  /** The session ending, for progress events; `null` for a sandbox no session owns. */
  readonly session_id?: string | null
  readonly provider: ProviderService
  readonly instance: Instance
  /**
   * The sync-back of the instance as it is by then (with its own events; it starts a stopped sandbox it needs
   * running), or `None` when the runtime holds nothing to bring home.
   */
  readonly syncBack: Option.Option<
    (instance: Instance) => Effect.Effect<{ readonly result: SyncResult; readonly instance: Instance }, E>
  >
  readonly apply: Apply
  /** The engine, to forget the sandbox's sync state once the sandbox is gone. */
  readonly sync: SyncService
  /** The engine's per-sandbox state directory. */
  readonly state_dir: string
  /** Runs after the sync-back, before persistence (the `sandbox.stop` hook). */
  readonly beforeApply?: Effect.Effect<void>
  /**
   * The session's agent may still run (its owner died): stop the sandbox, its processes with it, before the
   * sync-back, so that the sync-back sees the final state and nothing the agent writes afterwards is left behind;
   * and keep a kept sandbox stopped, so that nothing of the session runs on into the next one.
   */
  readonly halt?: boolean
}

/**
 * @since 0.2.0
 * @category models
 */
export interface Outcome {
  readonly synced: SyncResult | undefined
  readonly sandbox_state: SandboxState
  /** Why the sandbox was kept against its policy; `undefined` when the policy applied. */
  readonly unsynced: boolean
  /** Errors of the sync-back or of applying the policy. */
  readonly errors: ReadonlyArray<string>
  /** What did not come home (or came home held back): one line per kind, for stderr and the record. */
  readonly left_behind: ReadonlyArray<string>
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`

const KINDS: Record<LeftBehind["kind"], string> = {
  name: "names the sync refuses",
  symlink: "symlinks out of the tree",
  unreadable: "unreadable files",
  special: "special files (FIFOs, sockets, devices)",
  reserved: "names reserved for conflict copies",
  changed: "paths that changed during the sync",
  failed: "writes that failed",
  conflict: "conflicts whose sandbox side could not be kept"
}

/**
 * One line per kind of left-behind path: the count, the kind and the first path as an example.
 *
 * @since 0.2.0
 * @category utils
 */
export const summarize = (items: ReadonlyArray<LeftBehind>): Array<string> => {
  const kinds = new Map<LeftBehind["kind"], Array<LeftBehind>>()
  for (const item of items) kinds.set(item.kind, [...(kinds.get(item.kind) ?? []), item])
  return [...kinds].map(([kind, list]) =>
    `left behind in the sandbox: ${plural(list.length, "path")} (${KINDS[kind]}), e.g. ${
      JSON.stringify(list[0]!.path)
    }: ${list[0]!.reason}`
  )
}

/**
 * One line for the changes held back (config, hook scripts): applied only when the user says so.
 *
 * @since 0.2.0
 * @category utils
 */
export const summarizeHeld = (items: ReadonlyArray<Held>): Array<string> =>
  items.length === 0 ? [] : [
    `held back, not applied: ${plural(items.length, "path")} (host config or hooks), e.g. ${
      JSON.stringify(items[0]!.path)
    }${items[0]!.copy !== null ? ` (the sandbox's version is beside it: ${items[0]!.copy})` : ""}`
  ]

/**
 * Whether a sync-back brought everything home: it is `false` when the runtime still holds content that did not
 * land on the host.
 *
 * @since 0.2.0
 * @category predicates
 */
export const complete = (result: SyncResult): boolean => (result.left_behind ?? []).length === 0

/**
 * Sync back, verify, apply persistence. Never fails: every error is in the outcome.
 *
 * @since 0.2.0
 * @category lifecycle
 */
export const finish = <E extends { readonly message: string }>(input: Input<E>): Effect.Effect<Outcome> =>
  Effect.gen(function*() {
    const errors: Array<string> = []
    const left: Array<string> = []
    let synced: SyncResult | undefined
    let instance = input.instance
    let unsynced = false
    if (input.halt === true && Option.isSome(input.syncBack) && instance.state === "running") {
      // A sandbox that cannot be stopped is still brought home as it is: the sync-back then reports what changed
      // under it as left behind, and the sandbox is kept.
      const stopped = yield* Effect.either(input.provider.stop(instance))
      if (stopped._tag === "Left") errors.push(`stop failed: ${stopped.left.message}`)
      else instance = stopped.right
    }
    if (Option.isSome(input.syncBack)) {
      const back = yield* Effect.either(input.syncBack.value(instance))
      if (back._tag === "Left") {
        unsynced = true
        errors.push(`sync back failed: ${back.left.message}`)
        left.push(`left behind: the sandbox's changes did not come home (${back.left.message})`)
      } else {
        synced = back.right.result
        instance = back.right.instance
        if (!complete(synced)) {
          unsynced = true
          left.push(...summarize(synced.left_behind ?? []))
        }
        left.push(...summarizeHeld(synced.held ?? []))
      }
    }
    if (input.beforeApply !== undefined) yield* input.beforeApply
    let sandbox_state: SandboxState = instance.state
    const sessionId = input.session_id ?? null
    // Never destroy or archive a runtime whose changes did not all come home.
    const apply = unsynced ? "keep" : input.apply
    // Work left in the sandbox is a failure of the end whatever the policy: a kept (reuse) sandbox too.
    if (unsynced) {
      errors.push(
        input.apply === "keep"
          ? "work is left in the sandbox"
          : `sandbox kept instead of ${input.apply === "destroy" ? "destroyed" : "archived"}: work is left in it`
      )
    }
    if (apply === "destroy") {
      const destroyed = yield* Effect.either(Progress.around("destroy", sessionId, input.provider.destroy(instance)))
      if (destroyed._tag === "Left") errors.push(`destroy failed: ${destroyed.left.message}`)
      else {
        sandbox_state = "gone"
        yield* forget(input.sync, input.state_dir)
      }
    } else if (apply === "keep" && input.halt === true && instance.state === "running") {
      // started again for the sync-back
      const stopped = yield* Effect.either(input.provider.stop(instance))
      if (stopped._tag === "Left") errors.push(`stop failed: ${stopped.left.message}`)
      else sandbox_state = stopped.right.state
    } else if (apply === "archive") {
      const archived = yield* Effect.either(Progress.around("archive", sessionId, input.provider.archive(instance)))
      if (archived._tag === "Left") errors.push(`archive failed: ${archived.left.message}`)
      else sandbox_state = archived.right.state
    }
    return { synced, sandbox_state, unsynced, errors, left_behind: left } satisfies Outcome
  })

/**
 * Drop a gone sandbox's sync state: through the engine when it can, else by removing its directory.
 *
 * @since 0.2.0
 * @category lifecycle
 */
export const forget = (sync: SyncService, state_dir: string): Effect.Effect<void> =>
  sync.forget !== undefined
    ? Effect.ignore(sync.forget(state_dir))
    : Effect.flatMap(Effect.serviceOption(FileSystem.FileSystem), (fs) =>
      Option.match(fs, {
        onNone: () => Effect.void,
        onSome: (fs) => Effect.ignore(fs.remove(state_dir, { recursive: true }))
      }))
