/**
 * Where a `[providers]` entry points: a package name (resolved from the config file's directory, the way Node
 * resolves an `import` there), or a path relative to that directory — to a module file or a package directory.
 * Packages are resolved with the `import` conditions first, so an ESM-only package (`exports` with only
 * `"import"`) loads as well as a CommonJS one (`main`, or `exports` with `"require"`/`"default"`).
 */
import { existsSync, readFileSync, statSync } from "node:fs"
import { dirname, isAbsolute, join, resolve as resolvePath } from "node:path"

/** A provider module that cannot be found or resolved; `notInstalled` when the package is missing altogether. */
export class ProviderResolveError extends Error {
  constructor(message: string, readonly notInstalled: boolean) {
    super(message)
    this.name = "ProviderResolveError"
  }
}

const CONDITIONS = ["import", "node", "module", "default", "require"] as const

/** Resolve an `exports` target for one subpath with the conditions above, in that order of preference. */
const pickTarget = (target: unknown): string | undefined => {
  if (typeof target === "string") return target
  if (Array.isArray(target)) {
    for (const t of target) {
      const picked = pickTarget(t)
      if (picked !== undefined) return picked
    }
    return undefined
  }
  if (typeof target === "object" && target !== null) {
    const record = target as Record<string, unknown>
    for (const condition of CONDITIONS) {
      if (condition in record) {
        const picked = pickTarget(record[condition])
        if (picked !== undefined) return picked
      }
    }
  }
  return undefined
}

const readManifest = (dir: string): Record<string, unknown> | undefined => {
  const file = join(dir, "package.json")
  if (!existsSync(file)) return undefined
  try {
    return JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>
  } catch (e) {
    throw new ProviderResolveError(`${file} is not valid JSON: ${(e as Error).message}`, false)
  }
}

/** The entry file of a package directory for `subpath` ("." for the package itself). */
const packageEntry = (dir: string, subpath: string): string => {
  const manifest = readManifest(dir)
  const exportsField = manifest?.["exports"]
  if (exportsField !== undefined && exportsField !== null) {
    const map = typeof exportsField === "object" && !Array.isArray(exportsField) &&
        Object.keys(exportsField).some((k) => k.startsWith("."))
      ? (exportsField as Record<string, unknown>)
      : { ".": exportsField }
    const picked = pickTarget(map[subpath])
    if (picked === undefined) {
      throw new ProviderResolveError(
        `${join(dir, "package.json")} exports no "${subpath}" that import or require can load`,
        false
      )
    }
    return resolvePath(dir, picked)
  }
  if (subpath !== ".") return fileEntry(resolvePath(dir, subpath))
  const main = typeof manifest?.["main"] === "string" ? (manifest["main"] as string) : "index.js"
  return fileEntry(resolvePath(dir, main))
}

/** A file as given, or with `.js`/`.mjs`/`.cjs`, or a directory's package entry. */
const fileEntry = (target: string): string => {
  if (existsSync(target) && statSync(target).isDirectory()) return packageEntry(target, ".")
  for (const candidate of [target, `${target}.js`, `${target}.mjs`, `${target}.cjs`]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate
  }
  throw new ProviderResolveError(`${target} does not exist`, false)
}

const splitName = (spec: string): { readonly name: string; readonly subpath: string } => {
  const parts = spec.split("/")
  const size = spec.startsWith("@") ? 2 : 1
  const rest = parts.slice(size).join("/")
  return { name: parts.slice(0, size).join("/"), subpath: rest === "" ? "." : `./${rest}` }
}

/**
 * The absolute file to import for a `[providers]` spec named in a config file in `baseDir`.
 *
 * @since 0.1.0
 */
export const resolveProvider = (spec: string, baseDir: string): string => {
  if (spec.startsWith(".") || isAbsolute(spec)) return fileEntry(resolvePath(baseDir, spec))
  const { name, subpath } = splitName(spec)
  for (let dir = resolvePath(baseDir);; dir = dirname(dir)) {
    const candidate = join(dir, "node_modules", name)
    if (existsSync(join(candidate, "package.json"))) return packageEntry(candidate, subpath)
    if (dirname(dir) === dir) break
  }
  throw new ProviderResolveError(`package ${name} is not installed in ${baseDir} or above it`, true)
}
