/**
 * A sandbox's record, the states it moves through, and its DTOs as the API answers them (`Sandbox`,
 * `SandboxListItem`).
 */
import type { SandboxPaths } from "./sandboxFs.js"
import type { SandboxDesiredState, SandboxState } from "./types.js"

/** Every `SandboxState`, for validating states that arrive as JSON (admin endpoint, bin flags). */
export const SANDBOX_STATES: ReadonlyArray<SandboxState> = [
  "creating",
  "restoring",
  "destroyed",
  "destroying",
  "started",
  "stopped",
  "starting",
  "stopping",
  "error",
  "build_failed",
  "pending_build",
  "building_snapshot",
  "unknown",
  "pulling_snapshot",
  "archived",
  "archiving",
  "resizing",
  "snapshotting",
  "forking",
  "pausing",
  "paused",
  "resuming"
]

/** States in which a change is under way; state-changing calls answer 409 in them. */
export const TRANSITIONAL: ReadonlySet<SandboxState> = new Set<SandboxState>([
  "creating",
  "restoring",
  "destroying",
  "starting",
  "stopping",
  "pending_build",
  "building_snapshot",
  "unknown",
  "pulling_snapshot",
  "archiving",
  "resizing",
  "snapshotting",
  "forking",
  "pausing",
  "resuming"
])

/** Where a transitional state naturally ends; a stuck sandbox moves there once its requests run out. */
export const SETTLES_TO: Partial<Record<SandboxState, SandboxState>> = {
  creating: "started",
  restoring: "started",
  starting: "started",
  pending_build: "started",
  building_snapshot: "started",
  pulling_snapshot: "started",
  unknown: "started",
  resizing: "started",
  snapshotting: "started",
  forking: "started",
  resuming: "started",
  stopping: "stopped",
  archiving: "archived",
  destroying: "destroyed",
  pausing: "paused"
}

export const DESIRED_FOR: Partial<Record<SandboxState, SandboxDesiredState>> = {
  started: "started",
  stopped: "stopped",
  archived: "archived",
  destroyed: "destroyed",
  paused: "paused"
}

export interface SandboxVolume {
  readonly volumeId: string
  readonly mountPath: string
  readonly subpath?: string
}

export interface SandboxRecord {
  readonly id: string
  /** Creation order; breaks createdAt ties so "newest first" is total. */
  readonly seq: number
  name: string
  readonly organizationId: string
  readonly snapshot: string | undefined
  readonly user: string
  readonly env: Readonly<Record<string, string>>
  labels: Record<string, string>
  public: boolean
  readonly networkBlockAll: boolean
  readonly networkAllowList: string | undefined
  readonly domainAllowList: string | undefined
  readonly target: string
  cpu: number
  readonly gpu: number
  memory: number
  disk: number
  state: SandboxState
  desiredState: SandboxDesiredState
  errorReason: string | undefined
  autoStopInterval: number
  autoArchiveInterval: number
  autoDeleteInterval: number
  autoPauseInterval: number
  readonly volumes: ReadonlyArray<SandboxVolume>
  /** Present for image-based creates; `image` is the parsed `FROM`. */
  readonly buildInfo: {
    readonly dockerfileContent: string
    readonly contextHashes?: ReadonlyArray<string>
    readonly image: string
  } | undefined
  readonly createdAt: string
  updatedAt: string
  lastActivityAt: string
  /** `lastActivityAt` as a number, for the auto-stop timer. */
  lastActivityMs: number
  /** A DELETE was accepted: the sandbox lingers (see `EmulatorOptions.deleteLinger`) and refuses changes. */
  deletePending: boolean
  /** Preview token; also accepted as `DAYTONA_SANDBOX_AUTH_KEY` on toolbox WebSockets. */
  readonly authToken: string
  /** `<root>/<id>`; the sandbox filesystem is `<dir>/fs`. */
  readonly dir: string
  readonly paths: SandboxPaths
  stuck: { readonly state: SandboxState; remaining: number; readonly settleTo: SandboxState } | undefined
}

export interface CreateSandboxInput {
  readonly name?: string | undefined
  readonly snapshot?: string | undefined
  readonly user?: string | undefined
  readonly env: Record<string, string>
  readonly labels: Record<string, string>
  readonly public: boolean
  readonly networkBlockAll: boolean
  readonly networkAllowList?: string | undefined
  readonly domainAllowList?: string | undefined
  readonly target: string
  readonly cpu: number
  readonly gpu: number
  readonly memory: number
  readonly disk: number
  readonly autoStopInterval: number
  readonly autoArchiveInterval: number
  readonly autoDeleteInterval: number
  readonly autoPauseInterval: number
  readonly volumes: ReadonlyArray<SandboxVolume>
  readonly buildInfo?: {
    readonly dockerfileContent: string
    readonly contextHashes?: ReadonlyArray<string>
    readonly image: string
  } | undefined
}

export type TransitionListener = (sandbox: SandboxRecord, oldState: SandboxState, newState: SandboxState) => void

/** Full `Sandbox` DTO (single-sandbox endpoints). */
export const sandboxDto = (sb: SandboxRecord, toolboxUrl: string): Record<string, unknown> => {
  return {
    ...sandboxListItem(sb, toolboxUrl),
    env: { ...sb.env },
    volumes: sb.volumes.map((v) => ({ ...v })),
    ...(sb.buildInfo
      ? {
        buildInfo: {
          dockerfileContent: sb.buildInfo.dockerfileContent,
          ...(sb.buildInfo.contextHashes ? { contextHashes: [...sb.buildInfo.contextHashes] } : {}),
          createdAt: sb.createdAt,
          updatedAt: sb.createdAt,
          snapshotRef: sb.buildInfo.image
        }
      }
      : {}),
    backupCreatedAt: sb.createdAt
  }
}

/**
 * `SandboxListItem`: no `env` (the SDK tells full from list DTOs by `'env' in dto`), no volumes or buildInfo,
 * but `toolboxProxyUrl` is present so the SDK never needs the fallback call.
 */
export const sandboxListItem = (sb: SandboxRecord, toolboxUrl: string): Record<string, unknown> => {
  return {
    id: sb.id,
    organizationId: sb.organizationId,
    name: sb.name,
    ...(sb.snapshot !== undefined ? { snapshot: sb.snapshot } : {}),
    user: sb.user,
    labels: { ...sb.labels },
    public: sb.public,
    networkBlockAll: sb.networkBlockAll,
    ...(sb.networkAllowList !== undefined ? { networkAllowList: sb.networkAllowList } : {}),
    ...(sb.domainAllowList !== undefined ? { domainAllowList: sb.domainAllowList } : {}),
    target: sb.target,
    cpu: sb.cpu,
    gpu: sb.gpu,
    memory: sb.memory,
    disk: sb.disk,
    state: sb.state,
    desiredState: sb.desiredState,
    ...(sb.errorReason !== undefined ? { errorReason: sb.errorReason, recoverable: false } : {}),
    backupState: "None",
    autoStopInterval: sb.autoStopInterval,
    autoPauseInterval: sb.autoPauseInterval,
    autoArchiveInterval: sb.autoArchiveInterval,
    autoDeleteInterval: sb.autoDeleteInterval,
    createdAt: sb.createdAt,
    updatedAt: sb.updatedAt,
    lastActivityAt: sb.lastActivityAt,
    sandboxClass: "container",
    daemonVersion: "emulator",
    runnerId: "emulator-runner",
    spot: false,
    toolboxProxyUrl: toolboxUrl
  }
}
