/**
 * Running programs from the install directory: the installed CLI through `npx`, node programs, and an emulator.
 */
import { startEmulator } from "@org/daytona-emulator"
import type { Emulator } from "@org/daytona-emulator"
import { spawn } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { inject } from "vitest"
import { cleanEnv } from "./globalSetup.js"

export const pack = () => inject("pack")

export interface Ran {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs a command with a fresh state directory and user config dir unless the caller gives them. */
export const run = (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly cwd: string; readonly env?: Record<string, string>; readonly stdin?: string }
): Promise<Ran> =>
  new Promise((resolve, reject) => {
    const child = spawn(command, [...args], { cwd: options.cwd, env: { ...cleanEnv(), ...options.env } })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()))
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    child.stdin.end(options.stdin ?? "")
    child.once("error", reject)
    child.once("close", (code) => resolve({ code, stdout, stderr }))
  })

/** A scratch directory with `home/` (SANDBOX_CLI_HOME) and `xdg/` (XDG_CONFIG_HOME); removed by `done`. */
export const scratch = () => {
  const dir = mkdtempSync(join(tmpdir(), "sandbox-pack-run-"))
  mkdirSync(join(dir, "home"))
  mkdirSync(join(dir, "xdg"))
  return {
    dir,
    env: { SANDBOX_CLI_HOME: join(dir, "home"), XDG_CONFIG_HOME: join(dir, "xdg"), XDG_CACHE_HOME: join(dir, "cache") },
    done: () => rmSync(dir, { recursive: true, force: true })
  }
}

export const KEY = "pack-test-key"

/** An emulator on loopback for one test. */
export const withEmulator = async <A>(f: (emu: Emulator) => Promise<A>): Promise<A> => {
  const emu = await startEmulator({ apiKey: KEY, isolateProcesses: true })
  try {
    return await f(emu)
  } finally {
    await emu.close()
  }
}
