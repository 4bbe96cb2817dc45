/**
 * The Daytona emulator as the CLI's tests use it: one per test, closed with the test's scope, its commands run in
 * their own process namespace (bubblewrap where it works) so that a stopped command really goes.
 */
import { startEmulator } from "@org/daytona-emulator"
import { Effect } from "effect"

export const scopedEmulator = (options: Parameters<typeof startEmulator>[0]) =>
  Effect.acquireRelease(
    Effect.promise(() => startEmulator({ isolateProcesses: true, ...options })),
    (emu) => Effect.promise(() => emu.close())
  )
