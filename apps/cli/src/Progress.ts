/**
 * Where the sync engine's progress goes (`--progress`): on a terminal, one line on stderr redrawn in place (the
 * operation, its phase, entries and bytes done, the rate, the time so far), ticking even while a phase reports
 * nothing, and cleared when the work is done; `json`: each event as one line of JSON on stderr; otherwise nothing.
 */
import { Progress, ProgressEvent } from "@org/sandbox-core/Progress"
import { Layer, Schema } from "effect"
import type { ProgressMode } from "./CommonOptions.js"

const REDRAW_MS = 100
const TICK_MS = 250

const OPERATION: Record<ProgressEvent["operation"], string> = {
  seed: "seed",
  sync: "sync",
  sync_back: "sync-back"
}

const mib = (bytes: number) => `${(bytes / 1048576).toFixed(bytes < 10485760 ? 1 : 0)} MiB`
const count = (n: number) => n.toLocaleString("en-US")

/** The progress line for an event, `elapsedMs` after the operation started. */
export const formatLine = (e: ProgressEvent, elapsedMs: number): string => {
  const time = `${(elapsedMs / 1000).toFixed(1)} s`
  if (e.phase === "scan") return `${OPERATION[e.operation]}: scanning… ${time}`
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
    if (event.phase === "done") return stop()
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
