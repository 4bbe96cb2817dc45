/**
 * All human text and JSON output goes through here.
 */
import { Console, Effect, Schema } from "effect"
import type { Output } from "./CommonOptions.js"
import { ExitWith } from "./Failure.js"

/** Print a value as JSON through the Schema that defines it. */
export const json = <A, I>(schema: Schema.Schema<A, I>, value: A): Effect.Effect<void> =>
  Console.log(JSON.stringify(Schema.encodeSync(schema)(value), null, 2))

/** Print plain JSON data that was produced from schemas already. */
export const jsonData = (value: unknown): Effect.Effect<void> => Console.log(JSON.stringify(value, null, 2))

export const line = (text: string): Effect.Effect<void> => Console.log(text)

export const warn = (text: string): Effect.Effect<void> => Console.error(`warning: ${text}`)

/** What a sync transferred with a loss of form (a sparse file written in full, a hard link split): a line each. */
export const notices = (
  items: ReadonlyArray<{ readonly path: string; readonly reason: string }>
): Effect.Effect<void> =>
  Effect.forEach(items, (n) => Console.error(`notice: ${n.path}: ${n.reason}`), { discard: true })

/** A plain aligned table; empty cells show as `-`. */
export const table = (
  headers: ReadonlyArray<string>,
  rows: ReadonlyArray<ReadonlyArray<string | undefined>>
): Effect.Effect<void> => {
  const cells = rows.map((row) => row.map((c) => (c === undefined || c === "" ? "-" : c)))
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]?.length ?? 0)))
  const fmt = (row: ReadonlyArray<string>) =>
    row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!))).join("  ")
  return Console.log([fmt(headers.map((h) => h.toUpperCase())), ...cells.map(fmt)].join("\n"))
}

/** Key/value lines for one record. */
export const fields = (pairs: ReadonlyArray<readonly [string, string | undefined]>): Effect.Effect<void> => {
  const width = Math.max(...pairs.map(([k]) => k.length))
  return Console.log(
    pairs.map(([k, v]) => `${`${k}:`.padEnd(width + 1)} ${v === undefined || v === "" ? "-" : v}`).join("\n")
  )
}

/** Either JSON through a schema or the text rendering. */
export const by = <A, I>(
  output: Output,
  schema: Schema.Schema<A, I>,
  value: A,
  text: (value: A) => Effect.Effect<void>
) => output === "json" ? json(schema, value) : text(value)

/** `session exec`/`sandbox exec -o json`: the command's exit code and its whole output. */
export const ExecResult = Schema.Struct({ exit_code: Schema.Number, stdout: Schema.String, stderr: Schema.String })

/**
 * Where a command's output goes: streamed to ours as it comes (text), or gathered into one `ExecResult` (json).
 * `finish` ends with the command's exit code either way.
 */
export const execOutput = (output: Output) => {
  const gathered = { stdout: [] as Array<Uint8Array>, stderr: [] as Array<Uint8Array> }
  const encoder = new TextEncoder()
  const sink = (stream: "stdout" | "stderr", data: Uint8Array | string): void => {
    if (output === "json") gathered[stream].push(typeof data === "string" ? encoder.encode(data) : data)
    else (stream === "stdout" ? process.stdout : process.stderr).write(data)
  }
  const finish = (code: number): Effect.Effect<void, ExitWith> =>
    Effect.gen(function*() {
      if (output === "json") {
        const text = (parts: Array<Uint8Array>) => Buffer.concat(parts).toString("utf8")
        yield* json(ExecResult, { exit_code: code, stdout: text(gathered.stdout), stderr: text(gathered.stderr) })
      }
      if (code !== 0) return yield* new ExitWith({ code })
    })
  return { sink, finish }
}
