/**
 * Real child processes for sandbox commands. Each runs in its own process group (detached), so a timeout, a
 * sandbox stop or emulator shutdown can kill the whole tree, including anything the command started.
 */
import { spawn, spawnSync } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { existsSync, readdirSync } from "node:fs"
import * as nodePath from "node:path"
import { type SandboxPaths, toVirtual } from "./sandboxFs.js"
import type { SandboxRecord } from "./state.js"

/** Whether bubblewrap runs here (it needs unprivileged user namespaces, or root). */
export const bubblewrapUsable = (): boolean =>
  spawnSync("bwrap", ["--dev-bind", "/", "/", "true"], { stdio: "ignore" }).status === 0

/**
 * A command wrapped in bubblewrap so that it sees the sandbox's filesystem at the paths the API uses: the
 * sandbox's top-level directory holding its home (`/home`), and any top-level directory the host lacks, are
 * bound over the host's; everything else is the host's own. HOME and PWD become in-sandbox paths.
 */
const isolated = (
  paths: SandboxPaths,
  argv: ReadonlyArray<string>,
  cwd: string,
  env: Record<string, string>
): { readonly argv: ReadonlyArray<string>; readonly cwd: string; readonly env: Record<string, string> } => {
  const virtual = (p: string): string => toVirtual(paths, p) ?? p
  const top = new Set<string>([paths.homeDir.split("/").filter((s) => s !== "")[0] ?? "home"])
  for (const name of readdirSync(paths.root)) if (!existsSync(`/${name}`)) top.add(name)
  const binds = [...top]
    .filter((name) => existsSync(nodePath.join(paths.root, name)))
    .flatMap((name) => ["--bind", nodePath.join(paths.root, name), `/${name}`])
  const rewritten = Object.fromEntries(
    Object.entries(env).map(([k, v]) => [k, k === "HOME" || k === "PWD" ? virtual(v) : v])
  )
  return {
    argv: ["bwrap", "--dev-bind", "/", "/", ...binds, "--chdir", virtual(cwd), "--", ...argv],
    cwd: "/",
    env: rewritten
  }
}

/** Kills a process group; ESRCH (already gone) is expected and ignored. */
export const killGroup = (child: ChildProcess, signal: NodeJS.Signals = "SIGKILL"): void => {
  if (child.pid === undefined) return
  try {
    process.kill(-child.pid, signal)
  } catch {
    try {
      child.kill(signal)
    } catch {
      // already gone
    }
  }
}

/**
 * The environment a sandbox command sees. Only PATH (and the locale) come from the host, so host secrets such as
 * DAYTONA_API_KEY do not leak in; HOME and TMPDIR point inside the sandbox directory.
 */
export const sandboxEnv = (
  sb: SandboxRecord,
  extra: Readonly<Record<string, string>> | undefined
): Record<string, string> => {
  const home = nodePath.join(sb.paths.root, ...sb.paths.homeDir.split("/").filter((s) => s !== ""))
  const base: Record<string, string> = {
    PATH: process.env["PATH"] ?? "/usr/local/bin:/usr/bin:/bin",
    HOME: home,
    USER: sb.user,
    LOGNAME: sb.user,
    SHELL: "/bin/sh",
    TMPDIR: nodePath.join(sb.paths.root, "tmp"),
    DAYTONA_SANDBOX_ID: sb.id,
    DAYTONA_SANDBOX_USER: sb.user,
    ...(sb.snapshot !== undefined ? { DAYTONA_SANDBOX_SNAPSHOT: sb.snapshot } : {})
  }
  for (const key of ["LANG", "LC_ALL", "TERM"]) {
    const v = process.env[key]
    if (v !== undefined) base[key] = v
  }
  return { ...base, ...sb.env, ...extra }
}

export class ProcessRegistry {
  private readonly bySandbox = new Map<string, Set<ChildProcess>>()

  /** `isolate`: run every command under bubblewrap (see `isolated`); the caller checks it is usable. */
  constructor(private readonly isolate = false) {}

  spawn(
    sandboxId: string,
    argv: ReadonlyArray<string>,
    options: { readonly cwd: string; readonly env: Record<string, string>; readonly paths?: SandboxPaths }
  ): ChildProcess {
    const run = this.isolate && options.paths !== undefined
      ? isolated(options.paths, argv, options.cwd, options.env)
      : { argv, cwd: options.cwd, env: options.env }
    const [file, ...args] = run.argv
    const child = spawn(file!, args, {
      cwd: run.cwd,
      env: run.env,
      detached: true,
      stdio: ["pipe", "pipe", "pipe"]
    })
    let set = this.bySandbox.get(sandboxId)
    if (!set) {
      set = new Set()
      this.bySandbox.set(sandboxId, set)
    }
    const owned = set
    owned.add(child)
    // Forget the group only when its pipes close: background children that inherited them keep the group alive
    // after the shell itself exited, and stop/close must still kill them.
    // Even then a background child (`nohup server &` with its output redirected) may still be in the group: keep
    // the group while it has members, so deleting or stopping the sandbox kills it.
    child.once("close", () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 0)
      } catch {
        owned.delete(child)
      }
    })
    child.once("error", () => owned.delete(child))
    // A command that ignores stdin must not crash the emulator with EPIPE when we write to it.
    child.stdin?.on("error", () => undefined)
    return child
  }

  killSandbox(sandboxId: string): void {
    const set = this.bySandbox.get(sandboxId)
    if (!set) return
    for (const child of set) killGroup(child)
    set.clear()
  }

  killAll(): void {
    for (const id of this.bySandbox.keys()) this.killSandbox(id)
  }
}
