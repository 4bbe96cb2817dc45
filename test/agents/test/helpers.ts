/**
 * The built CLI as a real child process, each test in its own temp state, config and cwd; polling on the real clock.
 */
import { spawn } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const at = (relative: string) => fileURLToPath(new URL(relative, import.meta.url))

export const launcher = at("../../../apps/cli/bin/sandbox-cli.cjs")
if (!existsSync(at("../../../apps/cli/dist/sandbox-cli.cjs"))) {
  throw new Error(
    "apps/cli/dist/sandbox-cli.cjs is missing: build the CLI first (npx turbo run build --filter=sandbox-cli)"
  )
}

export interface CliResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

export interface Cli {
  readonly tmp: string
  readonly home: string
  readonly cwd: string
  readonly env: Readonly<Record<string, string>>
  readonly run: (args: ReadonlyArray<string>, env?: Readonly<Record<string, string>>) => Promise<CliResult>
  readonly write: (relative: string, text: string) => string
  readonly close: () => void
}

/** Variables of the outer environment a test must not inherit (state, config, credentials). */
const isolated = /^(SANDBOX_CLI_|XDG_|DAYTONA_|ANTHROPIC_|OPENAI_|CODEX_|CLAUDE_)/

export const makeCli = (): Cli => {
  const tmp = realpathSync(mkdtempSync(join(tmpdir(), "sandbox-agents-")))
  const home = join(tmp, "state")
  const cwd = join(tmp, "cwd")
  mkdirSync(cwd, { recursive: true })
  const env: Record<string, string> = {
    ...Object.fromEntries(
      Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined && !isolated.test(e[0]))
    ),
    SANDBOX_CLI_HOME: home,
    XDG_CONFIG_HOME: join(tmp, "config"),
    XDG_CACHE_HOME: join(tmp, "cache"),
    NO_COLOR: "1"
  }
  return {
    tmp,
    home,
    cwd,
    env,
    run: (args, extra = {}) =>
      new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [launcher, ...args], {
          cwd,
          env: { ...env, ...extra },
          stdio: ["ignore", "pipe", "pipe"]
        })
        let stdout = ""
        let stderr = ""
        child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c))
        child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c))
        child.once("error", reject)
        child.once("close", (code) => resolve({ code, stdout, stderr }))
      }),
    write: (relative, text) => {
      const file = join(tmp, relative)
      mkdirSync(dirname(file), { recursive: true })
      writeFileSync(file, text)
      return file
    },
    close: () => rmSync(tmp, { recursive: true, force: true, maxRetries: 3 })
  }
}

export const json = <A>(result: CliResult): A => {
  if (result.code !== 0) throw new Error(`sandbox-cli exited ${result.code}: ${result.stderr}`)
  return JSON.parse(result.stdout) as A
}

/** Poll until `ok` holds (real clock), or fail with the last value seen. */
export const poll = async <A>(get: () => Promise<A>, ok: (a: A) => boolean, timeoutMs = 90_000): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  let last: A = await get()
  while (!ok(last)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting; last: ${JSON.stringify(last).slice(0, 2000)}`)
    await new Promise((resolve) => setTimeout(resolve, 250))
    last = await get()
  }
  return last
}

export interface HistoryJson {
  readonly at: string
  readonly kind: string
  readonly text: string
  readonly data?: Record<string, unknown>
}

export interface StatusJson {
  readonly state: string
  readonly last_error: string | null
}

export const history = (cli: Cli, id: string, env?: Record<string, string>) =>
  cli.run(["session", "history", id, "-o", "json"], env).then((r) => json<ReadonlyArray<HistoryJson>>(r))

export const status = (cli: Cli, id: string, env?: Record<string, string>) =>
  cli.run(["session", "status", id, "-o", "json"], env).then((r) => json<StatusJson>(r))
