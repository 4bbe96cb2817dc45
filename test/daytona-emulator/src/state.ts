/**
 * Sandbox records and the state machine of daytona-api.md §13: which transitions are allowed, which answer 409
 * ("Sandbox state change in progress") or 400, ephemeral stop = delete, and sandboxes held in a state for a
 * number of requests ("stuck"), which is how tests reproduce slow or wedged cloud sandboxes.
 */
import { randomBytes, randomUUID } from "node:crypto"
import { promises as fsp } from "node:fs"
import * as nodePath from "node:path"
import { HttpError } from "./http.js"
import {
  type CreateSandboxInput,
  DESIRED_FOR,
  sandboxDto,
  sandboxListItem,
  type SandboxRecord,
  SETTLES_TO,
  TRANSITIONAL,
  type TransitionListener
} from "./record.js"
import type { SandboxPaths } from "./sandboxFs.js"
import type { SandboxState, StuckRule } from "./types.js"

export {
  type CreateSandboxInput,
  SANDBOX_STATES,
  type SandboxRecord,
  type SandboxVolume,
  TRANSITIONAL,
  type TransitionListener
} from "./record.js"

export interface SandboxStoreOptions {
  readonly root: string
  readonly organizationId: string
  readonly toolboxUrl: () => string
  readonly createState: "started" | "creating"
  readonly refuseDeleteWhileStarting: boolean
  readonly stuckRules: ReadonlyArray<StuckRule>
  readonly deleteLinger?: { readonly unchangedMs?: number; readonly destroyingMs?: number } | undefined
}

const userHome = (user: string): string => (user === "root" ? "/root" : `/home/${user}`)

const labelsMatch = (labels: Readonly<Record<string, string>>, wanted: Readonly<Record<string, string>>): boolean =>
  Object.entries(wanted).every(([k, v]) => labels[k] === v)

export class SandboxStore {
  private readonly byId = new Map<string, SandboxRecord>()
  private readonly listeners: Array<TransitionListener> = []
  private readonly timers = new Set<ReturnType<typeof setTimeout>>()
  private seq = 0

  constructor(private readonly options: SandboxStoreOptions) {}

  onTransition(listener: TransitionListener): void {
    this.listeners.push(listener)
  }

  all(): ReadonlyArray<SandboxRecord> {
    return [...this.byId.values()]
  }

  async create(input: CreateSandboxInput): Promise<SandboxRecord> {
    if (input.name !== undefined && this.findLive(input.name) !== undefined) {
      throw new HttpError(409, `Sandbox with name ${input.name} already exists`)
    }
    const id = randomUUID()
    const user = input.user ?? "daytona"
    if (!/^[a-z_][a-z0-9_-]*$/.test(user)) throw new HttpError(400, `Invalid user: ${user}`)
    const dir = nodePath.join(this.options.root, id)
    const home = userHome(user)
    const paths: SandboxPaths = { root: nodePath.join(dir, "fs"), workDir: home, homeDir: home }
    await fsp.mkdir(nodePath.join(paths.root, ...home.split("/").filter((s) => s !== "")), { recursive: true })
    await fsp.mkdir(nodePath.join(paths.root, "tmp"), { recursive: true })
    const now = new Date().toISOString()
    const record: SandboxRecord = {
      id,
      seq: this.seq++,
      name: input.name ?? id,
      organizationId: this.options.organizationId,
      snapshot: input.snapshot,
      user,
      env: { ...input.env },
      labels: { ...input.labels },
      public: input.public,
      networkBlockAll: input.networkBlockAll,
      networkAllowList: input.networkAllowList,
      domainAllowList: input.domainAllowList,
      target: input.target,
      cpu: input.cpu,
      gpu: input.gpu,
      memory: input.memory,
      disk: input.disk,
      state: "started",
      desiredState: "started",
      errorReason: undefined,
      autoStopInterval: input.autoStopInterval,
      autoArchiveInterval: input.autoArchiveInterval,
      autoDeleteInterval: input.autoDeleteInterval,
      autoPauseInterval: input.autoPauseInterval,
      volumes: input.volumes,
      buildInfo: input.buildInfo,
      createdAt: now,
      updatedAt: now,
      lastActivityAt: now,
      lastActivityMs: Date.parse(now),
      deletePending: false,
      authToken: randomBytes(18).toString("base64url"),
      dir,
      paths,
      stuck: undefined
    }
    this.byId.set(id, record)
    if (this.options.createState === "creating") {
      // Reported once by the create reply itself, then settled by the next request addressing the sandbox.
      record.state = "creating"
      record.stuck = { state: "creating", remaining: 0, settleTo: "started" }
    }
    const rule = this.options.stuckRules.find((r) =>
      (r.sandbox === undefined || r.sandbox === id || r.sandbox === record.name) &&
      (r.labels === undefined || labelsMatch(record.labels, r.labels)) &&
      (r.sandbox !== undefined || r.labels !== undefined)
    )
    if (rule) this.applyStick(record, rule.state, rule.requests, "started")
    return record
  }

