/**
 * Host → runtime transfer, O(1) provider calls whatever the file count:
 * 1. the host's system `tar` packs exactly the entries to send (`--null --no-recursion -T -`) into a temp file
 *    (uncompressed for a local runtime, where compression only costs CPU; `gzip -1` otherwise);
 * 2. ONE `provider.putArchive` extracts it into a fresh staging directory inside the runtime root (same
 *    filesystem, so moving into place is a rename);
 * 3. ONE `provider.exec` runs the apply script: it checks every target still holds the state the scan saw
 *    (`find -printf` keys compared with `grep -vxFf`), refuses to go on if a parent directory was replaced,
 *    applies deletions, moves staged entries into place with `mv -t` (a new directory moves as one rename),
 *    flips exec bits, and prints the final state of every touched path so that the ancestor records what is
 *    really there.
 *
 * @since 0.1.0
 */
import { FileSystem, Path } from "@effect/platform"
import { SyncError } from "@org/sandbox-core/SandboxError"
import type { ArchiveFormat, Instance, Service as ProviderService } from "@org/sandbox-core/SandboxProvider"
import { Effect } from "effect"
import type { AncestorEntry } from "./Ancestor.js"
import { INTERNAL_PREFIX } from "./Filter.js"
import { run as runCommand } from "./internal/command.js"
import * as hostFs from "./internal/hostFs.js"
import { findStamp, parseFindStamp, quote } from "./internal/shell.js"
import { Entry, type Kind, parentOf } from "./Manifest.js"
import { sameContent, subtree } from "./SyncPlan.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Input {
  readonly roots: ReadonlyArray<string>
  readonly ancestor: ReadonlyMap<string, AncestorEntry>
  readonly host: ReadonlyMap<string, Entry>
  readonly runtime: ReadonlyMap<string, Entry>
  readonly children: ReadonlyMap<string, ReadonlyArray<string>>
  readonly hostDigest: (entry: Entry) => string | undefined
  readonly rawStamps: ReadonlyMap<string, string>
}

/**
 * The transition as steps, in the order they run: every side (the apply script, or the direct apply when the
 * runtime is a host directory) carries out the same steps with the same checks.
 *
 * @since 0.1.0
 * @category models
 */
export interface Steps {
  /** Directories above every touched path: each must still be a directory (or absent), else nothing is done. */
  readonly parents: ReadonlyArray<string>
  /** Paths that must still be in the state the scan saw (`undefined`: absent) before they are touched. */
  readonly checks: ReadonlyArray<{ readonly path: string; readonly expect: Entry | undefined }>
  readonly unlinks: ReadonlyArray<string>
  /** Children before parents. */
  readonly rmdirs: ReadonlyArray<string>
  /** Host subtrees to put in place: `create` ones must not exist, the others are replaced. Grouped by parent. */
  readonly puts: ReadonlyArray<{ readonly path: string; readonly create: boolean }>
  readonly chmods: ReadonlyArray<{ readonly path: string; readonly exec: boolean }>
  /** Paths whose final state is reported with everything below them. */
  readonly reportTree: ReadonlyArray<string>
  /** Paths whose final state is reported alone. */
  readonly reportOne: ReadonlyArray<string>
}

/**
 * The concrete work: the steps, what to pack and the apply script's plan lines.
 *
 * @since 0.1.0
 * @category models
 */
export interface Ops {
  readonly steps: Steps
  readonly pack: Array<string>
  readonly lines: Array<string>
  readonly puts: number
}

const letter: Record<Kind, string> = { file: "f", dir: "d", symlink: "l" }

/**
 * Turns transition roots into steps.
 *
 * @since 0.1.0
 * @category planning
 */
