/**
 * The shell scripts the provider runs in a sandbox. Daytona's blocking exec returns stdout and stderr mixed in
 * one string, so every command runs inside a small POSIX wrapper that sends them to files and prints both,
 * base64-encoded, after a marker unique to the call; stdin arrives the same way (inline, or as an uploaded file).
 *
 * Paths the scripts use are given relative to the directory the command starts in, never as absolute runtime
 * paths of our own making, so a script means the same thing whatever the runtime's root looks like.
 */
import type { ExecRequest } from "@org/sandbox-core/SandboxProvider"
import { Either, Encoding } from "effect"

/** Single-quote a word for `sh`. */
export const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`

/**
 * A script as one simple command for whatever shell the daemon runs it through (zsh when the image has it, else
 * bash, else sh): `sh -c '<script>'`. zsh would otherwise read the POSIX scripts with its own rules (a glob that
 * matches nothing is an error there), so every script the provider sends goes through this.
 */
export const viaSh = (script: string): string => `sh -c ${quote(script)}`

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** The command line of a request: argv quoted word by word, or a script run by its own `sh -c`. */
export const commandLine = (request: Pick<ExecRequest, "argv" | "shell">): string | undefined => {
  if (request.argv !== undefined && request.argv.length > 0) return request.argv.map(quote).join(" ")
  if (request.shell !== undefined && request.shell.trim() !== "") return `sh -c ${quote(request.shell)}`
  return undefined
}

/** Stdin of a request as bytes (`undefined`: none, and the command reads an empty, closed stdin). */
export const stdinBytes = (stdin: ExecRequest["stdin"]): Uint8Array | undefined =>
  stdin === undefined ? undefined : typeof stdin === "string" ? encoder.encode(stdin) : stdin

/** Stdin up to this size travels inside the command itself; bigger stdin is uploaded first. */
export const INLINE_STDIN_LIMIT = 48 * 1024

/** How a command gets its stdin. `file` is relative to the directory the script starts in. */
export type StdinPlan =
  | { readonly _tag: "None" }
  /** The session command's own stdin, which the API's session input writes to (an interactive command). */
  | { readonly _tag: "Session" }
  | { readonly _tag: "Inline"; readonly base64: string }
  | { readonly _tag: "File"; readonly path: string }

export const toBase64 = (bytes: Uint8Array): string => Encoding.encodeBase64(bytes)

const fromBase64 = (b64: string): Uint8Array | undefined =>
  Either.getOrUndefined(Encoding.decodeBase64(b64.replace(/\s+/g, "")))

const stdinSetup = (
  plan: StdinPlan
): { readonly setup: Array<string>; readonly from: string; readonly cleanup: string } => {
  switch (plan._tag) {
    case "None":
      return { setup: [], from: "/dev/null", cleanup: "" }
    case "Session":
      return { setup: [], from: "", cleanup: "" }
    case "Inline":
      return {
        setup: [`printf '%s' ${quote(plan.base64)} | base64 -d > "$t/in" || exit 125`],
        from: `"$t/in"`,
        cleanup: ""
      }
    case "File":
      return { setup: [], from: quote(plan.path), cleanup: ` ${quote(plan.path)}` }
  }
}

const tempDir =
  `t=$(mktemp -d "\${TMPDIR:-/tmp}/sandbox-cli.XXXXXX") || { echo 'sandbox-cli: mktemp failed' >&2; exit 125; }`

/**
 * The wrapper for a blocking exec: runs `command` with stdin from the plan and prints
 * `<marker> <exit>\n<base64 stdout><marker>\n<base64 stderr>`.
 */
export const blockingScript = (options: {
  readonly command: string
  readonly stdin: StdinPlan
  readonly marker: string
}): string => {
  const stdin = stdinSetup(options.stdin)
  return [
    tempDir,
    ...stdin.setup,
    `( ${options.command} ) < ${stdin.from} > "$t/out" 2> "$t/err"`,
    `c=$?`,
    `printf '\\n%s %s\\n' ${quote(options.marker)} "$c"`,
    `base64 < "$t/out"`,
    `printf '%s\\n' ${quote(options.marker)}`,
    `base64 < "$t/err"`,
    `rm -rf "$t"${stdin.cleanup}`,
    `exit 0`
  ].join("\n")
}

/**
 * The command for a streamed exec in a fresh session: moves from `$HOME` to the working directory, sets the
 * environment and runs `command`, all in a subshell, so the session's shell itself is never changed or exited.
 */
export const sessionScript = (options: {
  readonly command: string
  /** Relative to `$HOME`. */
  readonly cwdFromHome: string
  readonly env: Readonly<Record<string, string>>
  readonly stdin: StdinPlan
  /** The command's pid goes to `pidFile(token)`, for `signalScript` to stop it gracefully. */
  readonly token: string
}): string => {
  const stdin = stdinSetup(options.stdin)
  const exports = Object.entries(options.env).map(([k, v]) => `export ${k}=${quote(v)}`)
  // The command's own process records its pid, then becomes the command (`commandLine` is one simple command):
  // the wrappers around it are never signalled, so the command's exit (after its trap ran) is what the session
  // reports.
  const recorded = `sh -c 'echo $$ > "$0" && eval "exec $1"' "$pf" ${quote(options.command)}`
  const inner = [
    ...(options.stdin._tag === "Inline" ? [tempDir] : []),
    ...stdin.setup,
    `pf=${pidFile(options.token)}`,
    `cd "$HOME" && cd -- ${quote(options.cwdFromHome)} || exit 126`,
    ...exports,
    stdin.from === "" ? `( ${recorded} )` : `( ${recorded} ) < ${stdin.from}`,
    `c=$?`,
    `rm -f "$pf"`,
    ...(options.stdin._tag === "Inline" ? [`rm -rf "$t"`] : []),
    ...(stdin.cleanup !== "" ? [`rm -f${stdin.cleanup}`] : []),
    `exit $c`
  ]
  return `(\n${inner.join("\n")}\n)`
}

/** Where a streamed command's pid is kept while it runs (a shell word: the runtime's own temp directory). */
const pidFile = (token: string): string => `"\${TMPDIR:-/tmp}/sandbox-cli-${token.replace(/[^A-Za-z0-9]/g, "")}.pid"`

/**
 * Send `signal` to a streamed command (by the pid `sessionScript` recorded) and every process below it, found by
 * their parents in `/proc`: the daemon has no signal call for a session command, and the command may not lead a
 * process group of its own. Nothing to signal (the command has ended) is not an error.
 */
export const signalScript = (token: string, signal: "TERM" | "INT" | "KILL"): string =>
  [
    `root=$(cat ${pidFile(token)} 2>/dev/null) || exit 0`,
    `[ -n "$root" ] || exit 0`,
    `all=" $root "`,
    `grew=1`,
    `while [ "$grew" = 1 ]; do`,
    `  grew=0`,
    `  for f in /proc/[0-9]*/stat; do`,
    `    { read -r line < "$f"; } 2>/dev/null || continue`,
    `    rest=\${line##*\\)}`,
    `    set -- $rest`,
    `    pid=\${f#/proc/}; pid=\${pid%/stat}`,
    `    case "$all" in *" $2 "*) case "$all" in *" $pid "*) ;; *) all="$all$pid "; grew=1 ;; esac ;; esac`,
    `  done`,
    `done`,
    `kill -s ${signal} $all 2>/dev/null`,
    `exit 0`
  ].join("\n")

