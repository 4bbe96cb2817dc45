/**
 * Toolbox filesystem routes (daytona-api.md §8, §9; §16 items 11–13) over the sandbox directory.
 */
import { createReadStream, promises as fsp } from "node:fs"
import * as nodePath from "node:path"
import type { App } from "../app.js"
import type { Handler, HttpMethod, RequestContext } from "../http.js"
import { boolParam, HttpError, isObject, readBody, sendEmpty, sendJson, toolboxErrorBody } from "../http.js"
import type { DownloadPart } from "../multipart.js"
import { guessContentType, receiveBulkUpload, sendBulkDownload } from "../multipart.js"
import type { FileInfo } from "../sandboxFs.js"
import { fileInfo, fsError, resolveSandboxPath } from "../sandboxFs.js"
import type { SandboxRecord } from "../state.js"
import { TB, toolboxSandbox } from "./toolbox.js"

const requiredQuery = (ctx: RequestContext, name: string): string => {
  const v = ctx.query.get(name)
  if (v === null || v === "") throw new HttpError(400, `${name} is required`, "INVALID_FILE_PATH")
  return v
}

/**
 * The daemon lists with `stat`, not `lstat`: a symlink is reported as what it points to, and one that points
 * nowhere (or, here, out of the sandbox) is left out. Link targets resolve inside the sandbox, as in a chroot.
 */
const listDir = async (
  paths: SandboxRecord["paths"],
  host: string,
  virtual: string,
  depth: number,
  out: Array<FileInfo>
): Promise<void> => {
  const names = (await fsp.readdir(host)).sort()
  for (const name of names) {
    const childHost = nodePath.join(host, name)
    const childVirtual = nodePath.posix.join(virtual, name)
    let info: FileInfo
    try {
      const target = (await fsp.lstat(childHost)).isSymbolicLink()
        ? await resolveSandboxPath(paths, childVirtual).then(() => fsp.realpath(childHost))
        : childHost
      info = { ...(await fileInfo(target, childVirtual)), name, path: childVirtual }
    } catch {
      continue // dangling, outside the sandbox, or vanished while listing
    }
    out.push(info)
    if (info.isDir && depth > 1) await listDir(paths, childHost, childVirtual, depth - 1, out)
  }
}

const parseMode = (raw: string | null): number => {
  if (raw === null || raw === "") return 0o755
  if (!/^[0-7]{3,4}$/.test(raw)) throw new HttpError(400, `invalid mode: ${raw}`)
  return parseInt(raw, 8)
}

/** Yields one part per requested path, resolving each lazily so a huge request does not stat everything up front. */
async function* downloadParts(
  sb: SandboxRecord,
  paths: ReadonlyArray<string>,
  url: string
): AsyncGenerator<DownloadPart> {
  for (const requested of paths) {
    const failure = (e: HttpError): DownloadPart => ({
      kind: "error",
      filename: requested,
      body: toolboxErrorBody(e.status, e.message, e.code, url, "POST")
    })
    if (requested === "") {
      yield failure(new HttpError(400, "empty path", "INVALID_FILE_PATH"))
      continue
    }
    let virtual = requested
    try {
      const resolved = await resolveSandboxPath(sb.paths, requested)
      virtual = resolved.virtual
      const st = await fsp.stat(resolved.host)
      if (st.isDirectory()) {
        yield failure(new HttpError(400, `path is a directory: ${virtual}`, "INVALID_FILE_PATH"))
        continue
      }
      const host = resolved.host
      yield { kind: "file", filename: requested, size: st.size, open: () => createReadStream(host) }
    } catch (e) {
      yield failure(fsError(e, virtual))
    }
  }
}

