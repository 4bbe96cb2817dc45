/**
 * Session commands. The daemon keeps one shell per session, so `cd` and `export` persist and commands run one
 * after another. Here every command is its own `sh` process (its own process group, clean stdout/stderr pipes and
 * exit code); a small wrapper records the final working directory and environment, and the next command of the
 * session starts from them. Commands of a session are queued, as they would be in one shell.
 *
 * Each command keeps a log of `{stream, bytes}` chunks. That one log serves the JSON logs endpoint, the sync exec
 * reply and the followed WebSocket (daytona-api.md §10).
 */
import type { ChildProcess } from "node:child_process"
import { randomBytes, randomUUID } from "node:crypto"
import { promises as fsp } from "node:fs"
import { constants as osConstants } from "node:os"
import * as nodePath from "node:path"
import { HttpError } from "./http.js"
import type { ProcessRegistry } from "./processes.js"
import { killGroup, sandboxEnv } from "./processes.js"
import { hostPath } from "./sandboxFs.js"
import type { SandboxRecord } from "./state.js"

export const STDOUT_MARKER = Buffer.from([1, 1, 1])
export const STDERR_MARKER = Buffer.from([2, 2, 2])

export type LogEvent = { readonly stream: 1 | 2; readonly data: Buffer } | "end"

export interface CommandRecord {
  readonly id: string
  readonly command: string
  exitCode: number | undefined
  readonly chunks: Array<{ readonly stream: 1 | 2; readonly data: Buffer }>
  child: ChildProcess | undefined
  /** Input sent before the command's process exists (it may still be queued behind another command). */
  readonly pendingInput: Array<string>
  /** `suppressInputEcho`: without it the daemon copies each input into the command's stdout log. */
  readonly suppressInputEcho: boolean
  done: boolean
  readonly listeners: Set<(event: LogEvent) => void>
  readonly finished: Promise<void>
}

interface SessionRecord {
  readonly id: string
  cwd: string
  env: Record<string, string>
  readonly commands: Map<string, CommandRecord>
  queue: Promise<void>
  deleted: boolean
}

/**
 * Runs `$2` with `eval` (so shell syntax, `cd` and `export` work), then writes `pwd` and `env -0` to `$1` for the
 * next command of the session. Paths inside the command text are not rewritten: use relative paths or $HOME.
 */
const WRAPPER = [
  "__daytona_state=$1",
  "__daytona_cmd=$2",
  "shift 2",
  "eval \"$__daytona_cmd\"",
  "__daytona_ec=$?",
  "{ pwd; env -0; } > \"$__daytona_state\" 2>/dev/null",
  "exit $__daytona_ec"
].join("\n")

/** How long to wait for pipes to close after the shell exited (a background child may hold them forever). */
const DRAIN_GRACE_MS = 150

export const exitCodeOf = (code: number | null, signal: NodeJS.Signals | null): number =>
  code ?? (signal ? 128 + (osConstants.signals[signal] ?? 9) : -1)

const parseState = (raw: Buffer): { cwd: string; env: Record<string, string> } | undefined => {
  const nl = raw.indexOf(0x0a)
  if (nl < 0) return undefined
  const cwd = raw.subarray(0, nl).toString("utf8")
  const env: Record<string, string> = {}
  for (const entry of raw.subarray(nl + 1).toString("utf8").split("\0")) {
    const eq = entry.indexOf("=")
    if (eq <= 0) continue
    const key = entry.slice(0, eq)
    if (key === "_" || key === "SHLVL" || key === "OLDPWD") continue
    env[key] = entry.slice(eq + 1)
  }
  return { cwd, env }
}

/** The raw log with stream markers, as the daemon's `output` field carries it for SDKs ≥ 0.167. */
export const rawLog = (cmd: CommandRecord): Buffer =>
  Buffer.concat(cmd.chunks.flatMap((c) => [c.stream === 1 ? STDOUT_MARKER : STDERR_MARKER, c.data]))

export const streamText = (cmd: CommandRecord, stream: 1 | 2): string =>
  Buffer.concat(cmd.chunks.filter((c) => c.stream === stream).map((c) => c.data)).toString("utf8")

export class SessionManager {
  private readonly bySandbox = new Map<string, Map<string, SessionRecord>>()

  constructor(private readonly processes: ProcessRegistry) {}

  private sessions(sb: SandboxRecord): Map<string, SessionRecord> {
    let m = this.bySandbox.get(sb.id)
    if (!m) {
      m = new Map()
      this.bySandbox.set(sb.id, m)
    }
    return m
  }

  create(sb: SandboxRecord, sessionId: string): void {
    if (sessionId === "") throw new HttpError(400, "sessionId is required")
    const sessions = this.sessions(sb)
    if (sessions.has(sessionId)) throw new HttpError(409, `session ${sessionId} already exists`)
    sessions.set(sessionId, {
      id: sessionId,
      cwd: hostPath(sb.paths, sb.paths.workDir),
      env: sandboxEnv(sb, undefined, this.processes.shell),
      commands: new Map(),
      queue: Promise.resolve(),
      deleted: false
    })
  }

  get(sb: SandboxRecord, sessionId: string): SessionRecord {
    const s = this.bySandbox.get(sb.id)?.get(sessionId)
    if (!s) throw new HttpError(404, `session ${sessionId} not found`, "NOT_FOUND")
    return s
  }

