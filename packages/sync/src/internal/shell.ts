/**
 * Shell text helpers for the scripts the engine runs inside a runtime.
 *
 * @internal
 */

/** Single-quotes a string for POSIX `sh` (safe for any byte but NUL). */
export const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`

/** The `find` expression that prunes simple excluded names, or `""`. */
export const pruneExpression = (
  names: ReadonlyArray<{ readonly name: string; readonly dirOnly: boolean }> | undefined,
  always: ReadonlyArray<string>
): string => {
  const dirNames = [...always, ...(names ?? []).filter((n) => n.dirOnly).map((n) => n.name)]
  const anyNames = (names ?? []).filter((n) => !n.dirOnly).map((n) => n.name)
  const parts: Array<string> = []
  if (dirNames.length > 0) parts.push(`-type d \\( ${dirNames.map((n) => `-name ${quote(n)}`).join(" -o ")} \\)`)
  if (anyNames.length > 0) parts.push(anyNames.map((n) => `-name ${quote(n)}`).join(" -o "))
  return parts.length === 0 ? "" : `\\( ${parts.join(" -o ")} \\) -prune -o`
}

/** Formats a nanosecond mtime the way GNU `find -printf %T@` prints it (seconds, 10 fraction digits). */
export const findStamp = (mtime_ns: string): string => {
  const padded = mtime_ns.padStart(10, "0")
  return `${padded.slice(0, -9)}.${padded.slice(-9)}0`
}

/** Parses `find -printf %T@` into nanoseconds as a decimal string. */
export const parseFindStamp = (stamp: string): string => {
  const dot = stamp.indexOf(".")
  const sec = dot < 0 ? stamp : stamp.slice(0, dot)
  const frac = dot < 0 ? "" : stamp.slice(dot + 1)
  const ns = `${sec}${frac.slice(0, 9).padEnd(9, "0")}`.replace(/^(-?)0+(?=\d)/, "$1")
  return ns
}
