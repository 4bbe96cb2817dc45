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

/** The shells the daemon may run commands through: zsh when the image lists it in /etc/shells, else bash, else sh. */
export type SandboxShell = "sh" | "bash" | "zsh"

/** The shell's executable on this host. */
export const shellPath = (shell: SandboxShell): string => {
  const candidates = shell === "sh" ? ["/bin/sh"] : [`/usr/bin/${shell}`, `/bin/${shell}`]
  const found = candidates.find((c) => existsSync(c))
  if (found === undefined) throw new Error(`emulator: no ${shell} on this host (looked at ${candidates.join(", ")})`)
  return found
}

/** The uid and gid commands run as inside bubblewrap, as the `daytona` user of a real image. */
export const SANDBOX_UID = 1000

const containFlags = (userNamespace: boolean): ReadonlyArray<string> => [
  "--ro-bind",
  "/",
  "/",
  "--dev",
  "/dev",
  "--proc",
  "/proc",
  "--die-with-parent",
  ...(userNamespace ? ["--unshare-user", "--uid", String(SANDBOX_UID), "--gid", String(SANDBOX_UID)] : [])
]

/**
 * How bubblewrap can contain commands here: `user` (read-only system, commands as uid 1000 in a user namespace),
 * `readonly` (read-only system, the host's uid: no user namespaces), or `none` (bubblewrap missing or refused).
 */
export type Containment = "user" | "readonly" | "none"

export const containment = (): Containment => {
  const probe = (userNamespace: boolean) =>
    spawnSync("bwrap", [...containFlags(userNamespace), "true"], { stdio: "ignore" }).status === 0
  return probe(true) ? "user" : probe(false) ? "readonly" : "none"
}

/** Whether bubblewrap runs here (it needs unprivileged user namespaces, or root). */
export const bubblewrapUsable = (): boolean => containment() !== "none"

/**
 * A command wrapped in bubblewrap so that it sees the sandbox's filesystem at the paths the API uses and can write
 * nothing else: the host's system is bound read-only, the sandbox's top-level directory holding its home (`/home`),
 * its `/tmp`, and any top-level directory the host lacks are bound writable over it. Where user namespaces work,
 * the command runs as uid 1000 (the image's `daytona` user), so root-only paths refuse it as in a real sandbox.
 */
const isolated = (
  mode: Exclude<Containment, "none">,
  paths: SandboxPaths,
  argv: ReadonlyArray<string>,
  cwd: string,
  env: Record<string, string>
): { readonly argv: ReadonlyArray<string>; readonly cwd: string; readonly env: Record<string, string> } => {
  const virtual = (p: string): string => toVirtual(paths, p) ?? p
  const top = new Set<string>([paths.homeDir.split("/").filter((s) => s !== "")[0] ?? "home", "tmp"])
  for (const name of readdirSync(paths.root)) if (!existsSync(`/${name}`)) top.add(name)
  const binds = [...top]
    .filter((name) => existsSync(nodePath.join(paths.root, name)))
    .flatMap((name) => ["--bind", nodePath.join(paths.root, name), `/${name}`])
  const rewritten = Object.fromEntries(
    Object.entries(env).map(([k, v]) => [k, k === "HOME" || k === "PWD" || k === "TMPDIR" ? virtual(v) : v])
  )
  return {
    argv: ["bwrap", ...containFlags(mode === "user"), ...binds, "--chdir", virtual(cwd), "--", ...argv],
    cwd: "/",
    env: rewritten
  }
}

/** Runs its arguments as a child and writes `signal` or `exit` to fd 3 once it has ended; exits with its status. */
const SIGNAL_REPORTER = [
  "my $pid = fork() // exit 126;",
  "if ($pid == 0) { exec { $ARGV[0] } @ARGV or exit 127 }",
  "waitpid($pid, 0); my $s = $?;",
  "if (open(my $f, '>&=', 3)) { print $f (($s & 127) ? 'signal' : 'exit'); close($f) }",
  "exit(($s & 127) ? 128 + ($s & 127) : $s >> 8);"
].join(" ")

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
  extra: Readonly<Record<string, string>> | undefined,
  shell = "/bin/sh"
): Record<string, string> => {
  const home = nodePath.join(sb.paths.root, ...sb.paths.homeDir.split("/").filter((s) => s !== ""))
  const base: Record<string, string> = {
    PATH: process.env["PATH"] ?? "/usr/local/bin:/usr/bin:/bin",
    HOME: home,
    USER: sb.user,
    LOGNAME: sb.user,
    SHELL: shell,
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

  /** `mode`: how to contain every command (see `isolated`); the caller probes it with `containment()`. */
  /** The shell's executable every command runs through. */
  readonly shell: string

  constructor(private readonly mode: Containment = "none", shell: SandboxShell = "sh") {
    this.shell = shellPath(shell)
  }

  /** A host path inside the sandbox as a command sees it. */
  visiblePath(paths: SandboxPaths, host: string): string {
    return this.mode === "none" ? host : (toVirtual(paths, host) ?? host)
  }

  /** The daemon's way to run a command: the shell reads it on stdin, in a process group of its own. */
  spawnCommand(
    sandboxId: string,
    command: string,
    options: { readonly cwd: string; readonly env: Record<string, string>; readonly paths?: SandboxPaths }
  ): { readonly child: ChildProcess; readonly signaled: () => boolean } {
    if (this.mode === "none") {
      const child = this.spawn(sandboxId, [this.shell], options)
      child.stdin?.end(command)
      return { child, signaled: () => child.signalCode !== null }
    }
    // Under bubblewrap the shell is bwrap's child, and bwrap turns a death by signal into 128+n, which a shell's own
    // `exit 137` also gives. A tiny perl parent (perl-base is always there on Debian) tells the two apart on fd 3.
    const child = this.spawn(sandboxId, ["perl", "-e", SIGNAL_REPORTER, this.shell], { ...options, statusPipe: true })
    let report = ""
    const status = child.stdio[3] as NodeJS.ReadableStream | null | undefined
    status?.on("data", (d: Buffer) => (report += d.toString("utf8")))
    child.stdin?.end(command)
    return { child, signaled: () => child.signalCode !== null || report.startsWith("signal") }
  }

  spawn(
    sandboxId: string,
    argv: ReadonlyArray<string>,
    options: {
      readonly cwd: string
      readonly env: Record<string, string>
      readonly paths?: SandboxPaths
      /** Open a fourth pipe (fd 3) to the process. */
      readonly statusPipe?: boolean
    }
  ): ChildProcess {
    const run = this.mode !== "none" && options.paths !== undefined
      ? isolated(this.mode, options.paths, argv, options.cwd, options.env)
      : { argv, cwd: options.cwd, env: options.env }
    const [file, ...args] = run.argv
    const child = spawn(file!, args, {
      cwd: run.cwd,
      env: run.env,
      detached: true,
      stdio: options.statusPipe === true ? ["pipe", "pipe", "pipe", "pipe"] : ["pipe", "pipe", "pipe"]
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

  /** The pids of the processes the emulator started for a sandbox (their descendants are found from these). */
  roots(sandboxId: string): ReadonlyArray<number> {
    return [...(this.bySandbox.get(sandboxId) ?? [])].flatMap((c) => (c.pid === undefined ? [] : [c.pid]))
  }

  killAll(): void {
    for (const id of this.bySandbox.keys()) this.killSandbox(id)
  }
}
