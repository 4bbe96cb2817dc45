/**
 * Where the sync engine's progress goes (`--progress`): on a terminal, one line on stderr redrawn in place (the
 * operation, its phase, entries and bytes done, the rate, the time so far), ticking even while a phase reports
 * nothing, and cleared when the work ends; `json`: each event as one line of JSON on stderr; otherwise nothing.
 *
 * A supervisor has no terminal: it appends its events to a file ({@link toFile}), which the commands that wait on
 * its work (`session stop`, `session sync`, `session new --attach`) follow ({@link following}) and show as their
 * own.
 */
import { Progress, ProgressEvent, ProgressOperation } from "@org/sandbox-core/Progress"
import { Effect, Fiber, Layer, Option, Schedule, Schema } from "effect"
import { appendFileSync, closeSync, fstatSync, openSync, readSync, statSync, writeFileSync } from "node:fs"
import type { ProgressMode } from "./CommonOptions.js"

const REDRAW_MS = 100
const TICK_MS = 250

const OPERATION: Record<ProgressEvent["operation"], string> = {
  seed: "seed",
  sync: "sync",
  sync_back: "sync-back",
  destroy: "destroy",
  archive: "archive"
}

const mib = (bytes: number) => `${(bytes / 1048576).toFixed(bytes < 10485760 ? 1 : 0)} MiB`
const count = (n: number) => n.toLocaleString("en-US")

/** The progress line for an event, `elapsedMs` after the operation started. */
export const formatLine = (e: ProgressEvent, elapsedMs: number): string => {
  const time = `${(elapsedMs / 1000).toFixed(1)} s`
  if (e.phase === "scan") return `${OPERATION[e.operation]}: scanning… ${time}`
  if (e.phase === "failed") return `${OPERATION[e.operation]}: failed after ${time}`
  // counted in time only
  if (e.operation === "destroy") return `destroy: removing the sandbox… ${time}`
  if (e.operation === "archive") return `archive: archiving the sandbox… ${time}`
  if (e.phase === "done") {
    return `${OPERATION[e.operation]}: done, ${count(e.entries_done)} entries, ${mib(e.bytes_done)}, ${time}`
  }
  const entries = e.entries_total === null
    ? count(e.entries_done)
    : `${count(e.entries_done)}/${count(e.entries_total)}`
  const bytes = e.bytes_total === null ? mib(e.bytes_done) : `${mib(e.bytes_done)}/${mib(e.bytes_total)}`
  return `${OPERATION[e.operation]}: copying ${entries} files, ${bytes}, ${mib(e.bytes_per_second)}/s, ${time}`
}

const encode = Schema.encodeSync(ProgressEvent)

/** One updating line on a terminal. */
const terminal = (stream: NodeJS.WriteStream) => {
  let latest: { readonly event: ProgressEvent; readonly at: number } | undefined
  let drawn = false
  let lastDraw = 0
  let timer: ReturnType<typeof setInterval> | undefined
  const clear = () => {
    if (drawn) stream.write("\r\x1b[2K")
    drawn = false
  }
  const draw = () => {
    if (latest === undefined) return
    const now = Date.now()
    lastDraw = now
    const line = formatLine(latest.event, latest.event.elapsed_ms + now - latest.at)
    const width = Math.max(20, (stream.columns || 80) - 1)
    stream.write(`\r\x1b[2K${line.length > width ? line.slice(0, width) : line}`)
    drawn = true
  }
  const stop = () => {
    if (timer !== undefined) clearInterval(timer)
    timer = undefined
    latest = undefined
    clear()
  }
  process.once("exit", clear)
  return (event: ProgressEvent) => {
    // ended: the line goes, so that what the command says next starts on a clean line
    if (event.phase === "done" || event.phase === "failed") return stop()
    latest = { event, at: Date.now() }
    if (timer === undefined) {
      timer = setInterval(draw, TICK_MS)
      timer.unref()
    }
    // the first event of an operation shows at once; redraws of a shown line at most every REDRAW_MS
    if (!drawn || Date.now() - lastDraw >= REDRAW_MS) draw()
  }
}

