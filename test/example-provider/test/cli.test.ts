/**
 * The whole path a user takes: a config with `[providers] tmpdir = "@example/sandbox-tmpdir"` and a profile with
 * `backend = "tmpdir"`, then `sandbox-cli run`. The CLI resolves the package by name from the config file's
 * directory, adapts it with `fromPromiseProvider`, syncs the workspace in, runs the command and brings changes home.
 * A session whose command never ends by itself (`sleep infinity` under this provider's async-generator
 * `execStream`) is stopped by `session stop`, and the command is gone afterwards. A host-side ACP agent works in the
 * sandbox's directory, as it does on the built-in local backend (the runtime is a directory on this machine).
 *
 * Needs the CLI bundle (`npm run build -w sandbox-cli`); without it the cases are skipped and say so.
 */
import { spawn } from "node:child_process"
import { existsSync, promises as fsp } from "node:fs"
import { tmpdir } from "node:os"
import * as nodePath from "node:path"
import { fileURLToPath } from "node:url"
import { afterEach, beforeEach, describe, expect, it } from "vitest"

const packageDir = fileURLToPath(new URL("..", import.meta.url))
const cli = nodePath.join(packageDir, "../../apps/cli/bin/sandbox-cli.cjs")
const cliBuilt = existsSync(nodePath.join(packageDir, "../../apps/cli/dist/sandbox-cli.cjs"))
const agentScript = nodePath.join(packageDir, "../acp-agent/agent.mjs")

