/**
 * HTTP plumbing shared by every route: a tiny router keyed by OpenAPI-style templates, the two error body shapes
 * the real services use, and JSON helpers. Kept free of emulator state so the route modules stay small.
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import { STATUS_CODES } from "node:http"
import type { Socket } from "node:net"
import type { Readable } from "node:stream"

/** Which real service a route imitates; it decides the error body shape. */
export type RouteKind = "api" | "toolbox"

export type HttpMethod = "GET" | "POST" | "PUT" | "DELETE" | "PATCH"

export interface RequestContext {
  readonly req: IncomingMessage
  readonly res: ServerResponse
  readonly method: HttpMethod
  /** The path without the query string, percent-decoded per segment when matched. */
  readonly path: string
  readonly query: URLSearchParams
  readonly params: Readonly<Record<string, string>>
  /** The request body; reading it (instead of `req`) keeps the bytes-in counter right. */
  readonly body: Readable
  readonly route: Route
}

export type Handler = (ctx: RequestContext) => Promise<void> | void

export interface Route {
  readonly method: HttpMethod
  /** OpenAPI-style template including the prefix, e.g. `/api/sandbox/{sandboxIdOrName}/start`. */
  readonly template: string
  readonly kind: RouteKind
  readonly handler: Handler
}

interface CompiledRoute {
  readonly route: Route
  readonly segments: ReadonlyArray<string>
}

/**
 * An error a handler throws to produce an error reply. `code` only matters for toolbox routes, where the SDK maps
 * `(source, code)` to a specific error class.
 */
export class HttpError extends Error {
  readonly status: number
  readonly code: string | undefined
  readonly headers: Readonly<Record<string, string>>
  constructor(status: number, message: string, code?: string, headers?: Record<string, string>) {
    super(message)
    this.status = status
    this.code = code
    this.headers = headers ?? {}
  }
}

export class Router {
  private readonly compiled: Array<CompiledRoute> = []

  add(route: Route): void {
    this.compiled.push({ route, segments: route.template.split("/").filter((s) => s.length > 0) })
  }

  routes(): ReadonlyArray<Route> {
    return this.compiled.map((c) => c.route)
  }

  /**
   * Finds the route for a method and path. Literal segments beat parameters, so `/sandbox/ssh-access/validate` wins
   * over `/sandbox/{id}/...` whatever the registration order.
   */
  match(method: string, path: string): { route: Route; params: Record<string, string> } | undefined {
    const parts = path.split("/").filter((s) => s.length > 0)
    let best: { route: Route; params: Record<string, string>; literals: number } | undefined
    for (const c of this.compiled) {
      if (c.route.method !== method || c.segments.length !== parts.length) continue
      const params: Record<string, string> = {}
      let literals = 0
      let ok = true
      for (let i = 0; i < parts.length; i++) {
        const seg = c.segments[i]!
        const part = parts[i]!
        if (seg.startsWith("{") && seg.endsWith("}")) {
          let decoded: string
          try {
            decoded = decodeURIComponent(part)
          } catch {
            ok = false
            break
          }
          params[seg.slice(1, -1)] = decoded
        } else if (seg === part) {
          literals++
        } else {
          ok = false
          break
        }
      }
      if (ok && (best === undefined || literals > best.literals)) best = { route: c.route, params, literals }
    }
    return best && { route: best.route, params: best.params }
  }

  /** True if some route serves this path with another method (so the reply is 405-ish rather than 404). */
  knowsPath(path: string): boolean {
    return ["GET", "POST", "PUT", "DELETE", "PATCH"].some((m) => this.match(m, path) !== undefined)
  }
}

/** NestJS-style body of the control plane (`{path, timestamp, statusCode, error, message}`). */
export const apiErrorBody = (status: number, message: string, url: string): Record<string, unknown> => ({
  path: url,
  timestamp: new Date().toISOString(),
  statusCode: status,
  error: STATUS_CODES[status] ?? "Error",
  message
})

const defaultDaemonCode = (status: number): string => {
  switch (status) {
    case 400:
      return "BAD_REQUEST"
    case 401:
      return "UNAUTHORIZED"
    case 403:
      return "FORBIDDEN"
    case 404:
      return "NOT_FOUND"
    case 408:
      return "REQUEST_TIMEOUT"
    case 409:
      return "CONFLICT"
    case 410:
      return "GONE"
    case 422:
      return "UNPROCESSABLE_ENTITY"
    default:
      return "INTERNAL_SERVER_ERROR"
  }
}

/**
 * Daemon-style body. `source: "DAYTONA_DAEMON"` is what makes the SDK pick specific classes such as
 * `DaytonaFileNotFoundError` (daytona-api.md §13).
 */
export const toolboxErrorBody = (
  status: number,
  message: string,
  code: string | undefined,
  path: string,
  method: string
): Record<string, unknown> => ({
  statusCode: status,
  message,
  code: code ?? defaultDaemonCode(status),
  timestamp: new Date().toISOString(),
  path,
  method,
  source: "DAYTONA_DAEMON"
})

