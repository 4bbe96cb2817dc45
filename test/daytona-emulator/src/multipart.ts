/**
 * The two multipart formats of the toolbox (daytona-api.md §9): parsing `bulk-upload` requests with busboy, and
 * writing `bulk-download` replies in the daemon's layout.
 */
import busboy from "busboy"
import { randomBytes } from "node:crypto"
import { once } from "node:events"
import { createWriteStream, promises as fsp } from "node:fs"
import type { IncomingHttpHeaders, ServerResponse } from "node:http"
import * as nodePath from "node:path"
import type { Readable } from "node:stream"
import { pipeline } from "node:stream/promises"
import { HttpError } from "./http.js"

export interface UploadedFile {
  readonly path: string
  readonly bytes: number
}

export interface UploadError {
  readonly index: number
  readonly path: string | undefined
  readonly error: string
}

export interface UploadResult {
  readonly files: ReadonlyArray<UploadedFile>
  readonly errors: ReadonlyArray<UploadError>
}

/** Resolves a destination path from the request to a host path (or throws an HttpError). */
export type ResolveDestination = (path: string) => Promise<{ readonly virtual: string; readonly host: string }>

const FIELD = /^files\[(\d+)\]\.(path|file)$/

/**
 * Reads a `bulk-upload` body. Parts pair up by index: `files[i].path` (the destination) must come before
 * `files[i].file`. The file part's own filename is ignored on purpose: on Node the SDK sends only a basename there.
 * Each file is written to a temp name beside its destination and renamed, so readers never see half a file.
 */
export const receiveBulkUpload = (
  headers: IncomingHttpHeaders,
  body: Readable,
  resolveDestination: ResolveDestination
): Promise<UploadResult> =>
  new Promise((resolve, reject) => {
    let bb: busboy.Busboy
    try {
      bb = busboy({ headers, preservePath: true })
    } catch (e) {
      reject(new HttpError(400, `invalid multipart request: ${(e as Error).message}`, "INVALID_REQUEST_BODY"))
      return
    }
    const destinations = new Map<number, string>()
    const files: Array<UploadedFile> = []
    const errors: Array<UploadError> = []
    const pending: Array<Promise<void>> = []

    bb.on("field", (name, value) => {
      const m = FIELD.exec(name)
      if (m && m[2] === "path") destinations.set(Number(m[1]), value)
    })

    let turn: Promise<void> = Promise.resolve()
    bb.on("file", (name, stream) => {
      const m = FIELD.exec(name)
      if (!m || m[2] !== "file") {
        stream.resume()
        return
      }
      const index = Number(m[1])
      const dest = destinations.get(index)
      if (dest === undefined) {
        errors.push({ index, path: undefined, error: `files[${index}].file arrived before files[${index}].path` })
        stream.resume()
        return
      }
      // Parts land in the order they were sent, so a later part for the same path wins, as on the daemon.
      const previous = turn
      let done: () => void = () => undefined
      turn = new Promise<void>((resolve) => (done = resolve))
      pending.push((async () => {
        let tmp: string | undefined
        try {
          const { host, virtual } = await resolveDestination(dest)
          await fsp.mkdir(nodePath.dirname(host), { recursive: true, mode: 0o755 })
          tmp = `${host}.upload-${randomBytes(6).toString("hex")}`
          await pipeline(stream, createWriteStream(tmp, { mode: 0o644 }))
          const bytes = (await fsp.stat(tmp)).size
          await previous
          await fsp.rename(tmp, host)
          tmp = undefined
          files.push({ path: virtual, bytes })
        } catch (e) {
          stream.resume()
          errors.push({ index, path: dest, error: e instanceof Error ? e.message : String(e) })
          if (tmp !== undefined) await fsp.rm(tmp, { force: true }).catch(() => undefined)
        } finally {
          done()
        }
      })())
    })

    bb.on("error", (e: unknown) => {
      reject(new HttpError(400, `invalid multipart request: ${(e as Error).message}`, "INVALID_REQUEST_BODY"))
    })
    bb.on("close", () => {
      Promise.all(pending).then(() => resolve({ files, errors }), reject)
    })
    body.pipe(bb)
  })

/** The daemon uses exactly this boundary; any boundary works with the SDK, but faithful is cheap. */
export const DOWNLOAD_BOUNDARY = "DAYTONA-FILE-BOUNDARY"

export type DownloadPart =
  | {
    readonly kind: "file"
    readonly filename: string
    readonly size: number
    readonly open: () => Readable
  }
  | { readonly kind: "error"; readonly filename: string; readonly body: Readonly<Record<string, unknown>> }

const MIME: Readonly<Record<string, string>> = {
  ".txt": "text/plain; charset=utf-8",
  ".md": "text/markdown; charset=utf-8",
  ".json": "application/json",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".ts": "text/plain; charset=utf-8",
  ".html": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".gz": "application/gzip",
  ".tar": "application/x-tar",
  ".zip": "application/zip"
}

export const guessContentType = (path: string): string =>
  MIME[nodePath.extname(path).toLowerCase()] ?? "application/octet-stream"

/**
 * `filename` must equal the requested path exactly: the SDK matches parts to requests by it. The RFC 5987
 * `filename*` (which busboy prefers) keeps non-ASCII paths intact, since busboy reads plain `filename` as latin1.
 */
const disposition = (name: "file" | "error", filename: string): string => {
  const quoted = filename.replace(/\\/g, "\\\\").replace(/"/g, "\\\"")
  const ext = encodeURIComponent(filename).replace(/['()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase())
  return `form-data; name="${name}"; filename="${quoted}"; filename*=utf-8''${ext}`
}

const write = async (res: ServerResponse, chunk: Buffer | string): Promise<void> => {
  if (res.destroyed) throw new Error("client went away")
  if (!res.write(chunk)) {
    await Promise.race([
      once(res, "drain"),
      once(res, "close").then(() => {
        throw new Error("client went away")
      })
    ])
  }
}

/** Streams a `bulk-download` reply: one part per requested path, in request order. */
export const sendBulkDownload = async (res: ServerResponse, parts: AsyncIterable<DownloadPart>): Promise<void> => {
  res.writeHead(200, { "Content-Type": `multipart/form-data; boundary=${DOWNLOAD_BOUNDARY}` })
  try {
    for await (const part of parts) {
      if (part.kind === "file") {
        await write(
          res,
          `--${DOWNLOAD_BOUNDARY}\r\nContent-Disposition: ${disposition("file", part.filename)}\r\n` +
            `Content-Type: ${guessContentType(part.filename)}\r\nContent-Length: ${part.size}\r\n\r\n`
        )
        for await (const chunk of part.open()) await write(res, chunk as Buffer)
      } else {
        const json = JSON.stringify(part.body)
        await write(
          res,
          `--${DOWNLOAD_BOUNDARY}\r\nContent-Disposition: ${disposition("error", part.filename)}\r\n` +
            `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(json)}\r\n\r\n` +
            json
        )
      }
      await write(res, "\r\n")
    }
    await write(res, `--${DOWNLOAD_BOUNDARY}--\r\n`)
    res.end()
  } catch {
    // Headers are out; the only honest signal left is a broken connection.
    res.destroy()
  }
}
