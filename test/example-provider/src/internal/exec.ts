/**
 * Commands as host processes, each in its own process group so a timeout, `stop` or `destroy` kills everything a
 * command started, not just the shell.
 */
import type { PromiseExecOutput as ExecOutput } from "@org/sandbox-core/PromiseProvider"
import { type ChildProcess, spawn } from "node:child_process"
import { constants } from "node:os"
import { TextDecoder, TextEncoder } from "node:util"
import { TmpdirError } from "./errors.js"

export interface RunRequest {
  readonly argv?: ReadonlyArray<string> | undefined
  readonly shell?: string | undefined
  readonly cwd: string
  readonly env: Readonly<Record<string, string | undefined>>
  readonly stdin?: Uint8Array | string | undefined
  readonly timeoutMs?: number | undefined
  /** Aborted when the caller stops waiting or reading: the process group is killed. */
  readonly signal?: AbortSignal | undefined
}

/** After the command exits, how long to wait for its output pipes to close (a background child may hold them). */
const DRAIN_GRACE_MS = 2_000

/** The live process groups of each instance. */
export class ProcessTable {
  private readonly groups = new Map<string, Set<ChildProcess>>()

  add(instanceId: string, child: ChildProcess): void {
    let set = this.groups.get(instanceId)
    if (!set) this.groups.set(instanceId, set = new Set())
    set.add(child)
    child.once("exit", () => set.delete(child))
  }

  kill(instanceId: string): void {
    for (const child of this.groups.get(instanceId) ?? []) killGroup(child)
    this.groups.delete(instanceId)
  }

  killAll(): void {
    for (const id of [...this.groups.keys()]) this.kill(id)
  }
}

export const killGroup = (child: ChildProcess): void => {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
  try {
    process.kill(-child.pid, "SIGKILL")
  } catch {
    // Already gone.
  }
}

const exitCodeOf = (code: number | null, signal: NodeJS.Signals | null): number =>
  code ?? (signal ? 128 + (constants.signals[signal] ?? 0) : 1)

/**
 * Runs a command and yields its output as it arrives, then exactly one `Exit`. Ending the iteration early (the
 * consumer stopped or was interrupted) kills the process group.
 */
export async function* runStream(
  request: RunRequest,
  table: ProcessTable,
  instanceId: string
): AsyncGenerator<ExecOutput> {
  const [file, ...args] = request.shell !== undefined ? ["/bin/sh", "-c", request.shell] : request.argv ?? []
  if (file === undefined) throw new TmpdirError("InvalidState", "exec needs argv or shell")
  const child = spawn(file, args, {
    cwd: request.cwd,
    env: request.env,
    detached: true,
    stdio: ["pipe", "pipe", "pipe"]
  })
  table.add(instanceId, child)

  const queue: Array<ExecOutput> = []
  let failure: unknown
  let finished = false
  let wake: (() => void) | undefined
  const push = (item: ExecOutput): void => {
    queue.push(item)
    wake?.()
  }
  const finish = (item: ExecOutput | undefined, error?: unknown): void => {
    if (finished) return
    finished = true
    if (item) queue.push(item)
    failure = error
    wake?.()
  }

  let timedOut = false
  const timer = request.timeoutMs === undefined ? undefined : setTimeout(() => {
    timedOut = true
    killGroup(child)
  }, request.timeoutMs)
  let grace: NodeJS.Timeout | undefined
  // A consumer that stops reading cannot close this generator while it waits for output: the signal is how it
  // tells us, so the command dies and the wait below ends.
  const onAbort = (): void => killGroup(child)
  if (request.signal?.aborted) onAbort()
  else request.signal?.addEventListener("abort", onAbort, { once: true })

  child.stdout.on("data", (d: Buffer) => push({ _tag: "Stdout", data: new Uint8Array(d) }))
  child.stderr.on("data", (d: Buffer) => push({ _tag: "Stderr", data: new Uint8Array(d) }))
  child.stdin.on("error", () => undefined) // a command that never reads its stdin closes the pipe early
  child.once("error", (e: NodeJS.ErrnoException) => {
    // The program could not be started: report it as a shell would (127: command not found).
    const message = new TextEncoder().encode(`${file}: ${e.message}\n`)
    finish(undefined)
    queue.push({ _tag: "Stderr", data: message }, { _tag: "Exit", exit_code: e.code === "ENOENT" ? 127 : 126 })
  })
  child.once("exit", () => {
    grace = setTimeout(() => {
      child.stdout.destroy()
      child.stderr.destroy()
    }, DRAIN_GRACE_MS)
  })
  child.once("close", (code, signal) => {
    if (timer) clearTimeout(timer)
    if (grace) clearTimeout(grace)
    if (timedOut) {
      finish(undefined, new TmpdirError("Timeout", `command timed out after ${request.timeoutMs} ms`))
    } else finish({ _tag: "Exit", exit_code: exitCodeOf(code, signal) })
  })
  child.stdin.end(request.stdin === undefined ? undefined : Buffer.from(request.stdin))

  try {
    for (;;) {
      const next = queue.shift()
      if (next) {
        yield next
        if (next._tag === "Exit") return
        continue
      }
      if (finished) {
        if (failure !== undefined) throw failure
        return
      }
      await new Promise<void>((resolve) => (wake = resolve))
      wake = undefined
    }
  } finally {
    if (timer) clearTimeout(timer)
    request.signal?.removeEventListener("abort", onAbort)
    killGroup(child)
  }
}

const decoder = (): TextDecoder => new TextDecoder()

/** Runs a command to completion and collects its output as text. */
export const runCollect = async (
  request: RunRequest,
  table: ProcessTable,
  instanceId: string
): Promise<{ exit_code: number; stdout: string; stderr: string }> => {
  const out = decoder()
  const err = decoder()
  let stdout = ""
  let stderr = ""
  let exit_code = -1
  for await (const item of runStream(request, table, instanceId)) {
    if (item._tag === "Stdout") stdout += out.decode(item.data, { stream: true })
    else if (item._tag === "Stderr") stderr += err.decode(item.data, { stream: true })
    else exit_code = item.exit_code
  }
  return { exit_code, stdout: stdout + out.decode(), stderr: stderr + err.decode() }
}