  /** Live (not destroyed) sandbox by id, then by name. */
  findLive(idOrName: string): SandboxRecord | undefined {
    const byId = this.byId.get(idOrName)
    if (byId && byId.state !== "destroyed") return byId
    for (const s of this.byId.values()) if (s.name === idOrName && s.state !== "destroyed") return s
    return undefined
  }

  /**
   * Looks a sandbox up for a control-plane request and counts that request against a stuck state, settling the
   * sandbox once the count is spent. 404 for unknown or destroyed sandboxes, as the API does.
   */
  resolve(idOrName: string): SandboxRecord {
    const found = this.findLive(idOrName)
    if (found) {
      this.touch(found)
      if (found.state !== "destroyed") return found
    }
    throw new HttpError(404, `Sandbox with ID or name ${idOrName} not found`)
  }

  /** Activity that resets the auto-stop timer: any request that addresses the sandbox, toolbox ones included. */
  touchActivity(sb: SandboxRecord): void {
    const now = Date.now()
    sb.lastActivityMs = now
    sb.lastActivityAt = new Date(now).toISOString()
  }

  /**
   * Daytona's auto-stop: started sandboxes idle for their `autoStopInterval` (in minutes of `minuteMs`) stop;
   * ephemeral ones (auto-delete 0) are deleted instead, as a stop of theirs would.
   */
  autoStop(now: number, minuteMs: number): void {
    for (const sb of this.byId.values()) {
      if (sb.state !== "started" || sb.deletePending || sb.stuck !== undefined || sb.autoStopInterval <= 0) continue
      if (now - sb.lastActivityMs < sb.autoStopInterval * minuteMs) continue
      if (sb.autoDeleteInterval === 0) this.destroy(sb)
      else this.transition(sb, "stopped")
    }
  }

  /** Cancels the timers of lingering deletes (the emulator is closing). */
  close(): void {
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
  }

