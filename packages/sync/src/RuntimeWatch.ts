/**
 * Watching a remote runtime for live sync: one watcher process inside the sandbox, started with the provider's
 * `execStream`, whose output (one changed path per line) streams back over that one long-lived connection; never
 * one request per file.
 *
 * The process is the first of these the image can run (see {@link Variant}):
 * 1. `python-inotify`: inotify through python3's `ctypes` (`internal/watchPython.ts`). Daytona's default image has
 *    python3 but not `inotify-tools`. It reports each path with its stat as read after the change;
 * 2. `inotifywait -m -r`, where `inotify-tools` is installed (paths only);
 * 3. `scan`: no inotify: GNU `find -cnewer` lists what changed since its last look (a file written, its mode
 *    changed, a directory whose entries were added, removed or renamed), with its stat. After a change it looks
 *    at everything every second; once quiet, at directories only every 2 s (cheap: no file is stat'ed) and at
 *    everything every 16 s, so that idling costs little on a large tree.
 * It stops by itself when its lease file goes (removed when the watch's scope closes), so a lost connection does
 * not leave it running. When the stream ends or fails, live sync rescans in full and the watcher is started again.
 *
 * @since 0.1.0
 */
import type { Instance, Service as ProviderService } from "@org/sandbox-core/SandboxProvider"
import { Deferred, Duration, Effect, Exit, Stream } from "effect"
import type { Filter } from "./Filter.js"
import { INTERNAL_PREFIX } from "./Filter.js"
import { parseFindStamp, pruneExpression, quote } from "./internal/shell.js"
import * as watchPython from "./internal/watchPython.js"
import type { Watch, WatchHandlers } from "./LiveSync.js"

/**
 * The watchers a runtime may run, in the order they are tried.
 *
 * @since 0.1.0
 * @category models
 */
export type Variant = "python-inotify" | "inotifywait" | "scan"

/**
 * @since 0.1.0
 * @category constants
 */
export const variants: ReadonlyArray<Variant> = ["python-inotify", "inotifywait", "scan"]

/**
 * The watcher script (`sh`): the first of `allowed` the runtime can run.
 *
 * @since 0.1.0
 * @category scripts
 */
export const script = (
  root: string,
  filter: Filter,
  lease: string,
  allowed: ReadonlyArray<Variant> = variants
): string => {
  const prune = pruneExpression(filter.pruneNames, [`${INTERNAL_PREFIX}*`])
  const names = [INTERNAL_PREFIX, ...(filter.pruneNames ?? []).map((n) => n.name)]
    .map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/\\\*/g, ".*"))
  const exclude = `(^|/)(${names.join("|")})(/|$)`
  const python = (mode: "inotify") =>
    [
      `"$P" -c ${quote(watchPython.source)} "$L" ${mode}`,
      ...(filter.pruneNames ?? []).map((n) => quote(`${n.dirOnly ? "d" : "a"}:${n.name}`))
    ].join(" ")
  const lines = [
    `cd -- ${quote(root)} 2>/dev/null || { echo '@NOROOT'; exit 3; }`,
    `L=${quote(lease)}`,
    `: > "$L" || exit 4`,
    `P=`,
    `for c in python3 python; do`,
    `  if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import sys; sys.exit(sys.version_info < (3, 6))' 2>/dev/null; then P=$c; break; fi`,
    `done`
  ]
  // python exits 5 when the runtime has no inotify, 7 when it ran out of watches: the next watcher is tried
  if (allowed.includes("python-inotify")) {
    lines.push(`R=0; if [ -n "$P" ]; then ${python("inotify")}; R=$?; [ $R -eq 5 ] || [ $R -eq 7 ] || exit 0; fi`)
  }
  if (allowed.includes("inotifywait")) {
    lines.push(
      `if [ "\${R:-0}" != 7 ] && command -v inotifywait >/dev/null 2>&1; then`,
      `  echo '@WATCH inotifywait'`,
      `  inotifywait -m -r -q -e modify,attrib,close_write,move,create,delete --format '%w%f' --exclude ${
        quote(exclude)
      } . &`,
      `  W=$!`,
      `  while [ -e "$L" ] && kill -0 $W 2>/dev/null; do sleep 2; done`,
      `  kill $W 2>/dev/null; exit 0`,
      `fi`
    )
  }
  if (allowed.includes("scan")) {
    lines.push(
      `echo '@WATCH scan'`,
      `T=$(mktemp -d "\${TMPDIR:-/tmp}/${INTERNAL_PREFIX}watch.XXXXXX") || exit 4`,
      `trap 'rm -rf -- "$T"' EXIT`,
      // stamps a second old: a change in the same clock tick as a stamp is not missed (it is seen twice, and the
      // second sighting is dropped as it equals the first). `s`: the last look at everything; `e`: at directories.
      `touch -d '1 second ago' "$T/s" "$T/e"; : > "$T/p"; ls -A | sort > "$T/r"`,
      `S=1; Q=0`,
      `while [ -e "$L" ]; do`,
      `  sleep $S; Q=$((Q + 1)); F=s`,
      // after a change every look is a whole one, every second; once quiet, directories only every 2 s (an entry
      // added, removed or renamed changes its directory; then everything is looked at), and everything every
      // 16 s (a file rewritten in place changes no directory)
      `  if [ $Q -gt 5 ] && [ $((Q % 8)) -ne 0 ]; then`,
      // two processes a quiet look: `sleep` and this `find` (its stamp moves only with a whole look)
      `    find . ${prune} -type d -cnewer "$T/e" -printf x -quit > "$T/x" 2>/dev/null; [ -s "$T/x" ] || F=`,
      `  fi`,
      `  if [ -n "$F" ]; then`,
      `    touch -d '1 second ago' "$T/n"`,
      `    find . ${prune} -cnewer "$T/s" \\( -type f -printf '%C@ =f %s %T@ %i %m\\t%P\\n' -o -type d -printf '%C@ =d\\t%P\\n' -o -type l -printf '%C@ =l\\t%P\\n' -o -printf '%C@ =o\\t%P\\n' \\) 2>/dev/null > "$T/c"`,
      `    touch -r "$T/n" "$T/e"; mv "$T/n" "$T/s"`,
      // each line starts with its change time: what the last look printed, unchanged since, is dropped
      `    if [ -s "$T/c" ] || [ -s "$T/p" ]; then`,
      `      awk 'FILENAME == ARGV[1] { seen[$0] = 1; next } !($0 in seen) { print substr($0, index($0, " ") + 1) }' "$T/p" "$T/c" > "$T/d"`,
      `      mv "$T/c" "$T/p"`,
      // a deletion shows as its directory (read again with its subtree), except at the top: named from a listing
      `      if [ -s "$T/d" ]; then cat "$T/d"; ls -A | sort > "$T/q"; comm -23 "$T/r" "$T/q" | sed 's|^|./|'; mv "$T/q" "$T/r"; S=1; Q=0; fi`,
      `    fi`,
      `  fi`,
      `  if [ $Q -gt 5 ]; then S=2; fi`,
      `done`
    )
  } else lines.push(`echo '@NOWATCHER'; exit 6`)
  return lines.join("\n")
}

