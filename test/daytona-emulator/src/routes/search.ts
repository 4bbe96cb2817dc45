/**
 * The toolbox's file search routes, as the daemon runs them: `GET /files/find` (lines containing a string, in
 * every regular text file under a path), `GET /files/search` (names matching a glob, Go's `filepath.Match`) and
 * `POST /files/replace` (a string replaced everywhere in the given files, one result per file). Walks do not follow
 * symbolic links, and unreadable directories are skipped.
 */
import { promises as fsp } from "node:fs"
import * as nodePath from "node:path"
import type { App } from "../app.js"
import type { Handler, HttpMethod, RequestContext } from "../http.js"
import { HttpError, readJsonObject, sendJson } from "../http.js"
import { resolveSandboxPath } from "../sandboxFs.js"
import type { SandboxRecord } from "../state.js"
import { TB, toolboxSandbox } from "./toolbox.js"

const required = (ctx: RequestContext, name: string): string => {
  const v = ctx.query.get(name)
  if (v === null || v === "") throw new HttpError(400, `${name} is required`, "INVALID_FILE_PATH")
  return v
}

interface Entry {
  readonly host: string
  readonly virtual: string
  readonly name: string
  readonly isFile: boolean
}

/** A depth-first walk in name order (as `filepath.Walk`), the root included, links not followed. */
async function* walk(host: string, virtual: string): AsyncGenerator<Entry> {
  let st
  try {
    st = await fsp.lstat(host)
  } catch {
    return
  }
  yield { host, virtual, name: nodePath.posix.basename(virtual), isFile: st.isFile() }
  if (!st.isDirectory()) return
  let names: Array<string>
  try {
    names = (await fsp.readdir(host)).sort()
  } catch {
    return
  }
  for (const name of names) yield* walk(nodePath.join(host, name), nodePath.posix.join(virtual, name))
}

/** Go's `filepath.Match` as a RegExp: `*` and `?` stop at `/`, classes with `^` negation, `\\` escapes. */
export const globRegExp = (pattern: string): RegExp => {
  let out = ""
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!
    if (c === "*") out += "[^/]*"
    else if (c === "?") out += "[^/]"
    else if (c === "\\" && i + 1 < pattern.length) out += `\\${pattern[++i]}`
    else if (c === "[") {
      const end = pattern.indexOf("]", i + 2)
      if (end < 0) throw new HttpError(400, "syntax error in pattern")
      let body = pattern.slice(i + 1, end)
      if (body.startsWith("^")) body = `^${body.slice(1)}`
      out += `[${body.replace(/[\]\\]/g, "\\$&")}]`
      i = end
    } else out += c.replace(/[.+^${}()|\]\\]/g, "\\$&")
  }
  return new RegExp(`^${out}$`)
}

const isBinary = (head: Buffer): boolean => head.includes(0)

const find = async (sb: SandboxRecord, path: string, pattern: string) => {
  const root = await resolveSandboxPath(sb.paths, path)
  const matches: Array<{ file: string; line: number; content: string }> = []
  for await (const e of walk(root.host, root.virtual)) {
    if (!e.isFile) continue
    let data: Buffer
    try {
      data = await fsp.readFile(e.host)
    } catch {
      continue
    }
    if (isBinary(data.subarray(0, 512))) continue
    const lines = data.toString("utf8").split("\n")
    if (lines.at(-1) === "") lines.pop()
    lines.forEach((content, i) => {
      if (content.includes(pattern)) matches.push({ file: e.virtual, line: i + 1, content })
    })
  }
  return matches
}

const search = async (sb: SandboxRecord, path: string, pattern: string) => {
  const re = globRegExp(pattern)
  const root = await resolveSandboxPath(sb.paths, path)
  const files: Array<string> = []
  for await (const e of walk(root.host, root.virtual)) if (re.test(e.name)) files.push(e.virtual)
  return { files }
}

const replace = async (sb: SandboxRecord, files: ReadonlyArray<string>, pattern: string, newValue: string) => {
  const results: Array<{ file: string; success: boolean; error?: string }> = []
  for (const file of files) {
    try {
      const { host } = await resolveSandboxPath(sb.paths, file)
      const st = await fsp.stat(host)
      const text = await fsp.readFile(host, "utf8")
      await fsp.writeFile(host, text.split(pattern).join(newValue), { mode: st.mode & 0o7777 })
      results.push({ file, success: true })
    } catch (e) {
      results.push({ file, success: false, error: e instanceof Error ? e.message : String(e) })
    }
  }
  return results
}

export const searchRoutes = (app: App): ReadonlyArray<readonly [HttpMethod, string, Handler]> => [
  ["GET", `${TB}/files/find`, async (ctx) => {
    const sb = toolboxSandbox(app, ctx)
    sendJson(ctx.res, 200, await find(sb, required(ctx, "path"), required(ctx, "pattern")))
  }],
  ["GET", `${TB}/files/search`, async (ctx) => {
    const sb = toolboxSandbox(app, ctx)
    sendJson(ctx.res, 200, await search(sb, required(ctx, "path"), required(ctx, "pattern")))
  }],
  ["POST", `${TB}/files/replace`, async (ctx) => {
    const sb = toolboxSandbox(app, ctx)
    const body = await readJsonObject(ctx)
    const files = body["files"]
    const pattern = body["pattern"]
    const newValue = body["newValue"]
    if (!Array.isArray(files) || !files.every((f) => typeof f === "string")) {
      throw new HttpError(400, "files must be an array of strings")
    }
    if (typeof pattern !== "string" || pattern === "" || typeof newValue !== "string") {
      throw new HttpError(400, "pattern and newValue are required")
    }
    sendJson(ctx.res, 200, await replace(sb, files, pattern, newValue))
  }]
]
