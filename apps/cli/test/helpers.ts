/**
 * Runs the built CLI as a real child process, each test in its own temp state, config, cache and cwd.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { expect } from "@effect/vitest"
import type { Emulator } from "@org/daytona-emulator"
import { type Duration, Effect, Schedule, TestServices } from "effect"
import { spawn } from "node:child_process"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { rm } from "node:fs/promises"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const at = (relative: string) => fileURLToPath(new URL(relative, import.meta.url))

export const paths = {
  root: at("../../../"),
  launcher: at("../bin/sandbox-cli.cjs"),
  bundle: at("../dist/sandbox-cli.cjs"),
  deno: at("../../../node_modules/.bin/deno")
} as const

if (!existsSync(paths.bundle)) {
  throw new Error(`${paths.bundle} is missing: build the CLI first (cd apps/cli && node build.mjs)`)
}

export const version: string = JSON.parse(readFileSync(at("../package.json"), "utf8")).version

export type Runtime = "node" | "deno"

export interface CliResult {
  /** The exit code, or `null` when the process was killed by `signal`. */
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

export interface RunOptions {
  readonly cwd: string
  /** The child's whole environment (nothing is inherited beyond it). */
  readonly env: Readonly<Record<string, string>>
  readonly runtime?: Runtime
}

/** Run the built CLI (no shell) and collect its exit code and output. */
export const runCli = (args: ReadonlyArray<string>, options: RunOptions): Promise<CliResult> => {
  const runtime = options.runtime ?? "node"
  if (runtime === "deno" && !existsSync(paths.deno)) {
    return Promise.reject(new Error(`${paths.deno} is missing: install the root devDependencies (npm install)`))
  }
  const [command, argv] = runtime === "node"
    ? [process.execPath, [paths.launcher, ...args]]
    : [paths.deno, ["run", "-A", paths.bundle, ...args]]
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, { cwd: options.cwd, env: options.env, stdio: ["ignore", "pipe", "pipe"] })
    const stdout: Array<Buffer> = []
    const stderr: Array<Buffer> = []
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk))
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk))
    child.on("error", reject)
    child.on("close", (code, signal) =>
      resolve({
        code,
        signal,
        stdout: Buffer.concat(stdout).toString("utf8"),
        stderr: Buffer.concat(stderr).toString("utf8")
      }))
  })
}

/** Variables a test must set itself so that the host's own never leak in. */
const isolated = /^(SANDBOX_CLI_|XDG_|DAYTONA_)|^(NODE_OPTIONS|DENO_DIR)$/

export interface Fixture {
  /** The test's temp directory (symlinks resolved). */
  readonly tmp: string
  /** `$SANDBOX_CLI_HOME` */
  readonly home: string
  /** The directory the CLI runs in unless a run says otherwise. */
  readonly cwd: string
  readonly env: Readonly<Record<string, string>>
  /** Run the CLI; `env` entries are added to (or, when `undefined`, removed from) the fixture's. */
  readonly run: (
    args: ReadonlyArray<string>,
    options?: { readonly cwd?: string; readonly env?: Readonly<Record<string, string | undefined>> }
  ) => Effect.Effect<CliResult>
  /** Write a file (path relative to `tmp`, parents created) and return its absolute path. */
  readonly write: (relative: string, text: string) => Effect.Effect<string>
  /** Create a directory (relative to `tmp`) and return its absolute path. */
  readonly mkdir: (relative: string) => Effect.Effect<string>
}

