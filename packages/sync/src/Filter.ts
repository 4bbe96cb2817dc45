/**
 * Which paths a sync tracks. Excluded paths are untracked on BOTH sides: never copied, never deleted.
 *
 * Order of evaluation (gitignore semantics through the `ignore` package, `ignorecase: false`, last match wins):
 * the default excludes (`.git/ node_modules/ __pycache__/ .venv/ venv/ .tox/`), then the profile's `exclude`,
 * then `extra_excludes` from hooks. A profile's `include` patterns then re-include what they match, even inside
 * an excluded directory (the directory itself is kept as a "phantom" when something below it is included).
 * The engine's own files (`.sandbox-sync-*` staging and temp names, `*.sandbox-conflict-*` and `*.sandbox-held-*`
 * copies) are always
 * excluded and cannot be re-included. `.gitignore` files are not read here (see `GitSeed` for `seed = "git"`).
 *
 * @since 0.1.0
 */
import { defaultExcludes } from "@org/sandbox-core/Profile"
import ignore from "ignore"
import { baseName, parentOf } from "./Manifest.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Filter {
  /** Whether an entry is excluded, given that its parent directory is not. */
  readonly excluded: (path: string, isDir: boolean) => boolean
  /** For an excluded directory: whether an `include` pattern may still match something below it. */
  readonly mayIncludeBelow: (dir: string) => boolean
  /**
   * Directory names any scanner may prune without reading them (simple name patterns), or `undefined` when the
   * rules are too rich to translate (negations, includes).
   */
  readonly pruneNames: ReadonlyArray<{ readonly name: string; readonly dirOnly: boolean }> | undefined
  /** Whether some `include` pattern exists (phantom directories possible). */
  readonly hasIncludes: boolean
  /** A canonical signature of the rules: two filters with the same key decide alike. */
  readonly key: string
  /** The options the filter was made from: `make(filter.spec)` decides alike (plain data, for a worker thread). */
  readonly spec: Spec
}

/**
 * What a filter is made from.
 *
 * @since 0.1.0
 * @category models
 */
export interface Spec {
  readonly exclude?: ReadonlyArray<string>
  readonly include?: ReadonlyArray<string>
  readonly extra?: ReadonlyArray<string>
  /** Exact relative paths excluded with everything below them (state dir inside the root, git-ignored paths). */
  readonly anchored?: ReadonlyArray<string>
  /** Leave out the default excludes (tests and benchmarks only). */
  readonly noDefaults?: boolean
  /**
   * `"report"`: a name reserved for the engine's copies ({@link isReservedName}) is a problem, not silently
   * excluded (the runtime side: such a file there would never come home). Not part of `key`.
   */
  readonly reserved?: "report"
}

/**
 * Whether a name is one of the engine's own (staging, temp, conflict copy).
 *
 * @since 0.1.0
 * @category predicates
 */
export const isInternalName = (name: string): boolean =>
  name.startsWith(".sandbox-sync-") || name.includes(".sandbox-conflict-") || name.includes(".sandbox-held-")

/**
 * Whether a name is one the engine gives its conflict and held copies on the host (`*.sandbox-conflict-*`,
 * `*.sandbox-held-*`).
 *
 * @since 0.1.0
 * @category predicates
 */
export const isReservedName = (name: string): boolean =>
  name.includes(".sandbox-conflict-") || name.includes(".sandbox-held-")

/**
 * Why a reserved name in the runtime is left there.
 *
 * @since 0.1.0
 * @category constants
 */
export const RESERVED_REASON = "name reserved for the sync's conflict and held copies"

/**
 * The prefix of the engine's staging and temporary names.
 *
 * @since 0.1.0
 * @category constants
 */
export const INTERNAL_PREFIX = ".sandbox-sync-"

const cleanPatterns = (patterns: ReadonlyArray<string>): Array<string> =>
  patterns.map((p) => p.replace(/(?<!\\)\s+$/, "")).filter((p) => p.length > 0 && !p.startsWith("#"))

const simpleName = /^[A-Za-z0-9._*?+@=,%~-]+\/?$/

const globToRegExp = (glob: string): RegExp =>
  new RegExp(`^${glob.replace(/[.+^${}()|[\]\\@=,%~-]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]")}$`)

