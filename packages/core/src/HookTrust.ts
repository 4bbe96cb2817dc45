/**
 * Config hooks run on the host, and the files they name usually live in the workspace, where a sandbox's work
 * comes home. So a hook is trusted as it was when the user last ran it: its command and the content of every
 * file the command runs (its first word, an executable or a script it names; not a file it only redirects to)
 * are recorded (a digest per file) the first time it runs from a workspace, and a hook
 * whose command or files changed since is refused with one line, until the user approves it again
 * (`--trust-hooks`, which runs it and records it as it is now).
 *
 * Approvals live in the state directory, one file per workspace and hook, written atomically.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { Effect, Option, Random, Schema } from "effect"
import { HookDenied, type HookName } from "./Hooks.js"
import type { Command as CommandSpec } from "./Profile.js"

/**
 * Checks a hook right before it runs.
 *
 * @since 0.1.0
 * @category models
 */
export interface HookTrust {
  /** Succeeds when the hook may run (and records it when it runs for the first time or is approved). */
  readonly check: (hook: HookName, spec: CommandSpec, cwd: string) => Effect.Effect<void, HookDenied>
}

/**
 * Every hook runs as it is: for library users that vet their hooks themselves.
 *
 * @since 0.1.0
 * @category constructors
 */
export const trustAll: HookTrust = { check: () => Effect.void }

/**
 * The flag that approves changed hooks, as the refusal names it.
 *
 * @since 0.1.0
 * @category constants
 */
export const APPROVE_FLAG = "--trust-hooks"

const Record_ = Schema.Struct({
  version: Schema.Literal(1),
  cwd: Schema.String,
  hook: Schema.String,
  command: Schema.String,
  /** sha-256 (hex) of each file the command names, by the name it uses. */
  files: Schema.Record({ key: Schema.String, value: Schema.String })
})
type TrustRecord = typeof Record_.Type
const RecordJson = Schema.parseJson(Record_, { space: 2 })

const hex = (digest: ArrayBuffer) => [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("")
const sha256 = (data: Uint8Array | string) =>
  Effect.promise(() =>
    globalThis.crypto.subtle.digest("SHA-256", typeof data === "string" ? new TextEncoder().encode(data) : data)
  ).pipe(Effect.map(hex))

/** The words of a command: the argv, or a shell string split on blanks with quotes dropped. */
const words = (spec: CommandSpec): ReadonlyArray<string> =>
  typeof spec === "string" ? spec.split(/\s+/).map((w) => w.replace(/^['"]|['"]$/g, "")) : spec

/** A shell redirection: the word after it is data the hook reads or writes, not code. */
const REDIRECT = /^(?:\d*|&)(?:>|>>|<)$/

/** Names that are code whatever their mode: what an interpreter in the command would run. */
const SCRIPT = /\.(?:sh|bash|zsh|fish|js|mjs|cjs|ts|mts|py|rb|pl|php|lua|tcl|ps1)$/

/**
 * The files a command runs: its first word when it names a file, and every other word naming an executable
 * file or a script (`node hooks/check.js`); not what it redirects to or from (`>> hooks.log`).
 */
const codeWords = (spec: CommandSpec): ReadonlyArray<{ readonly word: string; readonly first: boolean }> => {
  const all = words(spec)
  return all.flatMap((word, i) =>
    word === "" || word.startsWith("-") || word.length > 4096 || REDIRECT.test(word) ||
      (i > 0 && REDIRECT.test(all[i - 1]!))
      ? []
      : [{ word, first: i === 0 }]
  )
}

/**
 * Build the check over `<dir>` (`<stateDir>/trusted-hooks`). With `approve`, a changed hook runs and is
 * recorded as it is now.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: { readonly dir: string; readonly approve: boolean }) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path

    /** What the hook is now: its command and every existing file its words name, relative to `cwd`. */
    const current = (hook: HookName, spec: CommandSpec, cwd: string) =>
      Effect.gen(function*() {
        const files: Record<string, string> = {}
        for (const { first, word } of codeWords(spec)) {
          if (word in files) continue
          const file = path.resolve(cwd, word)
          const isCode = yield* fs.stat(file).pipe(
            Effect.map((info) => info.type === "File" && (first || (info.mode & 0o111) !== 0 || SCRIPT.test(word))),
            Effect.orElseSucceed(() => false)
          )
          if (!isCode) continue
          // Unreadable now: recorded as such, so it differs from any content it had or will have.
          files[word] = yield* fs.readFile(file).pipe(Effect.flatMap(sha256), Effect.orElseSucceed(() => "unreadable"))
        }
        const command = typeof spec === "string" ? spec : JSON.stringify(spec)
        return { version: 1, cwd, hook, command, files } satisfies TrustRecord
      })

    const fileFor = (hook: HookName, cwd: string) =>
      Effect.map(sha256(`${cwd}\0${hook}`), (key) => path.join(options.dir, `${key}.json`))

    const save = (file: string, record: TrustRecord) =>
      Effect.gen(function*() {
        yield* fs.makeDirectory(options.dir, { recursive: true })
        const tmp = `${file}.tmp-${(yield* Random.nextIntBetween(0, 2 ** 31)).toString(36)}`
        yield* fs.writeFileString(tmp, `${Schema.encodeSync(RecordJson)(record)}\n`)
        yield* Effect.onError(fs.rename(tmp, file), () => Effect.ignore(fs.remove(tmp)))
      })

    /** What changed, for the refusal: the command, or the files by the names the command uses. */
    const changes = (was: Option.Option<TrustRecord>, now: TrustRecord): ReadonlyArray<string> =>
      Option.match(was, {
        onNone: () => ["its record is unreadable"],
        onSome: (old) => {
          if (old.command !== now.command) return ["its command"]
          const names = [...new Set([...Object.keys(old.files), ...Object.keys(now.files)])].sort()
          return names.filter((name) => old.files[name] !== now.files[name])
        }
      })

    const refuse = (hook: HookName, changed: ReadonlyArray<string>) =>
      new HookDenied({
        hook,
        exit_code: 126,
        output: "",
        refused: `${changed.join(", ")} changed since you last ran it; check it, then run again with ${APPROVE_FLAG}`
      })

    const check = (hook: HookName, spec: CommandSpec, cwd: string): Effect.Effect<void, HookDenied> =>
      Effect.gen(function*() {
        const file = yield* fileFor(hook, cwd)
        const now = yield* current(hook, spec, cwd)
        const stored = yield* fs.readFileString(file).pipe(Effect.option)
        const record = Option.flatMap(stored, Schema.decodeOption(RecordJson))
        const same = Option.isSome(record) && record.value.command === now.command &&
          JSON.stringify(Object.entries(record.value.files).sort()) === JSON.stringify(Object.entries(now.files).sort())
        if (same) return
        // First run from this workspace: trusted as it is, recorded.
        if (Option.isSome(stored) && !options.approve) return yield* refuse(hook, changes(record, now))
        yield* save(file, now).pipe(
          Effect.catchAll((error) =>
            new HookDenied({
              hook,
              exit_code: 126,
              output: "",
              refused: `cannot record it as trusted: ${error.message}`
            })
          )
        )
      })

    return { check } satisfies HookTrust
  })