/** A fresh temp directory with its own state, config, cache and cwd; removed when the test's scope closes. */
export const fixture = (runtime: Runtime = "node") =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const tmp = yield* fs.makeTempDirectory({ prefix: "sandbox-cli-e2e-" }).pipe(Effect.flatMap(fs.realPath))
    // A CLI process the test started may still be exiting (writing its code cache) as the scope closes: the
    // removal retries instead of failing the test on a directory that is not empty yet.
    yield* Effect.addFinalizer(() =>
      Effect.promise(() => rm(tmp, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }).catch(() => {}))
    )
    const home = path.join(tmp, "state")
    const cwd = path.join(tmp, "cwd")
    yield* fs.makeDirectory(cwd)
    const inherited = Object.fromEntries(
      Object.entries(process.env).filter((entry): entry is [string, string] =>
        entry[1] !== undefined && !isolated.test(entry[0])
      )
    )
    const env: Record<string, string> = {
      ...inherited,
      SANDBOX_CLI_HOME: home,
      XDG_CONFIG_HOME: path.join(tmp, "config"),
      XDG_CACHE_HOME: path.join(tmp, "cache"),
      XDG_STATE_HOME: path.join(tmp, "xdg-state"),
      DENO_NO_UPDATE_CHECK: "1",
      NO_COLOR: "1"
    }
    const orDie = <A, E>(effect: Effect.Effect<A, E>) => Effect.orDie(effect)
    const fixture: Fixture = {
      tmp,
      home,
      cwd,
      env,
      run: (args, options) =>
        Effect.promise(() => {
          const merged: Record<string, string> = { ...env }
          for (const [key, value] of Object.entries(options?.env ?? {})) {
            if (value === undefined) delete merged[key]
            else merged[key] = value
          }
          return runCli(args, { cwd: options?.cwd ?? cwd, env: merged, runtime })
        }),
      write: (relative, text) => {
        const file = path.resolve(tmp, relative)
        return orDie(
          fs.makeDirectory(path.dirname(file), { recursive: true }).pipe(
            Effect.zipRight(fs.writeFileString(file, text)),
            Effect.as(file)
          )
        )
      },
      mkdir: (relative) => {
        const dir = path.resolve(tmp, relative)
        return orDie(fs.makeDirectory(dir, { recursive: true }).pipe(Effect.as(dir)))
      }
    }
    return fixture
  })

/** Parse a command's JSON output. */
export const json = <A = unknown>(result: CliResult): A => {
  expect(result.stderr).toBe("")
  return JSON.parse(result.stdout) as A
}

/** The command succeeded and printed nothing on stderr. */
export const expectOk = (result: CliResult): CliResult => {
  expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: "" })
  return result
}

/** The command failed with `code` and exactly one line on stderr, which it returns. */
export const expectError = (result: CliResult, code: number): string => {
  expect({ code: result.code, stdout: result.stdout }).toEqual({ code, stdout: "" })
  expect(result.stderr).toMatch(/^[^\n]+\n$/)
  return result.stderr.trimEnd()
}

/** JSON shapes the tests read. */
export interface ProfileJson {
  readonly name: string
  readonly backend: string
  readonly sync_mode: string
  readonly persistence: string
  readonly backend_config: Record<string, unknown>
  readonly source: string
}

export interface WorkspaceJson {
  readonly name: string
  readonly path: string
  readonly sandbox?: string
  readonly created_at: string
  readonly updated_at: string
}

export interface DoctorJson {
  readonly ok: boolean
  readonly checks: ReadonlyArray<
    { readonly name: string; readonly status: "ok" | "warn" | "fail"; readonly detail: string }
  >
}

export const check = (report: DoctorJson, name: string) => {
  const found = report.checks.find((c) => c.name === name)
  expect(found, `doctor check ${name}`).toBeDefined()
  return found!
}

/** Poll (on the real clock, as a person would) until a check on the CLI's answer holds. */
export const poll = <A>(get: Effect.Effect<A>, ok: (a: A) => boolean, upTo: Duration.DurationInput = "60 seconds") =>
  get.pipe(
    Effect.filterOrFail(ok, () => "not yet"),
    Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo(upTo))),
    TestServices.provideLive
  )

// ---- Backends for end-to-end matrices (crash tests, fault matrix) -------------------------------------------