export const buildSteps = (input: Input): { readonly steps: Steps; readonly pack: Array<string> } => {
  const { children, host: H, runtime: R } = input
  const checks: Array<{ path: string; expect: Entry | undefined }> = []
  const parents = new Set<string>()
  const unlinks: Array<string> = []
  const rmdirs: Array<string> = []
  const puts: Array<{ readonly path: string; readonly create: boolean }> = []
  const chmods: Array<{ readonly path: string; readonly exec: boolean }> = []
  const reportTree: Array<string> = []
  const reportOne: Array<string> = []
  const pack: Array<string> = []
  const noteParents = (path: string) => {
    for (let p = parentOf(path); p !== "" && !parents.has(p); p = parentOf(p)) parents.add(p)
  }
  const remove = (path: string) => {
    const e = R.get(path)
    if (e === undefined) return
    if (e.kind === "dir") { for (const c of children.get(path) ?? []) remove(c) }
    checks.push({ path, expect: e })
    ;(e.kind === "dir" ? rmdirs : unlinks).push(path)
    reportOne.push(path)
    noteParents(path)
  }
  const put = (path: string, create: boolean) => {
    puts.push({ path, create })
    reportTree.push(path)
    for (const q of subtree(path, H, children)) pack.push(q)
    noteParents(path)
  }
  for (const root of input.roots) {
    const t = H.get(root)
    const f = R.get(root)
    if (t === undefined) remove(root)
    else if (f === undefined) {
      checks.push({ path: root, expect: undefined })
      put(root, true)
    } else if (f.kind !== t.kind) {
      remove(root)
      put(root, true)
    } else if (
      t.kind === "file" && t.exec !== f.exec &&
      sameContent(input.ancestor.get(root), input.hostDigest(t), f.digest)
    ) {
      checks.push({ path: root, expect: f })
      chmods.push({ path: root, exec: t.exec })
      reportOne.push(root)
      noteParents(root)
    } else {
      checks.push({ path: root, expect: f })
      put(root, false)
    }
  }
  rmdirs.sort((a, b) => (a < b ? 1 : a > b ? -1 : 0)) // children before parents
  puts.sort((a, b) => {
    const pa = parentOf(a.path)
    const pb = parentOf(b.path)
    return pa < pb ? -1 : pa > pb ? 1 : a.path < b.path ? -1 : 1
  })
  return { steps: { parents: [...parents], checks, unlinks, rmdirs, puts, chmods, reportTree, reportOne }, pack }
}

/**
 * Turns transition roots into ops (steps plus the apply script's plan lines).
 *
 * @since 0.1.0
 * @category planning
 */
export const buildOps = (input: Input): Ops => {
  const { pack, steps } = buildSteps(input)
  const key = (e: Entry) =>
    e.kind === "dir"
      ? `d ./${e.path}`
      : `${letter[e.kind]} ${e.size} ${input.rawStamps.get(e.path) ?? findStamp(e.mtime_ns)} ${e.ino} ./${e.path}`
  const dot = (p: string) => `./${p}`
  const lines = [
    ...steps.parents.map((p) => `Q ${dot(p)}`),
    ...steps.checks.map((c) => `C ${dot(c.path)}`),
    ...steps.checks.flatMap((c) => (c.expect === undefined ? [] : [`K ${key(c.expect)}`])),
    ...steps.unlinks.map((p) => `X ${dot(p)}`),
    ...steps.rmdirs.map((p) => `Y ${dot(p)}`),
    ...steps.puts.map((p) => `${p.create ? "P" : "R"} ${dot(p.path)}`),
    ...steps.chmods.map((c) => `${c.exec ? "U" : "N"} ${dot(c.path)}`),
    ...steps.reportTree.map((p) => `S ${dot(p)}`),
    ...steps.reportOne.map((p) => `T ${dot(p)}`)
  ]
  return { steps, pack, lines, puts: steps.puts.length }
}

const FINAL_FORMAT = `%y\\0%s\\0%T@\\0%i\\0%m\\0%p\\0%l\\0`

/**
 * The apply script (plan lines on stdin, newline-separated: the engine never tracks a path with a newline).
 * `present` holds the op letters the plan uses: steps for the others are left out, which saves the process
 * spawns they would cost (a small sync runs a handful of commands, not dozens).
 *
 * @since 0.1.0
 * @category scripts
 */