  list(sb: SandboxRecord): ReadonlyArray<SessionRecord> {
    return [...(this.bySandbox.get(sb.id)?.values() ?? [])]
  }

  command(sb: SandboxRecord, sessionId: string, commandId: string): CommandRecord {
    const cmd = this.get(sb, sessionId).commands.get(commandId)
    if (!cmd) throw new HttpError(404, `command ${commandId} not found`, "NOT_FOUND")
    return cmd
  }

  delete(sb: SandboxRecord, sessionId: string): void {
    const s = this.get(sb, sessionId)
    this.dispose(s)
    this.bySandbox.get(sb.id)?.delete(sessionId)
  }

  /** Called when a sandbox stops or is destroyed: its processes and sessions are gone, as in the cloud. */
  clearSandbox(sandboxId: string): void {
    for (const s of this.bySandbox.get(sandboxId)?.values() ?? []) this.dispose(s)
    this.bySandbox.delete(sandboxId)
  }

  private dispose(s: SessionRecord): void {
    s.deleted = true
    for (const cmd of s.commands.values()) if (cmd.child) killGroup(cmd.child)
  }

  /** Writes to a command's stdin; 410 once it has completed, as the daemon answers. */
  input(cmd: CommandRecord, input: string): void {
    if (cmd.done) throw new HttpError(410, `command ${cmd.id} has already completed`, "COMMAND_ALREADY_COMPLETED")
    // As the daemon does (apps/daemon/pkg/session/input.go): a newline is added when missing, and the input is
    // echoed into the stdout log unless the command was started with suppressInputEcho.
    const data = input.endsWith("\n") ? input : `${input}\n`
    if (!cmd.suppressInputEcho) {
      const chunk = { stream: 1 as const, data: Buffer.from(data) }
      cmd.chunks.push(chunk)
      for (const l of cmd.listeners) l(chunk)
    }
    if (cmd.child) cmd.child.stdin?.write(data)
    else cmd.pendingInput.push(data)
  }

  /** Queues a command; the record is returned at once, `finished` settles when it has exited and drained. */
  exec(sb: SandboxRecord, sessionId: string, command: string, suppressInputEcho = false): CommandRecord {
    const session = this.get(sb, sessionId)
    if (command.trim() === "") throw new HttpError(400, "command is required")
    let finish!: () => void
    const finished = new Promise<void>((resolve) => {
      finish = resolve
    })
    const cmd: CommandRecord = {
      id: randomUUID(),
      command,
      exitCode: undefined,
      chunks: [],
      child: undefined,
      pendingInput: [],
      suppressInputEcho,
      done: false,
      listeners: new Set(),
      finished
    }
    session.commands.set(cmd.id, cmd)
    const complete = (exitCode: number): void => {
      if (cmd.done) return
      cmd.exitCode = exitCode
      cmd.done = true
      for (const l of cmd.listeners) l("end")
      cmd.listeners.clear()
      finish()
    }
    session.queue = session.queue.then(() =>
      session.deleted ? complete(-1) : this.run(sb, session, cmd, complete).catch(() => complete(-1))
    )
    return cmd
  }

  private async run(
    sb: SandboxRecord,
    session: SessionRecord,
    cmd: CommandRecord,
    complete: (exitCode: number) => void
  ): Promise<void> {
    // The state file lives in the sandbox's own /tmp: a contained command can write nowhere else.
    const runDir = nodePath.join(sb.paths.root, "tmp")
    await fsp.mkdir(runDir, { recursive: true })
    const stateFile = nodePath.join(runDir, `.daytona-session-${randomBytes(8).toString("hex")}.state`)
    const shell = this.processes.shell
    const seen = this.processes.visiblePath(sb.paths, stateFile)
    const child = this.processes.spawn(sb.id, [shell, "-c", WRAPPER, shell, seen, cmd.command], {
      cwd: session.cwd,
      env: { ...session.env, PWD: session.cwd },
      paths: sb.paths
    })
    cmd.child = child
    for (const data of cmd.pendingInput.splice(0)) child.stdin?.write(data)
    const push = (stream: 1 | 2) => (data: Buffer): void => {
      cmd.chunks.push({ stream, data })
      for (const l of cmd.listeners) l({ stream, data })
    }
    child.stdout?.on("data", push(1))
    child.stderr?.on("data", push(2))
    await new Promise<void>((resolve) => {
      let exitCode = -1
      let settled = false
      const settle = async (): Promise<void> => {
        if (settled) return
        settled = true
        try {
          const state = parseState(await fsp.readFile(stateFile))
          if (state) {
            session.cwd = state.cwd
            session.env = state.env
          }
        } catch {
          // The command exited the shell itself (`exit 3`), so there is no state to carry over.
        }
        await fsp.rm(stateFile, { force: true })
        complete(exitCode)
        resolve()
      }
      child.once("error", (e) => {
        push(2)(Buffer.from(`${e.message}\n`))
        void settle()
      })
      child.once("exit", (code, signal) => {
        exitCode = exitCodeOf(code, signal)
        setTimeout(() => void settle(), DRAIN_GRACE_MS).unref()
      })
      child.once("close", (code, signal) => {
        exitCode = exitCodeOf(code, signal)
        void settle()
      })
    })
  }
}
