/**
 * Keeping recorded values small and text decoding safe.
 *
 * @internal
 */

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** Longest text kept in one history record field. */
export const MAX_TEXT = 8_000

/** A string cut to `max` characters, with a note of how much was left out. */
export const excerpt = (text: string, max = MAX_TEXT): string =>
  text.length > max ? `${text.slice(0, max)}… (${text.length - max} more characters)` : text

/** A JSON value kept as is when small, otherwise replaced by an excerpt of its JSON text. */
export const clip = (value: unknown, max = MAX_TEXT): unknown => {
  if (value === undefined) return null
  let json: string
  try {
    json = JSON.stringify(value)
  } catch {
    return String(value)
  }
  return json === undefined || json.length <= max ? value : { truncated: true, excerpt: excerpt(json, max) }
}

/**
 * Keep the last `limit` bytes of `text`, cut at a character boundary (ACP truncates terminal output from
 * the beginning).
 */
export const keepTail = (text: string, limit: number): { readonly text: string; readonly truncated: boolean } => {
  const bytes = encoder.encode(text)
  if (bytes.length <= limit) return { text, truncated: false }
  let start = bytes.length - limit
  // Skip UTF-8 continuation bytes so the cut never splits a character.
  while (start < bytes.length && (bytes[start]! & 0xc0) === 0x80) start++
  return { text: decoder.decode(bytes.subarray(start)), truncated: true }
}

/**
 * Watches a newline-delimited JSON byte stream and reports every line that is not a JSON object, so a
 * malformed message is recorded even though the SDK only answers it with a parse error.
 */
export class LineWatcher {
  private buffer = ""
  private readonly decoder = new TextDecoder()
  /** How many well-formed messages came before each line, so a report can wait for them to be handled. */
  private valid = 0
  constructor(private readonly onMalformed: (line: string, validBefore: number) => void) {}

  push(chunk: Uint8Array): void {
    this.buffer += this.decoder.decode(chunk, { stream: true })
    let newline = this.buffer.indexOf("\n")
    while (newline >= 0) {
      this.check(this.buffer.slice(0, newline))
      this.buffer = this.buffer.slice(newline + 1)
      newline = this.buffer.indexOf("\n")
    }
  }

  end(): void {
    this.buffer += this.decoder.decode()
    this.check(this.buffer)
    this.buffer = ""
  }

  private check(raw: string): void {
    const line = raw.trim()
    if (line.length === 0) return
    let parsed: unknown
    try {
      parsed = JSON.parse(line)
    } catch {
      this.onMalformed(line, this.valid)
      return
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) this.onMalformed(line, this.valid)
    else this.valid++
  }
}
