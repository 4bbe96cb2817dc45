/**
 * What `run` gives its command of our terminal: standard input passed through, and a pseudo-terminal when
 * standard input is a terminal, made in the sandbox by util-linux `script` (no native module needed here).
 */
import { Effect, Stream } from "effect"
import { fstatSync } from "node:fs"

/**
 * Whether standard input is a regular file (`< input.txt`): it ends, so a backend that cannot stream stdin may be
 * given it whole before the command starts. A pipe may never end (a parent that keeps it open), and waiting for
 * its end would hang the run.
 */
export const stdinIsFile = (): boolean => {
  try {
    return fstatSync(0).isFile()
  } catch {
    return false
  }
}

/** Our standard input as a stream of bytes, until its end. */
export const stdin: Stream.Stream<Uint8Array> = Stream.async<Uint8Array>((emit) => {
  const onData = (chunk: Buffer) => void emit.single(new Uint8Array(chunk))
  const onEnd = () => void emit.end()
  process.stdin.on("data", onData)
  process.stdin.once("end", onEnd)
  process.stdin.resume()
  return Effect.sync(() => {
    process.stdin.off("data", onData)
    process.stdin.off("end", onEnd)
    // Paused and unlistened, stdin no longer keeps the process alive.
    process.stdin.pause()
  })
})

const quote = (word: string): string => `'${word.replace(/'/g, "'\\''")}'`

/**
 * The command run under a pseudo-terminal of our terminal's size: `script -qfec` gives it a terminal, copies
 * what we send to it and returns its exit code.
 */
export const underPty = (argv: ReadonlyArray<string>): Array<string> => {
  const size = process.stdout.isTTY
    ? `stty rows ${process.stdout.rows} cols ${process.stdout.columns} 2>/dev/null; `
    : ""
  return ["script", "-qfec", `${size}exec ${argv.map(quote).join(" ")}`, "/dev/null"]
}

/**
 * Our terminal in raw mode while the command has it (keys, Ctrl-C included, go to the command), restored after.
 */
export const raw: Effect.Effect<void, never, import("effect").Scope.Scope> = Effect.acquireRelease(
  Effect.sync(() => process.stdin.setRawMode(true)),
  () => Effect.sync(() => process.stdin.setRawMode(false))
)
