import type { Emulator, EmulatorOptions } from "@org/daytona-emulator"
import { startEmulator } from "@org/daytona-emulator"
import { builtinLocal, Profile } from "@org/sandbox-core/Profile"
import type { CreateSpec } from "@org/sandbox-core/SandboxProvider"
import { makeSpec } from "@org/sandbox-core/testing"
import { Effect, Redacted } from "effect"
import { afterAll, beforeAll } from "vitest"
import * as DaytonaProvider from "../src/DaytonaProvider.js"

export const API_KEY = "daytona-provider-test-key"

/** A daytona profile with the given backend table and profile keys. */
export const profile = (
  table: Record<string, unknown> = {},
  extra: Partial<typeof Profile.Type> = {}
): Profile =>
  Profile.make({
    ...builtinLocal,
    name: builtinLocal.name,
    backend: "daytona",
    backend_config: table,
    source: "<test>",
    ...extra
  })

/** The shell the emulator runs commands through in this run of the suite (see vitest.config.ts). */
export const SHELL: "sh" | "bash" | "zsh" = ((s) => (s === "bash" || s === "zsh" ? s : "sh"))(
  process.env["DAYTONA_EMULATOR_SHELL"]
)

/**
 * A deleted sandbox lingers as on real Daytona (its state, then `destroying`, then gone; a second DELETE gets 409),
 * briefly, so every test of the provider meets it.
 */
export const DELETE_LINGER = { unchangedMs: 200, destroyingMs: 200 }

/** One emulator per test file, closed after the file; commands go through this run's shell. */
export const useEmulator = (options: Omit<EmulatorOptions, "apiKey"> = {}): () => Emulator => {
  let emu: Emulator | undefined
  beforeAll(async () => {
    emu = await startEmulator({ apiKey: API_KEY, shell: SHELL, deleteLinger: DELETE_LINGER, ...options })
  })
  afterAll(async () => {
    await emu?.close()
  })
  return () => {
    if (!emu) throw new Error("emulator not started")
    return emu
  }
}

/** The provider against an emulator, with short retry delays; the client is disposed with the scope. */
export const makeProvider = (
  emu: Emulator,
  p: Profile = profile(),
  options: Partial<DaytonaProvider.MakeOptions> = {}
) =>
  DaytonaProvider.make({
    profile: p,
    apiKey: Redacted.make(API_KEY),
    apiUrl: emu.url,
    retry: { base: "20 millis", cap: "500 millis" },
    ...options
  })

export const spec = (labels: Record<string, string> = {}): CreateSpec => {
  const base = makeSpec("daytona")
  return { ...base, labels: { ...base.labels, ...labels } }
}

export const scoped = Effect.scoped