// `find`'s mtime (`%T@`, seconds with a fraction) as nanoseconds, as python prints it
const normalKey = (key: string): string => {
  const f = key.split(" ")
  return f.length === 5 && f[2]!.includes(".") ? [f[0], f[1], parseFindStamp(f[2]!), f[3], f[4]].join(" ") : key
}

const RESTART_MS = [500, 1000, 2000, 5000, 10_000]

/**
 * A watch of a remote runtime through the provider's `execStream`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: {
  readonly provider: ProviderService
  readonly instance: Instance
  readonly root: string
  readonly filter: Filter
  /** The watchers it may run (default: all, in the order of {@link variants}). */
  readonly variants?: ReadonlyArray<Variant>
}): Watch => {
  const { filter, instance, provider, root } = options
  let current = "starting"
  const lease = `/tmp/${INTERNAL_PREFIX}watch-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`
  const once = (handlers: WatchHandlers, ready: () => void) =>
    Effect.gen(function*() {
      let rest = ""
      const decoder = new TextDecoder()
      yield* provider.execStream(instance, { shell: script(root, filter, lease, options.variants) }).pipe(
        Stream.runForEach((chunk) =>
          Effect.sync(() => {
            if (chunk._tag !== "Stdout") return
            const text = rest + decoder.decode(chunk.data, { stream: true })
            const lines = text.split("\n")
            rest = lines.pop() ?? ""
            const paths: Array<string> = []
            const keys: Array<string | undefined> = []
            for (const line of lines) {
              if (line.startsWith("@WATCH ")) {
                current = line.slice(7)
                ready()
              } else if (line === "@NOROOT" || line === "@NOWATCHER") current = "error"
              else if (line.startsWith("@OVERFLOW")) handlers.overflow(`the runtime watcher: ${line.slice(10)}`)
              else if (line.startsWith("=")) {
                const tab = line.indexOf("\t")
                if (tab < 0 || tab === line.length - 1) continue
                paths.push(line.slice(tab + 1))
                keys.push(normalKey(line.slice(1, tab)))
              } else if (line !== "" && line !== "./") {
                paths.push(line.replace(/^(\.\/)+/, "").replace(/\/$/, ""))
                keys.push(undefined)
              }
            }
            if (paths.length > 0) handlers.paths(paths, keys)
          })
        )
      )
    })
  return {
    get name() {
      return current
    },
    start: (handlers) =>
      Effect.gen(function*() {
        let failures = 0
        const started = yield* Deferred.make<void>()
        const ready = () => Deferred.unsafeDone(started, Exit.void)
        const loop = Effect.gen(function*() {
          for (;;) {
            const exit = yield* Effect.exit(once(handlers, ready))
            ready()
            // whatever happened while no watcher ran is caught up by a full rescan
            handlers.overflow(exit._tag === "Success" ? "the runtime watcher ended" : "the runtime watcher failed")
            yield* Effect.sleep(Duration.millis(RESTART_MS[Math.min(failures++, RESTART_MS.length - 1)]!))
          }
        })
        yield* Effect.forkScoped(loop)
        // live sync's first batch (a full rescan) starts once the watcher watches: what changes after it is seen
        yield* Deferred.await(started).pipe(Effect.timeout("20 seconds"), Effect.ignore)
        yield* Effect.addFinalizer(() =>
          provider.exec(instance, { argv: ["rm", "-f", lease] }).pipe(
            Effect.timeout("5 seconds"),
            Effect.ignore
          )
        )
      })
  }
}
