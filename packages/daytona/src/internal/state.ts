import type { SandboxState } from "@org/sandbox-core/Session"

/**
 * Daytona's sandbox states as ours (DESIGN §9). A state on its way somewhere maps to where it is going when
 * that is a rest state we have (`stopping` → stopped, `archiving` → archived), and to `provisioning` when the
 * sandbox is on its way to running; an unknown state is `provisioning`, never `running`.
 *
 * @internal
 */
export const toSandboxState = (state: string | undefined): SandboxState => {
  switch (state) {
    case "started":
    case "resizing":
    case "snapshotting":
    case "forking":
      return "running"
    case "stopped":
    case "stopping":
    case "paused":
    case "pausing":
      return "stopped"
    case "archived":
    case "archiving":
      return "archived"
    case "error":
    case "build_failed":
      return "failed"
    case "destroyed":
    case "destroying":
      return "gone"
    default:
      // creating, restoring, starting, resuming, pending_build, building_snapshot, pulling_snapshot, unknown
      return "provisioning"
  }
}

/**
 * States in which the API refuses a state change with 409 until the transition ends.
 *
 * @internal
 */
export const isTransitional = (state: string | undefined): boolean =>
  state !== undefined &&
  !["started", "stopped", "archived", "error", "build_failed", "destroyed", "paused"].includes(state)

/**
 * Whether the API has accepted to delete a sandbox. After a DELETE a sandbox lingers for a while, first in its
 * last state with desired state `destroyed`, then `destroying`: either way it is gone for us (nothing waits for
 * it, a second DELETE would only get 409).
 *
 * @internal
 */
export const isDeleted = (state: string | undefined, desiredState?: string | undefined): boolean =>
  state === "destroyed" || state === "destroying" || desiredState === "destroyed"