export const sendJson = (
  res: ServerResponse,
  status: number,
  body: unknown,
  headers?: Record<string, string>
): void => {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(text),
    ...headers
  })
  res.end(text)
}

export const sendEmpty = (res: ServerResponse, status: number): void => {
  res.writeHead(status)
  res.end()
}

export const sendError = (ctx: Pick<RequestContext, "req" | "res">, kind: RouteKind, err: HttpError): void => {
  const url = ctx.req.url ?? "/"
  const path = url.split("?")[0] ?? url
  const body = kind === "api"
    ? apiErrorBody(err.status, err.message, url)
    : toolboxErrorBody(err.status, err.message, err.code, path, ctx.req.method ?? "GET")
  sendJson(ctx.res, err.status, body, { ...err.headers })
}

/** Reads the whole body. Body-less POSTs from axios arrive as an empty form-urlencoded body, which is fine. */
export const readBody = async (body: Readable, limit = 64 * 1024 * 1024): Promise<Buffer> => {
  const chunks: Array<Buffer> = []
  let size = 0
  for await (const chunk of body) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string)
    size += buf.length
    if (size > limit) throw new HttpError(413, "Request body too large")
    chunks.push(buf)
  }
  return Buffer.concat(chunks)
}

export type JsonObject = { readonly [key: string]: unknown }

export const isObject = (value: unknown): value is JsonObject =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** Parses a JSON object body; an empty body counts as `{}` because the SDK sends body-less POSTs. */
export const readJsonObject = async (ctx: RequestContext): Promise<JsonObject> => {
  const raw = await readBody(ctx.body)
  const type = ctx.req.headers["content-type"] ?? ""
  if (raw.length === 0 || !type.includes("json")) return {}
  let parsed: unknown
  try {
    parsed = JSON.parse(raw.toString("utf8"))
  } catch {
    throw new HttpError(400, "Invalid JSON body", "INVALID_REQUEST_BODY")
  }
  if (!isObject(parsed)) throw new HttpError(400, "Request body must be a JSON object", "INVALID_REQUEST_BODY")
  return parsed
}

/** Reads an optional string field, rejecting other types with a 400 like a validation pipe would. */
export const optString = (obj: JsonObject, key: string): string | undefined => {
  const v = obj[key]
  if (v === undefined || v === null) return undefined
  if (typeof v !== "string") throw new HttpError(400, `${key} must be a string`, "INVALID_REQUEST_BODY")
  return v
}

export const optNumber = (obj: JsonObject, key: string): number | undefined => {
  const v = obj[key]
  if (v === undefined || v === null) return undefined
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw new HttpError(400, `${key} must be a number`, "INVALID_REQUEST_BODY")
  }
  return v
}

export const optBoolean = (obj: JsonObject, key: string): boolean | undefined => {
  const v = obj[key]
  if (v === undefined || v === null) return undefined
  if (typeof v !== "boolean") throw new HttpError(400, `${key} must be a boolean`, "INVALID_REQUEST_BODY")
  return v
}

export const optStringRecord = (obj: JsonObject, key: string): Record<string, string> | undefined => {
  const v = obj[key]
  if (v === undefined || v === null) return undefined
  if (!isObject(v) || Object.values(v).some((x) => typeof x !== "string")) {
    throw new HttpError(400, `${key} must be an object of strings`, "INVALID_REQUEST_BODY")
  }
  return { ...(v as Record<string, string>) }
}

/** Parses an integer query or path value; `undefined` when absent, 400 when malformed. */
export const intParam = (value: string | null | undefined, name: string): number | undefined => {
  if (value === null || value === undefined || value === "") return undefined
  const n = Number(value)
  if (!Number.isInteger(n)) throw new HttpError(400, `${name} must be an integer number`)
  return n
}

export const boolParam = (value: string | null | undefined): boolean | undefined =>
  value === null || value === undefined || value === "" ? undefined : value === "true" || value === "1"

/** Refuses a WebSocket upgrade with a bare HTTP status. */
export const rejectUpgrade = (socket: Socket, status: number, reason: string): void => {
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
  socket.destroy()
}

/** Counts response body bytes by wrapping `write`/`end`, whatever path (JSON, pipe, multipart) produced them. */
export const countResponseBytes = (res: ServerResponse, add: (n: number) => void): void => {
  const size = (chunk: unknown): number =>
    typeof chunk === "string" ? Buffer.byteLength(chunk) : chunk instanceof Uint8Array ? chunk.byteLength : 0
  const write = res.write.bind(res) as (...args: Array<unknown>) => boolean
  const end = res.end.bind(res) as (...args: Array<unknown>) => ServerResponse
  ;(res as unknown as { write: (...args: Array<unknown>) => boolean }).write = (...args) => {
    add(size(args[0]))
    return write(...args)
  }
  ;(res as unknown as { end: (...args: Array<unknown>) => ServerResponse }).end = (...args) => {
    if (typeof args[0] !== "function") add(size(args[0]))
    return end(...args)
  }
}