interface Ran {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs the CLI; a run that outlives `timeoutMs` is killed and reported with code null. */
const run = (args: ReadonlyArray<string>, cwd: string, env: Record<string, string>, timeoutMs = 60_000) =>
  new Promise<Ran>((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd, env: { ...process.env, ...env } })
    let stdout = ""
    let stderr = ""
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()))
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    child.once("error", reject)
    child.once("close", (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/**
 * A project as a user has it: the config (inside this package, so that the package name resolves from its
 * directory as from a project's) with a `scratch` profile on the tmpdir backend, and a workspace beside it.
 */
interface Project {
  readonly configDir: string
  readonly config: string
  readonly root: string
  readonly workspace: string
  readonly env: Record<string, string>
}

let project: Project
/** Commands a case started that must not outlive it. */
const leftover: Array<number> = []
let scratch: string
beforeEach(async () => {
  const configDir = await fsp.mkdtemp(nodePath.join(packageDir, ".tmp-cli-"))
  scratch = await fsp.mkdtemp(nodePath.join(tmpdir(), "sandbox-tmpdir-cli-"))
  const root = nodePath.join(scratch, "root")
  const workspace = nodePath.join(scratch, "ws")
  await fsp.mkdir(workspace)
  await fsp.writeFile(nodePath.join(workspace, "in.txt"), "from the host\n")
  const config = nodePath.join(configDir, "sandbox-cli.toml")
  await fsp.writeFile(
    config,
    [
      "[providers]",
      "tmpdir = \"@example/sandbox-tmpdir\"",
      "",
      "[sandboxes.scratch]",
      "backend = \"tmpdir\"",
      "",
      "[sandboxes.scratch.tmpdir]",
      `root = ${JSON.stringify(root)}`,
      ""
    ].join("\n")
  )
  const env = { SANDBOX_CLI_HOME: nodePath.join(scratch, "home"), XDG_CONFIG_HOME: nodePath.join(scratch, "xdg") }
  project = { configDir, config, root, workspace, env }
})
afterEach(async () => {
  // A case that failed may leave a supervisor (and its command) behind: end them before their files go.
  const locks = nodePath.join(project.env["SANDBOX_CLI_HOME"]!, "supervisors")
  for (const name of await fsp.readdir(locks).catch(() => [])) {
    let pid: number | undefined
    try {
      pid = (JSON.parse(await fsp.readFile(nodePath.join(locks, name), "utf8")) as { pid?: number }).pid
    } catch {
      // not a lock (or one half-written): nothing to end
    }
    if (pid !== undefined && alive(pid)) process.kill(pid, "SIGKILL")
  }
  for (const pid of leftover.splice(0)) if (alive(pid)) process.kill(pid, "SIGKILL")
  await fsp.rm(project.configDir, { recursive: true, force: true })
  await fsp.rm(scratch, { recursive: true, force: true })
})

/**
 * A subcommand of the CLI in the project's workspace with its config, which must succeed. `--config` is a
 * subcommand option: it goes after the command's words.
 */
const sub = async (words: ReadonlyArray<string>, rest: ReadonlyArray<string> = [], timeoutMs?: number) => {
  const { config, env, workspace } = project
  const r = await run([...words, "--config", config, ...rest], workspace, env, timeoutMs)
  expect(r.code, `${words.join(" ")}: ${r.stderr}`).toBe(0)
  return r
}

describe("sandbox-cli with the package under [providers]", () => {
  it.skipIf(!cliBuilt)("runs a command in a tmpdir sandbox and brings its changes home", async () => {
    const { config, root, workspace, env } = project
    const r = await run(
      ["run", "--config", config, "--profile", "scratch", "--", "sh", "-c", "cat in.txt; echo made > out.txt; exit 3"],
      workspace,
      env
    )
    expect(r.stderr).not.toMatch(/unknown backend|provider module/)
    expect(r.code).toBe(3)
    expect(r.stdout).toContain("from the host")
    expect(await fsp.readFile(nodePath.join(workspace, "out.txt"), "utf8")).toBe("made\n")
    // The profile is transient: the sandbox directory is gone after the run.
    expect(await fsp.readdir(root)).toEqual([])
  })

  it.skipIf(!cliBuilt)(
    "session stop stops a command that never ends by itself, and its work comes home",
    async () => {
      const { root, workspace } = project
      await sub(["workspace", "add", workspace], ["--name", "proj", "--sandbox", "scratch"])
      const created = await sub(["session", "new"], [
        "--workspace",
        "proj",
        "-o",
        "json",
        "--",
        "sh",
        "-c",
        "echo $$ > pid.txt; echo up > up.txt; exec sleep infinity"
      ])
      const id = (JSON.parse(created.stdout) as { id: string }).id
      // The command is up once its pid is in the sandbox.
      let pid: number | undefined
      for (let i = 0; i < 300 && pid === undefined; i++) {
        const [dir] = await fsp.readdir(root).catch(() => [])
        const text = dir === undefined
          ? ""
          : await fsp.readFile(nodePath.join(root, dir, "work", "pid.txt"), "utf8").catch(() => "")
        if (/^\d+\n$/.test(text)) pid = Number(text)
        else await new Promise((r) => setTimeout(r, 100))
      }
      expect(pid, "the command wrote its pid").toBeDefined()
      leftover.push(pid!)
      expect(alive(pid!)).toBe(true)

      const started = Date.now()
      await sub(["session", "stop", id], [], 45_000)
      expect(Date.now() - started).toBeLessThan(30_000)
      const status = await sub(["session", "status", id], ["-o", "json"])
      expect(JSON.parse(status.stdout)).toMatchObject({ state: "stopped" })
      expect(alive(pid!), "the sleep outlived session stop").toBe(false)
      expect(await fsp.readFile(nodePath.join(workspace, "up.txt"), "utf8")).toBe("up\n")
    },
    90_000
  )

  it.skipIf(!cliBuilt)(
    "a host-side ACP agent works in the sandbox's directory, as on the built-in local backend",
    async () => {
      const { config, root, workspace } = project
      // The provider has no stdio stream both ways, so its agents run on the host.
      const text = await fsp.readFile(config, "utf8")
      await fsp.writeFile(
        config,
        text.replace(`backend = "tmpdir"\n`, `backend = "tmpdir"\nagent_location = "host"\n`) +
          `\n[agents.scripted]\nprotocol = "acp"\n` +
          `command = [${JSON.stringify(process.execPath)}, ${JSON.stringify(agentScript)}]\n`
      )
      await sub(["workspace", "add", workspace], ["--name", "proj", "--sandbox", "scratch"])
      const created = await sub(["session", "new"], [
        "--workspace",
        "proj",
        "--agent",
        "scripted",
        "--prompt",
        "where",
        "-o",
        "json"
      ])
      const id = (JSON.parse(created.stdout) as { id: string }).id
      let said: string | undefined
      for (let i = 0; i < 300 && said === undefined; i++) {
        const h = await sub(["session", "history", id], ["-o", "json"])
        const entries = JSON.parse(h.stdout) as ReadonlyArray<{ kind: string; text: string }>
        said = entries.map((e) => /agent cwd: (.*)/.exec(e.text)?.[1]).find((x) => x !== undefined)
        if (said === undefined) await new Promise((r) => setTimeout(r, 100))
      }
      const [dir] = await fsp.readdir(root)
      expect(said).toBe(await fsp.realpath(nodePath.join(root, dir!, "work")))
      await sub(["session", "stop", id])
    },
    90_000
  )
})
