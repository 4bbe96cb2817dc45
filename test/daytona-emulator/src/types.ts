/**
 * Public types of the emulator: options, fault rules, counters and the handle `startEmulator` returns.
 */

/** Every `SandboxState` of the control-plane API (daytona-api.md §5). */
export type SandboxState =
  | "creating"
  | "restoring"
  | "destroyed"
  | "destroying"
  | "started"
  | "stopped"
  | "starting"
  | "stopping"
  | "error"
  | "build_failed"
  | "pending_build"
  | "building_snapshot"
  | "unknown"
  | "pulling_snapshot"
  | "archived"
  | "archiving"
  | "resizing"
  | "snapshotting"
  | "forking"
  | "pausing"
  | "paused"
  | "resuming"

export type SandboxDesiredState = "destroyed" | "started" | "stopped" | "resized" | "archived" | "paused"

/** What an injected fault does to a matching request. */
export type FaultKind = "429" | "500" | "503" | "slow" | "drop"

/**
 * One fault rule. `route` is matched against `"METHOD /actual/path"` and against the route template
 * (`"GET /api/sandbox/{sandboxIdOrName}"`): a string must equal one of them, a RegExp must match one of them.
 */
export interface FaultRule {
  readonly route: RegExp | string
  readonly kind: FaultKind
  /** Probability per matching request, drawn from the seeded PRNG. Default 1. */
  readonly rate?: number
  /** `Retry-After` for 429 (and 503 when given). Default 1 for 429. */
  readonly retryAfterSeconds?: number
  /** Delay for `slow`. Default 1000 ms. */
  readonly delayMs?: number
  /** Fire at most this many times (then the rule is spent). Default unlimited. */
  readonly times?: number
}

/** The statuses the global random-failure mode may answer with (`drop` resets the connection instead). */
export type RandomFailureKind = "429" | "500" | "503" | "drop"

/**
 * Global chaos mode: each HTTP request (admin endpoints, Socket.IO and the preview proxy excepted) fails with
 * probability `rate`, before its handler runs, so a failed request never had an effect and is always safe to
 * retry. Draws come from the seeded PRNG, after the per-route rules had their turn.
 */
export interface RandomFailures {
  /** Probability per request, 0..1 (e.g. 0.3 for 30%). */
  readonly rate: number
  /** Replies to pick from, uniformly. Default `["429", "503"]`. */
  readonly kinds?: ReadonlyArray<RandomFailureKind>
  /** `Retry-After` on 429 and 503 replies. Default 1. */
  readonly retryAfterSeconds?: number
  /** Limit the mode to matching requests (same matching as `FaultRule.route`). Default: every request. */
  readonly route?: RegExp | string
}

/**
 * A sandbox that stays in `state` for the next `requests` control-plane requests addressing it (forever when
 * omitted). Matches by id or name (`sandbox`) or by a label subset (`labels`), so rules given at start can
 * catch sandboxes created later.
 */
export interface StuckRule {
  readonly sandbox?: string
  readonly labels?: Readonly<Record<string, string>>
  readonly state: SandboxState
  readonly requests?: number
}

export interface EmulatorOptions {
  /** Port on 127.0.0.1; 0 (default) picks a free one. */
  readonly port?: number
  /** The only bearer token accepted. */
  readonly apiKey: string
  /** Directory holding one directory per sandbox. Default: a fresh temp dir removed on close. */
  readonly root?: string
  /** Seed of the PRNG that decides probabilistic faults. Default 1. */
  readonly seed?: number
  readonly faults?: ReadonlyArray<FaultRule>
  /** Fail a fraction of all requests at random with 429/503 (see `RandomFailures`). Default off. */
  readonly randomFailures?: RandomFailures
  readonly stuck?: ReadonlyArray<StuckRule>
  /**
   * State `POST /sandbox` replies with. `started` (default) makes create one round trip; `creating` reports
   * `creating` once and `started` from the next request on.
   */
  readonly createState?: "started" | "creating"
  /** Refuse `DELETE /sandbox/{id}` with 409 while the sandbox is `starting`. Default true. */
  readonly refuseDeleteWhileStarting?: boolean
  /** Timeout applied by `/process/execute` when the request has none (the spec says 10 s). 0 disables. */
  readonly executeDefaultTimeoutSeconds?: number
  readonly organizationId?: string
  /**
   * Called once per answered API/toolbox request (admin endpoints excluded) with what was sent, so tests can
   * check a client's requests. JSON bodies up to 1 MiB are parsed into `body`.
   */
  readonly onRequest?: (record: RequestRecord) => void
  /**
   * Run sandbox commands under bubblewrap so that they see the sandbox's filesystem at the paths the API uses
   * (`/home/daytona/...`), as in a real sandbox; without it a command sees host paths (its cwd and HOME point
   * into the emulator's directory) while the file API takes in-sandbox paths. Ignored (see
   * `Emulator.isolatedProcesses`) where bubblewrap cannot run. Default false.
   */
  readonly isolateProcesses?: boolean
}