/**
 * Builds a filter.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Spec): Filter => {
  const excludes = cleanPatterns([
    ...(options.noDefaults ? [] : defaultExcludes),
    ...(options.exclude ?? []),
    ...(options.extra ?? [])
  ])
  const includes = cleanPatterns(options.include ?? [])
  const anchored = new Set(options.anchored ?? [])
  const hasIncludes = includes.length > 0
  const isSimple = !hasIncludes && excludes.every((p) => simpleName.test(p))
  const anchoredHit = (path: string): boolean => anchored.size > 0 && anchored.has(path)
  const key = JSON.stringify([excludes, includes, [...anchored].sort()])

  if (isSimple) {
    // Fast path (the defaults and most profiles): a pattern without a slash matches a basename at any depth, so
    // one lookup per entry replaces the `ignore` parent walk. Exactness is kept: same semantics, no approximation.
    const exactAny = new Set<string>()
    const exactDir = new Set<string>()
    const globs: Array<{ readonly re: RegExp; readonly dirOnly: boolean }> = []
    for (const p of excludes) {
      const dirOnly = p.endsWith("/")
      const name = dirOnly ? p.slice(0, -1) : p
      if (/[*?]/.test(name)) globs.push({ re: globToRegExp(name), dirOnly })
      else (dirOnly ? exactDir : exactAny).add(name)
    }
    return {
      excluded: (path, isDir) => {
        const name = baseName(path)
        if (isInternalName(name) || anchoredHit(path)) return true
        if (exactAny.has(name) || (isDir && exactDir.has(name))) return true
        for (const g of globs) if ((isDir || !g.dirOnly) && g.re.test(name)) return true
        return false
      },
      mayIncludeBelow: () => false,
      pruneNames: excludes.map((p) => ({ name: p.replace(/\/$/, ""), dirOnly: p.endsWith("/") })),
      hasIncludes,
      key,
      spec: options
    }
  }

  const ex = ignore({ ignorecase: false }).add(excludes)
  const inc = hasIncludes ? ignore({ ignorecase: false }).add(includes) : undefined
  // For an excluded directory, an include can only match below it if the pattern is unanchored (matches at any
  // depth) or its literal prefix is compatible with the directory path.
  const includePrefixes = includes.map((p) => {
    const body = p.startsWith("!") ? p.slice(1) : p
    const trimmed = body.replace(/\/$/, "")
    const anchoredPattern = trimmed.includes("/")
    const literal = trimmed.replace(/^\//, "").split(/[*?[\\]/)[0] ?? ""
    return { anchored: anchoredPattern, literal }
  })
  const below = new Map<string, boolean>()
  return {
    excluded: (path, isDir) => {
      if (isInternalName(baseName(path)) || anchoredHit(path)) return true
      const p = isDir ? `${path}/` : path
      if (!ex.ignores(p)) return false
      return !(inc !== undefined && inc.ignores(p))
    },
    mayIncludeBelow: (dir) => {
      if (inc === undefined) return false
      let answer = below.get(dir)
      if (answer === undefined) {
        const d = `${dir}/`
        answer = includePrefixes.some((p) => !p.anchored || d.startsWith(p.literal) || p.literal.startsWith(d))
        below.set(dir, answer)
      }
      return answer
    },
    pruneNames: undefined,
    hasIncludes,
    key,
    spec: options
  }
}

/**
 * Filters a flat list of paths given in pre-order (every directory before its contents, as a sorted list or a
 * `find` listing is). A child of an excluded directory is excluded, except where includes re-include it, in
 * which case the excluded directories above it are kept as phantoms. Returns the paths kept.
 *
 * @since 0.1.0
 * @category filtering
 */
export const filterPreorder = (
  filter: Filter,
  paths: Iterable<string>,
  isDir: (path: string) => boolean
): Set<string> => {
  const kept = new Set<string>()
  const excludedDirs = new Set<string>()
  const phantoms = new Set<string>()
  for (const path of paths) {
    const parent = parentOf(path)
    const dir = isDir(path)
    if (parent !== "" && excludedDirs.has(parent) && !phantoms.has(parent)) {
      if (dir) excludedDirs.add(path)
      continue
    }
    if (filter.excluded(path, dir)) {
      if (dir) {
        excludedDirs.add(path)
        if (filter.mayIncludeBelow(path)) phantoms.add(path)
      }
      continue
    }
    kept.add(path)
  }
  if (phantoms.size > 0) {
    // keep a phantom directory only when something below it was kept
    for (const path of [...kept]) {
      for (let p = parentOf(path); p !== "" && phantoms.has(p) && !kept.has(p); p = parentOf(p)) kept.add(p)
    }
  }
  return kept
}
