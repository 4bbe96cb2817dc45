/**
 * The whole path a user takes: a config with `[providers] tmpdir = "@example/sandbox-tmpdir"` and a profile with
 * `backend = "tmpdir"`, then `sandbox-cli run`. The CLI resolves the package by name from the config file's
 * directory, adapts it with `fromPromiseProvider`, syncs the workspace in, runs the command and brings changes home.
 *
 * Needs the CLI bundle (`npm run build -w sandbox-cli`); without it the case is skipped and says so.
 */
import { spawn } from "node:child_process"
import { existsSync, promises as fsp } from "node:fs"
import { tmpdir } from "node:os"
import * as nodePath from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const packageDir = fileURLToPath(new URL("..", import.meta.url))
const cli = nodePath.join(packageDir, "../../apps/cli/bin/sandbox-cli.cjs")
const cliBuilt = existsSync(nodePath.join(packageDir, "../../apps/cli/dist/sandbox-cli.cjs"))

const run = (args: ReadonlyArray<string>, cwd: string, env: Record<string, string>) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd, env: { ...process.env, ...env } })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()))
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    child.once("error", reject)
    child.once("close", (code) => resolve({ code, stdout, stderr }))
  })

describe("sandbox-cli with the package under [providers]", () => {
  it.skipIf(!cliBuilt)("runs a command in a tmpdir sandbox and brings its changes home", async () => {
    // The config sits inside the package so that the package name resolves from its directory, as from a project.
    const configDir = await fsp.mkdtemp(nodePath.join(packageDir, ".tmp-cli-"))
    const scratch = await fsp.mkdtemp(nodePath.join(tmpdir(), "sandbox-tmpdir-cli-"))
    try {
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
      const r = await run(
        [
          "run",
          "--config",
          config,
          "--profile",
          "scratch",
          "--",
          "sh",
          "-c",
          "cat in.txt; echo made > out.txt; exit 3"
        ],
        workspace,
        { SANDBOX_CLI_HOME: nodePath.join(scratch, "home"), XDG_CONFIG_HOME: nodePath.join(scratch, "xdg") }
      )
      expect(r.stderr).not.toMatch(/unknown backend|provider module/)
      expect(r.code).toBe(3)
      expect(r.stdout).toContain("from the host")
      expect(await fsp.readFile(nodePath.join(workspace, "out.txt"), "utf8")).toBe("made\n")
      // The profile is transient: the sandbox directory is gone after the run.
      expect(await fsp.readdir(root)).toEqual([])
    } finally {
      await fsp.rm(configDir, { recursive: true, force: true })
      await fsp.rm(scratch, { recursive: true, force: true })
    }
  })
})