export const applyScript = (
  root: string,
  staging: string | undefined,
  present: ReadonlySet<string> = new Set("QCKXYPRUNST")
): string => {
  const has = (...ops: Array<string>) => ops.some((op) => present.has(op))
  const lines = [
    `S=${staging === undefined ? "''" : quote(`./${staging}`)}`,
    `mkdir -p -- ${quote(root)} && cd -- ${
      quote(root)
    } || { cat > /dev/null; printf '@FATAL\\0cannot enter the runtime root\\0'; exit 0; }`,
    `T=$(mktemp -d "\${TMPDIR:-/tmp}/${INTERNAL_PREFIX}apply.XXXXXX") || { cat > /dev/null; printf '@FATAL\\0mktemp failed\\0'; exit 0; }`,
    `trap 'rm -rf -- "$T"; [ -n "$S" ] && rm -rf -- "$S"' EXIT`,
    `cat > "$T/plan"`,
    `sel() { sed -n "s/^$1 //p" "$T/\${2:-plan}" | tr '\\n' '\\0'; }`,
    `printf '@BEGIN\\0%s\\0' "$(date +%s%N)"`
  ]
  if (has("Q")) {
    lines.push(
      `if [ -n "$(sel Q | xargs -0 -r sh -c 'exec find "$@" -maxdepth 0 ! -type d -print' sh 2>>"$T/e")" ]; then`,
      `  printf '@ABORT\\0a parent directory in the runtime was replaced during the sync\\0'; exit 0`,
      `fi`
    )
  }
  if (has("C")) {
    lines.push(
      `sel C | xargs -0 -r sh -c 'exec find "$@" -maxdepth 0 \\( -type d -printf "d %p\\n" \\) -o -printf "%y %s %T@ %i %p\\n"' sh > "$T/cur" 2>>"$T/e"`,
      `sed -n 's/^K //p' "$T/plan" > "$T/exp"`,
      `{ LC_ALL=C grep -v -x -F -f "$T/exp" "$T/cur"; LC_ALL=C grep -v -x -F -f "$T/cur" "$T/exp"; } | sed 's/^d //;t;s/^[^ ]* [^ ]* [^ ]* [^ ]* //' | LC_ALL=C sort -u > "$T/bad"`
    )
  } else {
    lines.push(`: > "$T/bad"`)
  }
  lines.push(
    `if [ -s "$T/bad" ]; then`,
    `  awk '{ print "X " $0; print "Y " $0; print "P " $0; print "R " $0; print "U " $0; print "N " $0 }' "$T/bad" > "$T/badr"`,
    `  LC_ALL=C grep -v -x -F -f "$T/badr" "$T/plan" > "$T/plan2"`,
    `else cp "$T/plan" "$T/plan2"; fi`
  )
  if (has("X")) lines.push(`sel X plan2 | xargs -0 -r rm -f -- 2>>"$T/e"`)
  if (has("Y")) lines.push(`sel Y plan2 | xargs -0 -r rmdir -- 2>>"$T/e"`)
  if (has("P", "R")) {
    lines.push(
      `grep -E '^[PR] ' "$T/plan2" > "$T/puts"`,
      `dir=; set --`,
      `while IFS= read -r line; do`,
      `  op=\${line%% *}; p=\${line#* }; d=\${p%/*}`,
      `  if [ "$d" != "$dir" ] || [ $# -ge 200 ]; then`,
      `    [ $# -gt 0 ] && mv -f -t "$dir" -- "$@" 2>>"$T/e"`,
      `    set --; dir=$d`,
      `  fi`,
      `  if [ "$op" = P ] && { [ -e "$p" ] || [ -L "$p" ]; }; then printf '%s\\n' "$p" >> "$T/busy"; continue; fi`,
      `  set -- "$@" "$S/$p"`,
      `done < "$T/puts"`,
      `[ $# -gt 0 ] && mv -f -t "$dir" -- "$@" 2>>"$T/e"`
    )
  }
  if (has("U")) lines.push(`sel U plan2 | xargs -0 -r chmod +x -- 2>>"$T/e"`)
  if (has("N")) lines.push(`sel N plan2 | xargs -0 -r chmod -x -- 2>>"$T/e"`)
  lines.push(
    `printf '@BAD\\0'; tr '\\n' '\\0' < "$T/bad"`,
    `printf '@BUSY\\0'; [ -f "$T/busy" ] && tr '\\n' '\\0' < "$T/busy"`,
    `printf '@FINAL\\0'`
  )
  if (has("S")) lines.push(`sel S | xargs -0 -r sh -c 'exec find "$@" -printf "${FINAL_FORMAT}"' sh 2>>"$T/e"`)
  if (has("T")) {
    lines.push(`sel T | xargs -0 -r sh -c 'exec find "$@" -maxdepth 0 -printf "${FINAL_FORMAT}"' sh 2>>"$T/e"`)
  }
  lines.push(`printf '@ERR\\0'; head -c 4096 "$T/e"; printf '\\0@END\\0'`)
  return lines.join("\n")
}

/**
 * What the apply script reported.
 *
 * @since 0.1.0
 * @category models
 */
export interface Applied {
  /** The runtime clock when the apply began: the racy reference for the new runtime cache records. */
  readonly begin_ns: bigint
  /** Touched paths whose old state no longer matched, or whose create target was taken. */
  readonly failed: Set<string>
  /** The state of every reported path after the apply. */
  readonly final: Map<string, Entry>
  readonly errors: string
}

const kinds: Record<string, Kind> = { f: "file", d: "dir", l: "symlink" }
const stripDot = (p: string) => (p.startsWith("./") ? p.slice(2) : p)