/** One request as `onRequest` reports it. */
export interface RequestRecord {
  readonly method: string
  /** The path without the query string. */
  readonly path: string
  /** The route key the counters use, e.g. `"POST /api/sandbox"`. */
  readonly route: string
  readonly query: string
  readonly status: number
  readonly contentType: string | undefined
  /** The parsed JSON body, when the request had a JSON body. */
  readonly body?: unknown
}

/** Counters of one route template. */
export interface RouteStats {
  readonly requests: number
  readonly bytesIn: number
  readonly bytesOut: number
  readonly faultsInjected: number
  /** Replies per HTTP status. */
  readonly statuses: Readonly<Record<string, number>>
}

export interface EmulatorStats {
  /** HTTP requests (Socket.IO traffic excluded; WebSocket log upgrades included). */
  readonly requests: number
  /** Requests per route template, e.g. `"POST /api/sandbox"`; unmatched ones under `"GET (unmatched)"`. */
  readonly routes: Readonly<Record<string, number>>
  /** Replies per HTTP status. */
  readonly statuses: Readonly<Record<string, number>>
  /** Request body bytes read. */
  readonly bytesIn: number
  /** Response body bytes written (headers excluded). */
  readonly bytesOut: number
  readonly faultsInjected: number
  readonly webSockets: number
  readonly socketIoConnections: number
  /** The same counters per route template (keys as in `routes`), bytes included. */
  readonly perRoute: Readonly<Record<string, RouteStats>>
}

/** The fault configuration in force, as `faults()` and `GET /_emulator/faults` report it. */
export interface FaultConfig {
  readonly seed: number
  readonly rules: ReadonlyArray<FaultRule>
  readonly randomFailures: RandomFailures | undefined
}

export interface EmulatorSandbox {
  readonly id: string
  readonly name: string
  readonly state: SandboxState
  readonly desiredState: SandboxDesiredState
  readonly labels: Readonly<Record<string, string>>
  /** Host directory that is the sandbox's `/`. */
  readonly dir: string
  /** Host directory of the sandbox user's home (`/home/daytona` inside). */
  readonly homeDir: string
}

export interface Emulator {
  /** Control-plane base, e.g. `http://127.0.0.1:43123/api`; pass it as `apiUrl`. */
  readonly url: string
  /** `toolboxProxyUrl` every sandbox DTO carries, e.g. `http://127.0.0.1:43123/toolbox`. */
  readonly toolboxUrl: string
  readonly port: number
  readonly root: string
  /** Whether commands run under bubblewrap (`isolateProcesses` was asked for and bubblewrap works here). */
  readonly isolatedProcesses: boolean
  stats(): EmulatorStats
  resetStats(): void
  setFaults(faults: ReadonlyArray<FaultRule>): void
  /** Turns the global random-failure mode on (or off with `undefined`). */
  setRandomFailures(random: RandomFailures | undefined): void
  /** Restarts the PRNG, so the same request sequence sees the same faults again. */
  reseed(seed: number): void
  faults(): FaultConfig
  stick(sandboxIdOrName: string, state: SandboxState, requests?: number): void
  unstick(sandboxIdOrName: string): void
  /** Every HTTP route served (method + OpenAPI-style template), e.g. `GET /api/sandbox/{sandboxIdOrName}`. */
  routes(): ReadonlyArray<{ readonly method: string; readonly template: string }>
  /** Every sandbox ever created, destroyed ones included. */
  sandboxes(): ReadonlyArray<EmulatorSandbox>
  close(): Promise<void>
}
