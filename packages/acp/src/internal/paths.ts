/**
 * Paths as the agent sees them: POSIX, absolute inside the sandbox.
 *
 * @internal
 */

/** Normalise a POSIX path: collapse `//`, `.` and `..` (never above `/`). */
export const normalize = (p: string): string => {
  const parts: Array<string> = []
  for (const part of p.split("/")) {
    if (part === "" || part === ".") continue
    if (part === "..") parts.pop()
    else parts.push(part)
  }
  return `/${parts.join("/")}`
}

/** Resolve `p` against `base` (both POSIX); an absolute `p` stands alone. */
export const resolve = (base: string, p: string): string => normalize(p.startsWith("/") ? p : `${base}/${p}`)

/** Whether `candidate` is `root` or inside it (both normalised). */
export const within = (root: string, candidate: string): boolean =>
  candidate === root || candidate.startsWith(root === "/" ? "/" : `${root}/`)

/**
 * Confine an agent-given path to `root`: absolute, no NUL, and inside `root` once `..` is resolved. Returns
 * the normalised absolute path or a reason.
 */
export const confine = (
  root: string,
  p: string
): { readonly _tag: "Inside"; readonly path: string } | { readonly _tag: "Outside"; readonly reason: string } => {
  if (p.length === 0) return { _tag: "Outside", reason: "empty path" }
  if (p.includes("\0")) return { _tag: "Outside", reason: "path contains a NUL byte" }
  const normalRoot = normalize(root)
  const absolute = resolve(normalRoot, p)
  return within(normalRoot, absolute)
    ? { _tag: "Inside", path: absolute }
    : { _tag: "Outside", reason: `${p} is outside the sandbox's working directory ${normalRoot}` }
}
