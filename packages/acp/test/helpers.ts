import * as FileSystem from "@effect/platform/FileSystem"
import type { HistoryEntry } from "@org/sandbox-core/History"
import { builtinLocal, Profile } from "@org/sandbox-core/Profile"
import { makeSpec } from "@org/sandbox-core/testing"
import * as LocalProvider from "@org/sandbox-local/LocalProvider"
import { Effect } from "effect"
import { fileURLToPath } from "node:url"
import * as AcpClient from "../src/AcpClient.js"

/** The scripted agent (test/acp-agent), run by this very node. */
export const agentCommand: ReadonlyArray<string> = [
  process.execPath,
  fileURLToPath(new URL("../../../test/acp-agent/agent.mjs", import.meta.url))
]

export interface Recorded {
  readonly history: Array<HistoryEntry>
  readonly events: Array<{ readonly type: AcpClient.TransportEvent; readonly attrs: Record<string, unknown> }>
}

/** A local sandbox (destroyed with the scope) and an empty directory standing for the host side. */
export const localSandbox = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const stateDir = yield* fs.makeTempDirectoryScoped({ prefix: "sandbox-acp-test-" })
  const hostDir = yield* fs.makeTempDirectoryScoped({ prefix: "sandbox-acp-host-" })
  const provider = yield* LocalProvider.make({ profile: Profile.make({ ...builtinLocal }), stateDir })
  const instance = yield* Effect.acquireRelease(
    provider.create(makeSpec("local")),
    (i) => Effect.ignore(provider.destroy(i))
  )
  return { provider, instance, hostDir, stateDir }
})

export const recorder = (): Recorded & Pick<AcpClient.StartOptions, "onHistory" | "onEvent"> => {
  const history: Array<HistoryEntry> = []
  const events: Recorded["events"] = []
  return {
    history,
    events,
    onHistory: (entry) => Effect.sync(() => history.push(entry)),
    onEvent: (type, attrs) => Effect.sync(() => events.push({ type, attrs }))
  }
}

export const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)
export const bytes = (s: string) => new TextEncoder().encode(s)

/** The lines of the agent's messages in a history (consecutive chunks form one message). */
export const messages = (history: ReadonlyArray<HistoryEntry>) =>
  history.filter((e) => e.kind === "message").flatMap((e) => e.text.split("\n")).filter((l) => l.length > 0)
