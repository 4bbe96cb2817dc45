/**
 * A fault-injection point for end-to-end tests of whole CLI processes: with `SANDBOX_CLI_PAUSE_BEFORE_RENAME=DIR`
 * in the environment, a sync-back that is about to put a file named N in place on the host, while `DIR/N.pause`
 * exists, claims that file (removes it), writes `DIR/N.paused` (`{"pid", "target"}`) and waits until
 * `DIR/N.resume` exists. The copy is then complete and checked and the rename not yet made, so a test can edit
 * the host file in that window, or kill the process there (its temporary file still in the workspace).
 *
 * Without the variable nothing changes: the engine gets no hook.
 */
import { existsSync, renameSync, unlinkSync, writeFileSync } from "node:fs"
import { basename, join } from "node:path"

/** How long a paused sync waits for its test before it goes on by itself. */
const PATIENCE_MS = 10 * 60_000

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)

const claim = (file: string): boolean => {
  try {
    unlinkSync(file)
    return true
  } catch {
    // not armed, or another process took it
    return false
  }
}

/** The engine's `beforeRename` hook for the directory `dir`. */
export const pauseBeforeRename = (dir: string) => (target: string): void => {
  const name = basename(target)
  if (!existsSync(join(dir, `${name}.pause`)) || !claim(join(dir, `${name}.pause`))) return
  const paused = join(dir, `${name}.paused`)
  writeFileSync(`${paused}.tmp`, JSON.stringify({ pid: process.pid, target }))
  renameSync(`${paused}.tmp`, paused)
  const resume = join(dir, `${name}.resume`)
  for (const until = Date.now() + PATIENCE_MS; !existsSync(resume) && Date.now() < until;) sleep(25)
}

/** The hooks the environment asks for, if any. */
export const fromEnv = (): { readonly beforeRename: (target: string) => void } | undefined => {
  const dir = process.env["SANDBOX_CLI_PAUSE_BEFORE_RENAME"]
  return dir === undefined || dir === "" ? undefined : { beforeRename: pauseBeforeRename(dir) }
}
