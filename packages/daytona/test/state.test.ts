import { describe, expect, it } from "@effect/vitest"
import { toSandboxState } from "../src/internal/state.js"

describe("Daytona states as ours (DESIGN §9)", () => {
  const table = {
    creating: "provisioning",
    restoring: "provisioning",
    starting: "provisioning",
    pending_build: "provisioning",
    building_snapshot: "provisioning",
    pulling_snapshot: "provisioning",
    unknown: "provisioning",
    resuming: "provisioning",
    started: "running",
    resizing: "running",
    snapshotting: "running",
    forking: "running",
    stopped: "stopped",
    stopping: "stopped",
    paused: "stopped",
    pausing: "stopped",
    archived: "archived",
    archiving: "archived",
    error: "failed",
    build_failed: "failed",
    destroyed: "gone",
    destroying: "gone"
  } as const
  for (const [daytona, ours] of Object.entries(table)) {
    it(`${daytona} → ${ours}`, () => expect(toSandboxState(daytona)).toBe(ours))
  }
  it("a missing or new state is provisioning, never running", () => {
    expect(toSandboxState(undefined)).toBe("provisioning")
    expect(toSandboxState("some_future_state")).toBe("provisioning")
  })
})
