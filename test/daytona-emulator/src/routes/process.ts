/**
 * `POST /process/execute` (daytona-api.md §8, §16 item 14), as the daemon runs it: the sandbox's shell (sh, bash or
 * zsh) reads the command on stdin in a process group of its own; stdout and stderr combined in arrival order, a
 * non-zero exit still 200, no time limit unless the request sets one, and at the limit the whole process group
 * killed and 408 `PROCESS_EXECUTION_TIMEOUT`.
 */
import { promises as fsp } from "node:fs"
import type { ServerResponse } from "node:http"
import type { App } from "../app.js"
import type { Handler, HttpMethod } from "../http.js"
import { HttpError, optNumber, optString, optStringRecord, readJsonObject, sendJson } from "../http.js"
import { killGroup, sandboxEnv } from "../processes.js"
import { resolveSandboxPath } from "../sandboxFs.js"
import type { SandboxRecord } from "../state.js"
import { TB, toolboxSandbox } from "./toolbox.js"

/** After the shell exits, wait this long for pipes held by background children before answering. */
const DRAIN_GRACE_MS = 150

export const processRoutes = (app: App): ReadonlyArray<readonly [HttpMethod, string, Handler]> => [
  ["POST", `${TB}/process/execute`, async (ctx) => {
    const sb = toolboxSandbox(app, ctx)
    const body = await readJsonObject(ctx)
    const command = optString(body, "command") ?? ""
    if (command.trim() === "") throw new HttpError(400, "command is required")
    const asked = optNumber(body, "timeout")
    // The daemon applies a limit only when the request gives a positive one.
    const timeout = asked !== undefined && asked > 0 ? asked : app.executeDefaultTimeoutSeconds
    const { host: cwd } = await resolveSandboxPath(sb.paths, optString(body, "cwd") ?? sb.paths.workDir)
    const isDir = await fsp.stat(cwd).then((s) => s.isDirectory(), () => false)
    if (!isDir) {
      // The daemon answers a command that cannot start with 200 and exit code -1.
      sendJson(ctx.res, 200, { exitCode: -1, result: `chdir ${optString(body, "cwd")}: no such file or directory` })
      return
    }
    sendJson(ctx.res, 200, await runToEnd(app, sb, command, cwd, optStringRecord(body, "envs"), timeout, ctx.res))
  }]
]

/**
 * A command run to its end as the daemon runs it: the shell reads it on stdin in a process group of its own,
 * stdout and stderr combined in arrival order; at `timeout` seconds (0: none) the group is killed and the request
 * answers 408. A client that gives up (`res` closes first) takes the command with it.
 */
export const runToEnd = async (
  app: App,
  sb: SandboxRecord,
  command: string,
  cwd: string,
  envs: Readonly<Record<string, string>> | undefined,
  timeout: number,
  res: ServerResponse
): Promise<{ readonly exitCode: number; readonly result: string }> => {
  const { child, signaled } = app.processes.spawnCommand(sb.id, command, {
    cwd,
    env: { ...sandboxEnv(sb, envs, app.processes.shell), PWD: cwd },
    paths: sb.paths
  })
  const chunks: Array<Buffer> = []
  child.stdout?.on("data", (d: Buffer) => chunks.push(d))
  child.stderr?.on("data", (d: Buffer) => chunks.push(d))
  // A client that gives up must not leave the command running.
  res.once("close", () => {
    if (!res.writableFinished) killGroup(child)
  })
  const outcome = await new Promise<{ exitCode: number } | "timeout" | { error: string }>((resolve) => {
    let done = false
    const finish = (v: { exitCode: number } | "timeout" | { error: string }): void => {
      if (done) return
      done = true
      if (timer) clearTimeout(timer)
      resolve(v)
    }
    const timer = timeout > 0
      ? setTimeout(() => {
        killGroup(child)
        finish("timeout")
      }, timeout * 1000)
      : undefined
    child.once("error", (e) => finish({ error: e.message }))
    // Go's ExitCode(): a shell killed by a signal has no exit status, which the daemon reports as -1.
    child.once("exit", (code) => {
      setTimeout(() => finish({ exitCode: signaled() ? -1 : (code ?? -1) }), DRAIN_GRACE_MS).unref()
    })
    child.once("close", (code) => finish({ exitCode: signaled() ? -1 : (code ?? -1) }))
  })
  if (outcome === "timeout") {
    throw new HttpError(
      408,
      `Command execution timed out after ${timeout} seconds. The timeout can be increased by adjusting the timeout ` +
        "parameter in the request.",
      "PROCESS_EXECUTION_TIMEOUT"
    )
  }
  if ("error" in outcome) return { exitCode: -1, result: outcome.error }
  return { exitCode: outcome.exitCode, result: Buffer.concat(chunks).toString("utf8") }
}
