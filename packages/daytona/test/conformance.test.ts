import { NodeContext } from "@effect/platform-node"
import { describe, it } from "@effect/vitest"
import type { Emulator } from "@org/daytona-emulator"
import { startEmulator } from "@org/daytona-emulator"
import type { CapabilityName } from "@org/sandbox-core/Capabilities"
import { cases, conformanceSuite } from "@org/sandbox-core/testing"
import { Effect } from "effect"
import { afterAll, expect } from "vitest"
import * as DaytonaProvider from "../src/DaytonaProvider.js"
import { daytonaCases } from "./cases.js"
import { API_KEY, DELETE_LINGER, makeProvider, SHELL } from "./helpers.js"

// Commands run under bubblewrap so they see in-sandbox paths, as in a real sandbox (see the emulator's
// `isolateProcesses`); where bubblewrap cannot run, the two cases that hand a runtime path to a shell are left out.
const emu: Emulator = await startEmulator({
  apiKey: API_KEY,
  isolateProcesses: true,
  shell: SHELL,
  deleteLinger: DELETE_LINGER
})
afterAll(() => emu.close())

const pathSensitive = ["exec runs in the workdir by default"]
const all = [...cases, ...daytonaCases].filter((c) =>
  emu.isolatedProcesses || !pathSensitive.some((p) => c.name.startsWith(p))
)

const suite = await conformanceSuite({
  makeProvider: Effect.suspend(() => makeProvider(emu)),
  layer: NodeContext.layer,
  capabilities: DaytonaProvider.capabilities,
  cases: all
})

describe(`DaytonaProvider conformance (emulator, ${SHELL})`, () => {
  for (const c of suite) it.skipIf(c.skip)(c.name, c.run, c.timeout)

  it("exercises every capability it declares", () => {
    const declared =
      (Object.keys(DaytonaProvider.capabilities) as Array<keyof DaytonaProvider.DaytonaService["capabilities"]>)
        .filter((k): k is CapabilityName => k !== "idle_model" && DaytonaProvider.capabilities[k] === true)
    const exercised = new Set(suite.filter((c) => !c.skip).map((c) => c.capability))
    expect(declared.filter((k) => !exercised.has(k))).toEqual([])
  })
})
