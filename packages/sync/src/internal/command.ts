/**
 * Running host commands (`tar`, `git`) through `CommandExecutor`, with stdin and both outputs collected.
 *
 * @internal
 */
import { Command, CommandExecutor } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"
import { Chunk, Effect, Stream } from "effect"

/** What a finished command produced. */
export interface CommandOutput {
  readonly exitCode: number
  readonly stdout: Uint8Array
  readonly stderr: string
}

const concat = (chunks: Chunk.Chunk<Uint8Array>): Uint8Array => {
  const parts = Chunk.toReadonlyArray(chunks)
  if (parts.length === 1) return parts[0]!
  let size = 0
  for (const p of parts) size += p.length
  const out = new Uint8Array(size)
  let offset = 0
  for (const p of parts) {
    out.set(p, offset)
    offset += p.length
  }
  return out
}

/** Runs `argv[0]` with the rest as arguments in `cwd`, feeding `stdin`. Never fails on a non-zero exit. */
export const run = (
  argv: readonly [string, ...Array<string>],
  options: { readonly cwd?: string; readonly stdin?: Uint8Array | string } = {}
): Effect.Effect<CommandOutput, PlatformError, CommandExecutor.CommandExecutor> =>
  Effect.scoped(
    Effect.gen(function*() {
      let command = Command.make(...argv)
      if (options.cwd !== undefined) command = Command.workingDirectory(command, options.cwd)
      const input = options.stdin
      if (input !== undefined) {
        const bytes = typeof input === "string" ? new TextEncoder().encode(input) : input
        command = Command.stdin(command, Stream.make(bytes))
      }
      const process = yield* Command.start(command)
      const [stdout, stderr, exitCode] = yield* Effect.all([
        Stream.runCollect(process.stdout).pipe(Effect.map(concat)),
        Stream.runCollect(process.stderr).pipe(Effect.map(concat)),
        process.exitCode
      ], { concurrency: "unbounded" })
      return { exitCode, stdout, stderr: new TextDecoder().decode(stderr) }
    })
  )

/** Splits NUL-terminated output into strings (a trailing empty field is dropped). */
export const splitNul = (bytes: Uint8Array): Array<string> => {
  const text = new TextDecoder().decode(bytes)
  if (text.length === 0) return []
  const parts = text.split("\0")
  if (parts[parts.length - 1] === "") parts.pop()
  return parts
}