/** A valid environment variable name (anything else would break `export`). */
export const isEnvName = (name: string): boolean => /^[A-Za-z_][A-Za-z0-9_]*$/.test(name)

/** What a blocking wrapper printed, or `undefined` when the wrapper never reached its marker. */
export const parseBlockingOutput = (
  result: string,
  marker: string
): { readonly exit_code: number; readonly stdout: Uint8Array; readonly stderr: Uint8Array } | undefined => {
  const head = result.lastIndexOf(`\n${marker} `)
  if (head < 0) return undefined
  const lineEnd = result.indexOf("\n", head + 1)
  if (lineEnd < 0) return undefined
  const code = Number(result.slice(head + marker.length + 2, lineEnd))
  const split = result.indexOf(`\n${marker}\n`, lineEnd)
  if (!Number.isInteger(code) || split < 0) return undefined
  const out = fromBase64(result.slice(lineEnd + 1, split))
  const err = fromBase64(result.slice(split + marker.length + 2))
  if (out === undefined || err === undefined) return undefined
  return { exit_code: code, stdout: out, stderr: err }
}

/** Text of command output (invalid UTF-8 replaced, as the contract returns strings). */
export const text = (bytes: Uint8Array): string => decoder.decode(bytes)

/** `path` relative to `from`, both absolute POSIX paths, `.` when equal. */
export const relativePosix = (from: string, to: string): string => {
  const a = from.split("/").filter((s) => s !== "")
  const b = to.split("/").filter((s) => s !== "")
  let i = 0
  while (i < a.length && i < b.length && a[i] === b[i]) i++
  const rel = [...a.slice(i).map(() => ".."), ...b.slice(i)].join("/")
  return rel === "" ? "." : rel
}

/** Normalise an absolute POSIX path (`.`, `..`, repeated slashes). */
export const normalizePosix = (p: string): string => {
  const out: Array<string> = []
  for (const seg of p.split("/")) {
    if (seg === "" || seg === ".") continue
    if (seg === "..") out.pop()
    else out.push(seg)
  }
  return `/${out.join("/")}`
}

/** A path inside the runtime: absolute as given, relative ones against `base`. */
export const resolvePosix = (base: string, p: string): string => normalizePosix(p.startsWith("/") ? p : `${base}/${p}`)
