/**
 * Watching a remote runtime for live sync: one watcher process inside the sandbox, started with the provider's
 * `execStream`, whose output (one changed path per line) streams back over that one long-lived connection; never
 * one request per file.
 *
 * The process uses `inotifywait -m -r` where the image has it; otherwise a stat-based scan loop (GNU `find`
 * every second, excluded directories pruned, compared with the previous listing with `comm`; directories are
 * listed without their mtime, so a file added reports the file, not its whole directory). It stops by itself
 * when its lease file goes (removed when the watch's scope closes), so a lost connection does not leave it
 * running. When the stream ends or fails, live sync rescans in full and the watcher is started again.
 *
 * @since 0.1.0
 */
import type { Instance, Service as ProviderService } from "@org/sandbox-core/SandboxProvider"
import { Duration, Effect, Stream } from "effect"
import type { Filter } from "./Filter.js"
import { INTERNAL_PREFIX } from "./Filter.js"
import { pruneExpression, quote } from "./internal/shell.js"
import type { Watch, WatchHandlers } from "./LiveSync.js"

/**
 * The watcher script (`sh`).
 *
 * @since 0.1.0
 * @category scripts
 */
export const script = (root: string, filter: Filter, lease: string, intervalS = 1): string => {
  const prune = pruneExpression(filter.pruneNames, [`${INTERNAL_PREFIX}*`])
  const names = [INTERNAL_PREFIX, ...(filter.pruneNames ?? []).map((n) => n.name)]
    .map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/\\\*/g, ".*"))
  const exclude = `(^|/)(${names.join("|")})(/|$)`
  const list = `find . -mindepth 1 ${prune} -type d -printf 'd 0 0 %m %P\\n' -o -printf '%y %s %T@ %m %P\\n'`
  return [
    `cd -- ${quote(root)} 2>/dev/null || { echo '@NOROOT'; exit 3; }`,
    `L=${quote(lease)}`,
    `: > "$L" || exit 4`,
    `if command -v inotifywait >/dev/null 2>&1; then`,
    `  echo '@WATCH inotifywait'`,
    `  inotifywait -m -r -q -e modify,attrib,close_write,move,create,delete --format '%w%f' --exclude ${
      quote(exclude)
    } . &`,
    `  W=$!`,
    `  while [ -e "$L" ] && kill -0 $W 2>/dev/null; do sleep 1; done`,
    `  kill $W 2>/dev/null; exit 0`,
    `fi`,
    `echo '@WATCH scan'`,
    `T=$(mktemp -d "\${TMPDIR:-/tmp}/${INTERNAL_PREFIX}watch.XXXXXX") || exit 4`,
    `trap 'rm -rf -- "$T"' EXIT`,
    `${list} 2>/dev/null | sort > "$T/a"`,
    `while [ -e "$L" ]; do`,
    `  sleep ${intervalS}`,
    `  ${list} 2>/dev/null | sort > "$T/b"`,
    `  if ! cmp -s "$T/a" "$T/b"; then comm -3 "$T/a" "$T/b" | sed 's/^\\t//' | cut -d' ' -f5-; mv "$T/b" "$T/a"; fi`,
    `done`
  ].join("\n")
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
}): Watch => {
  const { filter, instance, provider, root } = options
  let current = "starting"
  const lease = `/tmp/${INTERNAL_PREFIX}watch-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`
  const once = (handlers: WatchHandlers) =>
    Effect.gen(function*() {
      let rest = ""
      const decoder = new TextDecoder()
      yield* provider.execStream(instance, { shell: script(root, filter, lease) }).pipe(
        Stream.runForEach((chunk) =>
          Effect.sync(() => {
            if (chunk._tag !== "Stdout") return
            const text = rest + decoder.decode(chunk.data, { stream: true })
            const lines = text.split("\n")
            rest = lines.pop() ?? ""
            const paths: Array<string> = []
            for (const line of lines) {
              if (line.startsWith("@WATCH ")) current = line.slice(7)
              else if (line === "@NOROOT") current = "error"
              else if (line !== "") paths.push(line.replace(/^(\.\/)+/, "").replace(/\/$/, ""))
            }
            if (paths.length > 0) handlers.paths(paths)
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
        const loop = Effect.gen(function*() {
          for (;;) {
            const exit = yield* Effect.exit(once(handlers))
            // whatever happened while no watcher ran is caught up by a full rescan
            handlers.overflow(exit._tag === "Success" ? "the runtime watcher ended" : "the runtime watcher failed")
            yield* Effect.sleep(Duration.millis(RESTART_MS[Math.min(failures++, RESTART_MS.length - 1)]!))
          }
        })
        yield* Effect.forkScoped(loop)
        yield* Effect.addFinalizer(() =>
          provider.exec(instance, { argv: ["rm", "-f", lease] }).pipe(
            Effect.timeout("5 seconds"),
            Effect.ignore
          )
        )
      })
  }
}
