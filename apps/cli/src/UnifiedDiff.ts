/**
 * A unified diff of two texts (`diff -u` style, 3 lines of context), for `session conflicts show`.
 */

const CONTEXT = 3
/** Beyond this many lines on a side the texts are not diffed (the table would not fit in memory comfortably). */
const MAX_LINES = 4000

const linesOf = (text: string): Array<string> => {
  if (text === "") return []
  const lines = text.split("\n")
  if (lines[lines.length - 1] === "") lines.pop()
  return lines
}

type Op = { readonly tag: " " | "-" | "+"; readonly line: string; readonly a: number; readonly b: number }

/** The edit script from `a` to `b` by longest common subsequence. */
const script = (a: ReadonlyArray<string>, b: ReadonlyArray<string>): Array<Op> => {
  const n = a.length
  const m = b.length
  const width = m + 1
  const lcs = new Uint32Array((n + 1) * width)
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i * width + j] = a[i] === b[j]
        ? lcs[(i + 1) * width + j + 1]! + 1
        : Math.max(lcs[(i + 1) * width + j]!, lcs[i * width + j + 1]!)
    }
  }
  const ops: Array<Op> = []
  let i = 0
  let j = 0
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) ops.push({ tag: " ", line: a[i]!, a: i++, b: j++ })
    else if (i < n && (j === m || lcs[(i + 1) * width + j]! >= lcs[i * width + j + 1]!)) {
      ops.push({ tag: "-", line: a[i]!, a: i++, b: j })
    } else ops.push({ tag: "+", line: b[j]!, a: i, b: j++ })
  }
  return ops
}

/**
 * `--- from` / `+++ to` and the hunks, or `undefined` when the texts are too long to diff. Equal texts give the
 * two header lines only.
 */
export const unifiedDiff = (
  before: string,
  after: string,
  names: { readonly from: string; readonly to: string }
): string | undefined => {
  const a = linesOf(before)
  const b = linesOf(after)
  if (a.length > MAX_LINES || b.length > MAX_LINES) return undefined
  const ops = script(a, b)
  const out = [`--- ${names.from}`, `+++ ${names.to}`]
  let k = 0
  while (k < ops.length) {
    if (ops[k]!.tag === " ") {
      k++
      continue
    }
    // a hunk: from CONTEXT lines before this change to CONTEXT lines after the last change close enough to it
    const start = Math.max(0, k - CONTEXT)
    let end = k
    let last = k
    while (end < ops.length && end - last <= 2 * CONTEXT) {
      if (ops[end]!.tag !== " ") last = end
      end++
    }
    end = Math.min(ops.length, last + CONTEXT + 1)
    const hunk = ops.slice(start, end)
    const aCount = hunk.filter((o) => o.tag !== "+").length
    const bCount = hunk.filter((o) => o.tag !== "-").length
    const aStart = aCount === 0 ? hunk[0]!.a : hunk[0]!.a + 1
    const bStart = bCount === 0 ? hunk[0]!.b : hunk[0]!.b + 1
    out.push(`@@ -${aStart},${aCount} +${bStart},${bCount} @@`)
    for (const o of hunk) out.push(`${o.tag}${o.line}`)
    k = end
  }
  return out.join("\n")
}

/** Whether bytes are text to show: valid UTF-8 without NUL. */
export const textOf = (bytes: Uint8Array): string | undefined => {
  if (bytes.includes(0)) return undefined
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes)
  } catch {
    return undefined
  }
}