/** The report function for a mode, or `undefined` when nothing is to be shown. */
export const reporter = (
  mode: ProgressMode,
  stream: NodeJS.WriteStream = process.stderr
): ((event: ProgressEvent) => void) | undefined => {
  if (mode === "json") return (event) => stream.write(`${JSON.stringify(encode(event))}\n`)
  if (mode === "auto" && stream.isTTY === true) return terminal(stream)
  return undefined
}

/** The `Progress` service for a mode (empty when nothing is to be shown: then the engine reports nothing). */
export const layer = (mode: ProgressMode): Layer.Layer<never> | Layer.Layer<Progress> => {
  const report = reporter(mode)
  return report === undefined ? Layer.empty : Layer.succeed(Progress, { report })
}

/** How often a command waiting on a supervisor's work looks at its progress file. */
const FOLLOW_MS = 200

/** The size past which the supervisor starts its progress file over: no reader needs more than the last events. */
const FILE_LIMIT = 1 << 20

/**
 * The supervisor's `Progress`: each event appended to `file` as one line of JSON (started over once the file
 * passes {@link FILE_LIMIT}). The file stays when the supervisor ends, beside its log: a command that waits on the
 * session's end reads the last events after it.
 */
export const toFile = (file: string): Layer.Layer<Progress> =>
  Layer.succeed(Progress, {
    report: (event: ProgressEvent) => {
      const line = `${JSON.stringify(encode(event))}\n`
      try {
        if (size(file) > FILE_LIMIT) writeFileSync(file, line)
        else appendFileSync(file, line)
      } catch {
        // progress is never worth failing the work for
      }
    }
  })

const decodeEvent = Schema.decodeUnknownOption(Schema.parseJson(ProgressEvent))

const size = (file: string): number => {
  try {
    return statSync(file).size
  } catch {
    return 0
  }
}

/** The whole lines of `file` from byte `offset` on, and the offset after them. */
const linesFrom = (file: string, offset: number): { readonly lines: Array<string>; readonly next: number } => {
  let fd: number | undefined
  try {
    fd = openSync(file, "r")
    const length = fstatSync(fd).size - offset
    if (length <= 0) return { lines: [], next: offset }
    const bytes = Buffer.alloc(length)
    const read = readSync(fd, bytes, 0, length, offset)
    const end = bytes.subarray(0, read).lastIndexOf(10)
    if (end < 0) return { lines: [], next: offset }
    return { lines: bytes.subarray(0, end).toString("utf8").split("\n"), next: offset + end + 1 }
  } catch {
    return { lines: [], next: offset }
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

/**
 * Runs `self` while showing, through this command's `Progress`, the events a supervisor writes to `file`: only
 * those written after it starts (the file holds earlier operations too), of the given operations, and a last look
 * when `self` ends, so that an operation's end is shown and its line cleared.
 */
export const following = <A, E, R>(
  file: string,
  self: Effect.Effect<A, E, R>,
  operations: ReadonlyArray<ProgressEvent["operation"]> = ProgressOperation.literals
): Effect.Effect<A, E, R> =>
  Effect.flatMap(Effect.serviceOption(Progress), (progress) => {
    if (Option.isNone(progress)) return self
    let offset = size(file)
    const look = Effect.sync(() => {
      // started over by the supervisor: read it from its start
      if (size(file) < offset) offset = 0
      const { lines, next } = linesFrom(file, offset)
      offset = next
      for (const line of lines) {
        Option.map(
          Option.filter(decodeEvent(line), (e) => operations.includes(e.operation)),
          progress.value.report
        )
      }
    })
    const watch = look.pipe(Effect.repeat(Schedule.spaced(FOLLOW_MS)), Effect.interruptible)
    return Effect.flatMap(
      Effect.fork(watch),
      (watching) => self.pipe(Effect.ensuring(Effect.zipRight(Fiber.interrupt(watching), look)))
    )
  })