export const fileRoutes = (app: App): ReadonlyArray<readonly [HttpMethod, string, Handler]> => [
  ["GET", `${TB}/files`, async (ctx) => {
    const sb = toolboxSandbox(app, ctx)
    const { host, virtual } = await resolveSandboxPath(sb.paths, ctx.query.get("path") ?? "")
    const depthRaw = ctx.query.get("depth")
    const depth = depthRaw === null || depthRaw === "" ? 1 : Number(depthRaw)
    if (!Number.isInteger(depth) || depth < 1) throw new HttpError(400, "depth must be a positive integer")
    const out: Array<FileInfo> = []
    try {
      const st = await fsp.stat(host)
      if (!st.isDirectory()) throw new HttpError(400, `not a directory: ${virtual}`, "INVALID_FILE_PATH")
      await listDir(sb.paths, host, virtual, depth, out)
    } catch (e) {
      throw fsError(e, virtual)
    }
    sendJson(ctx.res, 200, out)
  }],
  ["GET", `${TB}/files/info`, async (ctx) => {
    const sb = toolboxSandbox(app, ctx)
    const { host, virtual } = await resolveSandboxPath(sb.paths, requiredQuery(ctx, "path"))
    try {
      sendJson(ctx.res, 200, await fileInfo(host, virtual))
    } catch (e) {
      throw fsError(e, virtual)
    }
  }],
  ["DELETE", `${TB}/files`, async (ctx) => {
    const sb = toolboxSandbox(app, ctx)
    const { host, virtual } = await resolveSandboxPath(sb.paths, requiredQuery(ctx, "path"))
    if (virtual === "/") throw new HttpError(400, "refusing to delete the sandbox root", "INVALID_FILE_PATH")
    const recursive = boolParam(ctx.query.get("recursive")) ?? false
    try {
      const st = await fsp.lstat(host)
      if (st.isDirectory() && !recursive) {
        throw new HttpError(400, `cannot delete directory without recursive flag: ${virtual}`, "BAD_REQUEST")
      }
      await fsp.rm(host, { recursive, force: false })
    } catch (e) {
      throw fsError(e, virtual)
    }
    sendEmpty(ctx.res, 204)
  }],
  ["POST", `${TB}/files/folder`, async (ctx) => {
    const sb = toolboxSandbox(app, ctx)
    const { host, virtual } = await resolveSandboxPath(sb.paths, requiredQuery(ctx, "path"))
    const mode = parseMode(ctx.query.get("mode"))
    await readBody(ctx.body)
    try {
      await fsp.mkdir(host, { recursive: true, mode })
      await fsp.chmod(host, mode)
    } catch (e) {
      throw fsError(e, virtual)
    }
    sendEmpty(ctx.res, 201)
  }],
  // SetFilePermissions: mode in octal; owner and group as numeric ids (the emulator has no user database).
  ["POST", `${TB}/files/permissions`, async (ctx) => {
    const sb = toolboxSandbox(app, ctx)
    const { host, virtual } = await resolveSandboxPath(sb.paths, requiredQuery(ctx, "path"))
    const rawMode = ctx.query.get("mode")
    const ids = (["owner", "group"] as const).map((k) => {
      const v = ctx.query.get(k)
      if (v === null || v === "") return undefined
      if (!/^\d+$/.test(v)) throw new HttpError(400, `unknown ${k}: ${v}`, "BAD_REQUEST")
      return Number(v)
    })
    await readBody(ctx.body)
    try {
      if (rawMode !== null && rawMode !== "") await fsp.chmod(host, parseMode(rawMode))
      if (ids[0] !== undefined || ids[1] !== undefined) {
        const st = await fsp.stat(host)
        await fsp.chown(host, ids[0] ?? st.uid, ids[1] ?? st.gid)
      }
    } catch (e) {
      throw fsError(e, virtual)
    }
    sendEmpty(ctx.res, 200)
  }],
  ["POST", `${TB}/files/move`, async (ctx) => {
    const sb = toolboxSandbox(app, ctx)
    const src = await resolveSandboxPath(sb.paths, requiredQuery(ctx, "source"))
    const dst = await resolveSandboxPath(sb.paths, requiredQuery(ctx, "destination"))
    try {
      await fsp.lstat(src.host)
    } catch (e) {
      throw fsError(e, src.virtual)
    }
    const taken = await fsp.lstat(dst.host).then(() => true, () => false)
    if (taken) throw new HttpError(409, `destination already exists: ${dst.virtual}`, "CONFLICT")
    try {
      await fsp.rename(src.host, dst.host)
    } catch (e) {
      throw fsError(e, dst.virtual)
    }
    sendEmpty(ctx.res, 200)
  }],
  ["GET", `${TB}/files/download`, async (ctx) => {
    const sb = toolboxSandbox(app, ctx)
    const { host, virtual } = await resolveSandboxPath(sb.paths, requiredQuery(ctx, "path"))
    let size: number
    try {
      const st = await fsp.stat(host)
      if (st.isDirectory()) throw new HttpError(400, `path is a directory: ${virtual}`, "INVALID_FILE_PATH")
      size = st.size
    } catch (e) {
      throw fsError(e, virtual)
    }
    ctx.res.writeHead(200, {
      "Content-Type": guessContentType(virtual),
      "Content-Length": size,
      "Content-Disposition": `attachment; filename="${nodePath.posix.basename(virtual).replace(/"/g, "\\\"")}"`
    })
    createReadStream(host).pipe(ctx.res)
  }],
  ["POST", `${TB}/files/bulk-upload`, async (ctx) => {
    const sb = toolboxSandbox(app, ctx)
    const result = await receiveBulkUpload(ctx.req.headers, ctx.body, (p) => resolveSandboxPath(sb.paths, p))
    if (result.errors.length > 0) {
      sendJson(ctx.res, 400, { errors: result.errors, files: result.files })
      return
    }
    sendJson(ctx.res, 200, { files: result.files })
  }],
  ["POST", `${TB}/files/bulk-download`, async (ctx) => {
    const sb = toolboxSandbox(app, ctx)
    const raw = await readBody(ctx.body)
    let paths: ReadonlyArray<string>
    try {
      const parsed: unknown = JSON.parse(raw.toString("utf8"))
      if (!isObject(parsed) || !Array.isArray(parsed["paths"])) throw new Error("paths missing")
      paths = parsed["paths"].map(String)
    } catch {
      throw new HttpError(400, "body must be {\"paths\": [...]}", "INVALID_REQUEST_BODY")
    }
    if (paths.length === 0) throw new HttpError(400, "paths must not be empty", "BAD_REQUEST")
    await sendBulkDownload(ctx.res, downloadParts(sb, paths, (ctx.req.url ?? "").split("?")[0] ?? ""))
  }]
]
