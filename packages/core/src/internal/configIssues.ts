import { Effect, Option, type ParseResult, SchemaAST } from "effect"
import * as Redaction from "../Redaction.js"
import { ConfigError } from "../SandboxError.js"

/** A config file's name and text: enough to name the line of a key path. */
export interface DocText {
  readonly file: string
  readonly text: string
}

/** A problem at a key path of a file, with the line it is written on when it can be found. */
export const errorAt = (doc: DocText, path: ReadonlyArray<string>, expected: string, got: string, hint?: string) => {
  const line = lineOf(doc.text, path)
  return new ConfigError({
    file: doc.file,
    key_path: path.join("."),
    expected,
    // What was found is echoed: never with the credentials a URL may carry.
    got: Redaction.urls(got),
    ...(line !== undefined ? { line } : {}),
    ...(hint !== undefined ? { hint } : {})
  })
}

/** A key that is not one of `known`, with the likely one when it looks like a typo. */
export const unknownKey = (doc: DocText, path: ReadonlyArray<string>, known: ReadonlyArray<string>) => {
  const key = path[path.length - 1]!
  const suggestion = didYouMean(key, known)
  return errorAt(
    doc,
    path,
    known.length > 0 ? `one of ${known.join(", ")}` : "no keys here",
    `unknown key ${JSON.stringify(key)}`,
    suggestion ? `did you mean "${suggestion}"?` : undefined
  )
}

/** One error for many problems: the first, with the others' lines in `also`, so a person fixes them in one go. */
export const combine = (problems: ReadonlyArray<ConfigError>): ConfigError => {
  const [first, ...rest] = problems
  return rest.length === 0 ? first! : new ConfigError({
    ...first!,
    also: [...(first!.also ?? []), ...rest.flatMap((p) => [p.message, ...(p.also ?? [])])]
  })
}

/** Checks whose problems are kept for one combined report instead of stopping at the first. */
export const collector = () => {
  const problems: Array<ConfigError> = []
  const attempt = <A, E>(effect: Effect.Effect<A, ConfigError | E>): Effect.Effect<Option.Option<A>, E> =>
    Effect.map(effect, Option.some).pipe(
      Effect.catchIf(
        (e): e is ConfigError => e instanceof ConfigError,
        (e) => Effect.sync(() => (problems.push(e), Option.none<A>()))
      )
    ) as Effect.Effect<Option.Option<A>, E>
  const done = <A>(value: A): Effect.Effect<A, ConfigError> =>
    problems.length === 0 ? Effect.succeed(value) : Effect.fail(combine(problems))
  return { problems, attempt, done }
}

/** The first leaf problem of a parse error, with its path relative to the decoded value. */
export interface Issue {
  readonly path: ReadonlyArray<PropertyKey>
  readonly expected: string
  readonly got: string
  readonly unexpectedKey?: { readonly key: string; readonly known: ReadonlyArray<string> }
}

export const describe = (value: unknown): string => {
  if (value === undefined) return "nothing"
  if (typeof value === "string") return JSON.stringify(value)
  if (Array.isArray(value)) return "an array"
  if (value !== null && typeof value === "object") return "a table"
  return String(value)
}

/** `Schema.optional` wraps a key's schema as `X | undefined`; an absent key never fails, so `undefined` is noise. */
const withoutUndefined = (ast: SchemaAST.Union): ReadonlyArray<SchemaAST.AST> =>
  ast.types.filter((member) => !SchemaAST.isUndefinedKeyword(member))

const expectedOf = (ast: SchemaAST.AST): string => {
  if (SchemaAST.isUnion(ast)) {
    const members = withoutUndefined(ast)
    if (members.length > 0 && members.length < ast.types.length) return members.map(expectedOf).join(" | ")
  }
  const message = SchemaAST.getMessageAnnotation(ast)
  if (Option.isSome(message)) {
    const m = message.value
    if (typeof m === "string") return m
  }
  const title = SchemaAST.getDescriptionAnnotation(ast)
  if (Option.isSome(title)) return title.value
  if (SchemaAST.isRefinement(ast)) return expectedOf(ast.from)
  if (SchemaAST.isTypeLiteral(ast)) return "a table"
  if (SchemaAST.isTupleType(ast)) return "an array"
  if (SchemaAST.isTransformation(ast)) return expectedOf(ast.from)
  return String(ast).replace(/^readonly /, "")
}

const knownKeys = (ast: SchemaAST.AST): ReadonlyArray<string> => {
  if (SchemaAST.isTypeLiteral(ast)) return ast.propertySignatures.map((p) => String(p.name))
  if (SchemaAST.isTransformation(ast)) return knownKeys(ast.from)
  if (SchemaAST.isRefinement(ast)) return knownKeys(ast.from)
  return []
}