/**
 * Parses the apply script's output; a string when the apply did not complete.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseApplied = (stdout: string): Applied | string => {
  const f = stdout.split("\0")
  if (f[0] === "@FATAL" || f[2] === "@ABORT") return f[0] === "@FATAL" ? f[1]! : f[3]!
  if (f[0] !== "@BEGIN") return `unexpected apply output: ${JSON.stringify(stdout.slice(0, 200))}`
  const begin_ns = /^\d+$/.test(f[1] ?? "") ? BigInt(f[1]!) : 0n
  let i = 2
  if (f[i] !== "@BAD") return "truncated apply output"
  const failed = new Set<string>()
  for (i++; i < f.length && f[i] !== "@BUSY"; i++) failed.add(stripDot(f[i]!))
  for (i++; i < f.length && f[i] !== "@FINAL"; i++) failed.add(stripDot(f[i]!))
  if (f[i] !== "@FINAL") return "truncated apply output"
  const final = new Map<string, Entry>()
  for (i++; i + 6 < f.length && f[i] !== "@ERR"; i += 7) {
    const kind = kinds[f[i]!]
    if (kind === undefined) continue
    const path = stripDot(f[i + 5]!)
    final.set(
      path,
      new Entry(
        path,
        kind,
        kind === "dir" ? 0 : Number(f[i + 1]),
        parseFindStamp(f[i + 2]!),
        parseInt(f[i + 4]!, 8) & 0o7777,
        Number(f[i + 3]),
        undefined,
        kind === "symlink" ? f[i + 6] : undefined
      )
    )
  }
  if (f[i] !== "@ERR" || f[i + 2] !== "@END") return "truncated apply output (no @END marker)"
  return { begin_ns, failed, final, errors: f[i + 1] ?? "" }
}

const ioError = (detail: string, path?: string) =>
  new SyncError({ direction: "to_runtime", reason: "Io", detail, ...(path !== undefined ? { path } : {}) })

/**
 * Packs, uploads and applies. Returns what the runtime reported plus the host files that changed while they
 * were being packed (their content in the runtime may not be what the scan saw).
 *
 * @since 0.1.0
 * @category transfer
 */
export const run = Effect.fn("TransferToRuntime.run")(function*(options: {
  readonly ops: Ops
  readonly hostRoot: string
  readonly stateDir: string
  readonly runtimeRoot: string
  readonly provider: ProviderService
  readonly instance: Instance
  readonly format: ArchiveFormat
  readonly host: ReadonlyMap<string, Entry>
}) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const { ops } = options
  const nonce = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`
  const staging = ops.pack.length > 0 ? `${INTERNAL_PREFIX}stage-${nonce}` : undefined
  const raced = new Set<string>()
  // what the packed copy does not keep (a sparse file written out in full, a hard link split)
  const notices: Array<{ path: string; reason: string }> = []
  let bytes = 0
  if (staging !== undefined) {
    yield* fs.makeDirectory(options.stateDir, { recursive: true }).pipe(Effect.mapError((e) => ioError(e.message)))
    const archive = path.join(options.stateDir, `${INTERNAL_PREFIX}out-${nonce}.${options.format}`)
    yield* Effect.gen(function*() {
      const list = ops.pack.join("\0") + "\0"
      // hard links arrive as files of their own, as a direct copy makes them (and as the notices say)
      const argv: [string, ...Array<string>] = [
        "tar",
        "-C",
        options.hostRoot,
        "--null",
        "--no-recursion",
        "--hard-dereference"
      ]
      if (options.format === "tar.gz") argv.push("-I", "gzip -1")
      argv.push("--verbatim-files-from", "-T", "-", "-cf", archive)
      const packed = yield* runCommand(argv, { stdin: list }).pipe(Effect.mapError((e) => ioError(`tar: ${e.message}`)))
      // exit 1 = "file changed as we read it": the re-check below catches those files
      if (packed.exitCode > 1) return yield* ioError(`tar exited ${packed.exitCode}: ${packed.stderr.trim()}`)
      yield* Effect.sync(() => {
        for (const p of ops.pack) {
          const e = options.host.get(p)
          if (e === undefined || e.kind === "dir") continue
          bytes += e.size
          const st = hostFs.lstat(`${options.hostRoot}/${p}`)
          if (
            st === undefined || st.kind !== e.kind || st.size !== e.size || st.mtime_ns !== e.mtime_ns ||
            st.ino !== e.ino
          ) {
            raced.add(p)
          }
          const loss = st !== undefined && e.kind === "file" ? hostFs.lossOf(st) : undefined
          if (loss !== undefined) notices.push({ path: p, reason: loss })
        }
      })
      yield* options.provider.putArchive(options.instance, {
        archive_path: archive,
        format: options.format,
        dest: `${options.runtimeRoot.replace(/\/+$/, "")}/${staging}`
      })
    }).pipe(Effect.ensuring(fs.remove(archive, { force: true }).pipe(Effect.ignore)))
  }
  const result = yield* options.provider.exec(options.instance, {
    shell: applyScript(options.runtimeRoot, staging, new Set(ops.lines.map((l) => l.charAt(0)))),
    stdin: ops.lines.join("\n") + "\n"
  })
  const applied = parseApplied(result.stdout)
  if (typeof applied === "string") {
    return yield* new SyncError({
      direction: "to_runtime",
      reason: applied.includes("replaced") ? "Changed" : "Io",
      detail: `${applied} (exit ${result.exit_code}${result.stderr ? `: ${result.stderr.slice(0, 300)}` : ""})`
    })
  }
  return { applied, raced, bytes, notices }
})