/** Processes a test left sleeping (blocked hooks, setup commands, agents): killed when the test's scope closes. */
export const sleepers = (pids: Array<number>) =>
  Effect.addFinalizer(() =>
    Effect.sync(() => {
      for (const pid of pids) {
        try {
          process.kill(pid, "SIGKILL")
        } catch {
          // already gone
        }
      }
    })
  )

/** A sandbox as its provider lists it: `live` (running or stopped) or `archived`. Destroyed ones are not listed. */
export interface Listed {
  readonly sandbox_id: string
  readonly state: "live" | "archived"
}

export interface Backend {
  readonly name: "local" | "daytona"
  /** The profile lines that choose the backend. */
  readonly table: (profile: string) => ReadonlyArray<string>
  /** Extra environment for every CLI run. */
  readonly env: Readonly<Record<string, string>>
  /**
   * Where a sandbox-side marker shows up on the host, if it exists yet: a command in the sandbox writes it beside
   * its workdir (`../NAME`).
   */
  readonly findMarker: (cli: Fixture, name: string) => string | undefined
  /** Whether a pid written inside a sandbox is a host pid (to clean up). */
  readonly hostPids: boolean
  /** The provider's own listing, straight from where it keeps its sandboxes (not through the CLI). */
  readonly listed: (cli: Fixture) => ReadonlyArray<Listed>
}

export const localBackend: Backend = {
  name: "local",
  table: () => [`backend = "local"`],
  env: {},
  findMarker: (cli, name) => {
    const runtimes = join(cli.home, "runtimes")
    if (!existsSync(runtimes)) return undefined
    return readdirSync(runtimes).map((d) => join(runtimes, d, name)).find((f) => existsSync(f))
  },
  hostPids: true,
  listed: (cli) => {
    const dir = (name: string) => existsSync(join(cli.home, name)) ? readdirSync(join(cli.home, name)) : []
    // a runtime directory beside its archive is listed live: its bytes are still there
    return [
      ...dir("archives").filter((n) => n.endsWith(".tar.gz")).map((n) => ({
        sandbox_id: n.slice(0, -".tar.gz".length),
        state: "archived" as const
      })),
      ...dir("runtimes").filter((n) => n.startsWith("sbx_")).map((id) => ({ sandbox_id: id, state: "live" as const }))
    ]
  }
}

/** The API key every emulator of the CLI's tests accepts. */
export const EMULATOR_KEY = "sandbox-cli-e2e-key"

export const daytonaBackend = (emu: Emulator): Backend => ({
  name: "daytona",
  table: (profile) => [`backend = "daytona"`, "", `[sandboxes.${profile}.daytona]`, `api_url = "${emu.url}"`],
  env: { DAYTONA_API_KEY: EMULATOR_KEY },
  findMarker: (_cli, name) => emu.sandboxes().map((sb) => join(sb.homeDir, name)).find((f) => existsSync(f)),
  hostPids: false,
  listed: (cli) => {
    // one emulator may serve several state directories: this one's sandboxes carry its `state-dir` label,
    // read from a sandbox its sessions record
    const sessions = join(cli.home, "sessions")
    const mine = new Set(
      (existsSync(sessions) ? readdirSync(sessions) : []).flatMap((n) => {
        try {
          return [JSON.parse(readFileSync(join(sessions, n), "utf8")).sandbox.sandbox_id as string]
        } catch {
          return []
        }
      })
    )
    const stateDir = emu.sandboxes().find((sb) => mine.has(sb.labels["sandbox-id"] ?? ""))?.labels["state-dir"]
    return emu.sandboxes().filter((sb) =>
      sb.state !== "destroyed" && sb.state !== "destroying" && stateDir !== undefined &&
      sb.labels["state-dir"] === stateDir
    ).map((sb) => ({
      sandbox_id: sb.labels["sandbox-id"] ?? sb.id,
      state: sb.state === "archived" ? "archived" as const : "live" as const
    }))
  }
})