/** Walks a parse issue down to its first leaf. */
export const firstIssue = (
  issue: ParseResult.ParseIssue,
  path: ReadonlyArray<PropertyKey> = [],
  parent?: SchemaAST.AST
): Issue => {
  switch (issue._tag) {
    case "Pointer": {
      const segment = Array.isArray(issue.path) ? issue.path : [issue.path]
      return firstIssue(issue.issue, [...path, ...(segment as Array<PropertyKey>)], parent)
    }
    case "Composite": {
      const issues = Array.isArray(issue.issues) ? issue.issues : [issue.issues]
      const first = issues[0] as ParseResult.ParseIssue
      if (SchemaAST.isUnion(issue.ast)) {
        // An optional key's `X | undefined`: report X's own leaf, so nested paths and messages survive.
        const members = withoutUndefined(issue.ast)
        const only = members.length === 1 && members.length < issue.ast.types.length ? members[0] : undefined
        const inner = only && issues.find((i) => "ast" in i && i.ast === only)
        if (inner) return firstIssue(inner, path, parent)
        return { path, expected: expectedOf(issue.ast), got: describe(issue.actual) }
      }
      return firstIssue(first, path, issue.ast)
    }
    case "Refinement":
      if (issue.kind === "From") return firstIssue(issue.issue, path, parent)
      return { path, expected: expectedOf(issue.ast), got: describe(issue.actual) }
    case "Transformation":
      return firstIssue(issue.issue, path, parent)
    case "Missing":
      return { path, expected: expectedOf(issue.ast as unknown as SchemaAST.AST), got: "nothing (the key is required)" }
    case "Unexpected": {
      const key = String(path[path.length - 1] ?? "")
      return {
        path,
        expected: "a known key",
        got: JSON.stringify(key),
        unexpectedKey: { key, known: parent ? knownKeys(parent) : [] }
      }
    }
    case "Forbidden":
      return { path, expected: "a plain value", got: describe(issue.actual) }
    case "Type":
      return { path, expected: expectedOf(issue.ast), got: describe(issue.actual) }
  }
}

const distance = (a: string, b: string): number => {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1))
      prev = tmp
    }
  }
  return row[b.length]!
}

/** The closest known key, if it is close enough to be a likely typo. */
export const didYouMean = (key: string, known: ReadonlyArray<string>): string | undefined => {
  let best: string | undefined
  let bestScore = Infinity
  for (const candidate of known) {
    const score = distance(key.toLowerCase(), candidate.toLowerCase())
    if (score < bestScore) {
      best = candidate
      bestScore = score
    }
  }
  return best !== undefined && bestScore <= Math.max(2, Math.floor(best.length / 3)) ? best : undefined
}

const keyPattern = /^\s*(?:"([^"]+)"|'([^']+)'|([A-Za-z0-9_.-]+(?:\s*\.\s*(?:"[^"]+"|[A-Za-z0-9_-]+))*))\s*=/
const headerPattern = /^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$/

const splitKey = (key: string): Array<string> =>
  key.split(/\s*\.\s*(?=(?:[^"]*"[^"]*")*[^"]*$)/).map((part) => part.trim().replace(/^["']|["']$/g, ""))

/**
 * The 1-based line where a key path is written, or the line of its nearest written ancestor. TOML parsers do
 * not report key positions, so this follows table headers and (dotted) keys line by line.
 */
export const lineOf = (text: string, keyPath: ReadonlyArray<string>): number | undefined => {
  const lines = text.split(/\r?\n/)
  let table: Array<string> = []
  let best: { line: number; depth: number } | undefined
  const consider = (full: ReadonlyArray<string>, line: number) => {
    let depth = 0
    while (depth < full.length && depth < keyPath.length && full[depth] === keyPath[depth]) depth++
    if (depth === full.length || depth === keyPath.length) {
      if (depth > 0 && (!best || depth > best.depth)) best = { line, depth }
    }
  }
  lines.forEach((raw, index) => {
    const header = headerPattern.exec(raw)
    if (header && !raw.includes("=")) {
      table = splitKey(header[1]!)
      consider(table, index + 1)
      return
    }
    const key = keyPattern.exec(raw)
    if (key) {
      const parts = key[1] ?? key[2] ? [key[1] ?? key[2]!] : splitKey(key[3]!)
      consider([...table, ...parts], index + 1)
    }
  })
  return best?.line
}

const credentialKey = /(^|_|-)(api_?key|apikey|token|secret|password|passwd|credentials?|private_?key|access_?key)$/i

/** Finds a key anywhere in a parsed document whose name says it holds a credential. */
export const findCredentialKey = (
  value: unknown,
  path: ReadonlyArray<string> = []
): ReadonlyArray<string> | undefined => {
  if (value === null || typeof value !== "object") return undefined
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    const here = [...path, key]
    // env tables hold variable names as keys: a key named like a credential with a literal value is one too.
    if (credentialKey.test(key) && (typeof child !== "object" || child === null)) return here
    const deeper = findCredentialKey(child, here)
    if (deeper) return deeper
  }
  return undefined
}
