/**
 * What the route modules share: the stores, the process registry and a few resolved options.
 */
import type { Router } from "./http.js"
import type { ProcessRegistry } from "./processes.js"
import type { SessionManager } from "./sessions.js"
import type { SnapshotStore } from "./snapshots.js"
import type { SandboxStore } from "./state.js"
import type { VolumeStore } from "./volumes.js"

export interface App {
  readonly store: SandboxStore
  readonly snapshots: SnapshotStore
  readonly volumes: VolumeStore
  readonly processes: ProcessRegistry
  readonly sessions: SessionManager
  readonly router: Router
  /** `http://127.0.0.1:PORT`, known once the server listens. */
  readonly origin: () => string
  readonly executeDefaultTimeoutSeconds: number
}
