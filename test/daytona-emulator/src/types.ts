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

/**
 * What an injected fault does to a matching request. `drop` resets the connection before the handler runs (the
 * request had no effect); `drop-after` lets the handler act, then resets the connection instead of replying (the
 * client cannot tell whether it acted); `502` is the proxy's answer when the sandbox's daemon is unreachable.
 * On WebSocket upgrades (session logs) and Socket.IO handshakes every kind refuses the connection.
 */
export type FaultKind = "429" | "500" | "502" | "503" | "slow" | "drop" | "drop-after"

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
  /**
   * The header that carries the wait: `Retry-After` (default) or a per-limiter variant such as
   * `Retry-After-sandbox-create`, as Daytona's throttler names them.
   */
  readonly retryAfterHeader?: string
  /** Send the wait as an HTTP date instead of delta-seconds. */
  readonly retryAfterDate?: boolean
  /** Delay for `slow`. Default 1000 ms. */
  readonly delayMs?: number
  /** Fire at most this many times (then the rule is spent). Default unlimited. */
  readonly times?: number
  /** Let this many matching requests through before the rule starts firing. Default 0. */
  readonly after?: number
}

/** The statuses the global random-failure mode may answer with (`drop` resets the connection instead). */
export type RandomFailureKind = "429" | "500" | "502" | "503" | "drop" | "drop-after"

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
  /**
   * A deleted sandbox lingers as the real API keeps it: first in its state (desired state `destroyed`), then
   * `destroying`, then gone (404). While it lingers a second DELETE, a start or a stop answers 409. Default
   * `{ unchangedMs: 0, destroyingMs: 0 }`: the reply says `destroying` and the next request gets 404.
   */
  readonly deleteLinger?: { readonly unchangedMs?: number; readonly destroyingMs?: number }
  /**
   * Daytona's auto-stop: a started sandbox with `autoStopInterval` N > 0 stops after N "minutes" without activity
   * (toolbox requests, control-plane requests that address it, `POST /sandbox/{id}/last-activity`; preview
   * traffic and a process merely running do not count). This sets the length of such a minute, so tests can
   * use short intervals. Default 60 000 ms.
   */
  readonly autoStopMinuteMs?: number
  /**
   * The shell commands run through, as the daemon picks one: `zsh` when the image has it, else `bash`, else
   * `sh`. Default `sh`.
   */
  readonly shell?: "sh" | "bash" | "zsh"
  /**
   * Timeout applied by `/process/execute` when the request has none (or 0). Default 0: none, as the daemon does
   * (the spec's "10 s" is not what the daemon applies).
   */
  readonly executeDefaultTimeoutSeconds?: number
  readonly organizationId?: string
  /**
   * Called once per answered API/toolbox request (admin endpoints excluded) with what was sent, so tests can
   * check a client's requests. JSON bodies up to 1 MiB are parsed into `body`.
   */
  readonly onRequest?: (record: RequestRecord) => void
  /**
   * Run sandbox commands under bubblewrap: they see the sandbox's filesystem at the paths the API uses
   * (`/home/daytona/...`), the host's system read-only, and run as uid 1000 where user namespaces work, so a
   * command can write nothing outside its sandbox. Without it a command is a plain host process (its cwd and HOME
   * point into the emulator's directory) that can write wherever the emulator's user can. Ignored (see
   * `Emulator.isolatedProcesses`) where bubblewrap cannot run. Default true.
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
  /** Whether contained commands run as uid 1000 (user namespaces work here), not as the emulator's user. */
  readonly sandboxUser: boolean
  /** The shell's executable commands run through. */
  readonly shell: string
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