  private later(ms: number, f: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t)
      f()
    }, ms)
    t.unref()
    this.timers.add(t)
  }

  private touch(sb: SandboxRecord): void {
    this.touchActivity(sb)
    const stuck = sb.stuck
    if (!stuck) return
    if (stuck.remaining > 0) {
      stuck.remaining--
      return
    }
    sb.stuck = undefined
    this.transition(sb, stuck.settleTo)
  }

  stick(idOrName: string, state: SandboxState, requests?: number): void {
    const sb = this.findLive(idOrName)
    if (!sb) throw new Error(`no live sandbox ${idOrName}`)
    this.applyStick(sb, state, requests, sb.state)
  }

  unstick(idOrName: string): void {
    const sb = this.findLive(idOrName)
    if (sb?.stuck) sb.stuck.remaining = 0
  }

  private applyStick(
    sb: SandboxRecord,
    state: SandboxState,
    requests: number | undefined,
    previous: SandboxState
  ): void {
    const settleTo = SETTLES_TO[state] ?? (sb.stuck?.settleTo ?? previous)
    sb.stuck = { state, remaining: requests ?? Number.POSITIVE_INFINITY, settleTo }
    const desired = DESIRED_FOR[settleTo]
    if (TRANSITIONAL.has(state) && desired) sb.desiredState = desired
    if (state === "error") sb.errorReason = "Sandbox held in error by the emulator"
    this.transition(sb, state, false)
  }

  /** Moves a sandbox to a new state and tells the listeners (events, process cleanup, directory removal). */
  private transition(sb: SandboxRecord, state: SandboxState, clearStuck = true): void {
    if (clearStuck) sb.stuck = undefined
    const old = sb.state
    sb.state = state
    const desired = DESIRED_FOR[state]
    if (desired) sb.desiredState = desired
    if (state !== "error" && state !== "build_failed") sb.errorReason = undefined
    sb.updatedAt = new Date().toISOString()
    if (state === "destroyed") {
      // The API renames destroyed sandboxes so their name can be reused at once.
      sb.name = `DESTROYED_${sb.name}_${Date.now()}`
    }
    if (old !== state) { for (const l of this.listeners) l(sb, old, state) }
  }

  private assertNotChanging(sb: SandboxRecord): void {
    if (TRANSITIONAL.has(sb.state) || sb.deletePending) throw new HttpError(409, "Sandbox state change in progress")
  }

  start(sb: SandboxRecord): void {
    this.assertNotChanging(sb)
    if (sb.state === "started") return
    if (!["stopped", "archived", "archiving", "paused"].includes(sb.state)) {
      throw new HttpError(400, "Sandbox is not in valid state")
    }
    this.transition(sb, "started")
  }

  /** Returns the DTO to reply with; for ephemeral sandboxes the stop is a delete. */
  stop(sb: SandboxRecord): Record<string, unknown> {
    this.assertNotChanging(sb)
    if (sb.state !== "started" && sb.state !== "paused") {
      throw new HttpError(400, "Sandbox is not in a stoppable state")
    }
    if (sb.autoDeleteInterval === 0) return this.destroy(sb)
    this.transition(sb, "stopped")
    return this.dto(sb)
  }

  /** `POST /sandbox/{id}/recover`: a sandbox in `error` starts again (or stays stopped with `skipStart`). */
  recover(sb: SandboxRecord, skipStart: boolean): void {
    if (sb.state !== "error") throw new HttpError(400, "Sandbox is not in an error state")
    this.transition(sb, skipStart ? "stopped" : "started")
  }

  archive(sb: SandboxRecord): void {
    this.assertNotChanging(sb)
    if (sb.autoDeleteInterval === 0) throw new HttpError(400, "Ephemeral sandboxes cannot be archived")
    if (sb.state !== "stopped") throw new HttpError(400, "Sandbox is not stopped")
    this.transition(sb, "archived")
  }

  remove(sb: SandboxRecord): Record<string, unknown> {
    if (sb.state === "starting") {
      if (this.options.refuseDeleteWhileStarting) throw new HttpError(409, "Sandbox state change in progress")
    } else {
      this.assertNotChanging(sb)
    }
    return this.destroy(sb)
  }

  /**
   * Without a linger the reply shows `destroying` and the record is gone (404) from the next request on. With one,
   * as the real API does, the sandbox stays in its state with desired state `destroyed`, then shows `destroying`,
   * then is gone; meanwhile a second DELETE (or any state change) answers 409.
   */
  private destroy(sb: SandboxRecord): Record<string, unknown> {
    const unchangedMs = this.options.deleteLinger?.unchangedMs ?? 0
    const destroyingMs = this.options.deleteLinger?.destroyingMs ?? 0
    if (unchangedMs <= 0 && destroyingMs <= 0) {
      const reply = { ...this.dto(sb), state: "destroying", desiredState: "destroyed" }
      this.transition(sb, "destroyed")
      return reply
    }
    sb.deletePending = true
    sb.stuck = undefined
    sb.desiredState = "destroyed"
    sb.updatedAt = new Date().toISOString()
    const reply = this.dto(sb)
    this.later(unchangedMs, () => {
      if (sb.state !== "destroyed") this.transition(sb, "destroying")
      this.later(destroyingMs, () => this.transition(sb, "destroyed"))
    })
    return reply
  }

  /** Full `Sandbox` DTO (single-sandbox endpoints). */
  dto(sb: SandboxRecord): Record<string, unknown> {
    return sandboxDto(sb, this.options.toolboxUrl())
  }

  /** `SandboxListItem` (lists). */
  listItem(sb: SandboxRecord): Record<string, unknown> {
    return sandboxListItem(sb, this.options.toolboxUrl())
  }
}
