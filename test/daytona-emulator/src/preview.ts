/**
 * The preview proxy behind the URLs `preview-url` and `signed-preview-url` hand out. Sandbox processes are host
 * processes, so a server a sandbox starts on port P listens on 127.0.0.1:P and the proxy simply forwards there.
 * Auth is the preview token (`X-Daytona-Preview-Token` header or `DAYTONA_SANDBOX_AUTH_KEY` query), not the API
 * key, unless the sandbox is public; signed URLs carry their own token.
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import { request } from "node:http"
import type { App } from "./app.js"
import { apiErrorBody, sendJson } from "./http.js"
import type { AccessTokens } from "./routes/access.js"

const fail = (req: IncomingMessage, res: ServerResponse, status: number, message: string): void =>
  sendJson(res, status, apiErrorBody(status, message, req.url ?? "/"))

export const handlePreview = (app: App, tokens: AccessTokens, req: IncomingMessage, res: ServerResponse): void => {
  const url = new URL(req.url ?? "/", "http://127.0.0.1")
  const parts = url.pathname.split("/").filter((s) => s !== "")
  let sandboxId: string
  let port: number
  let rest: Array<string>
  if (parts[1] === "signed") {
    const signed = tokens.signed.get(parts[2] ?? "")
    if (!signed || signed.expiresAt < Date.now()) return fail(req, res, 401, "Invalid or expired signed preview URL")
    sandboxId = signed.sandboxId
    port = signed.port
    rest = parts.slice(3)
  } else {
    sandboxId = parts[1] ?? ""
    port = Number(parts[2])
    rest = parts.slice(3)
    const sb = app.store.findLive(sandboxId)
    if (!sb) return fail(req, res, 404, `Sandbox ${sandboxId} not found`)
    const token = req.headers["x-daytona-preview-token"] ?? url.searchParams.get("DAYTONA_SANDBOX_AUTH_KEY")
    if (!sb.public && token !== sb.authToken) return fail(req, res, 401, "Unauthorized")
  }
  const sb = app.store.findLive(sandboxId)
  if (!sb) return fail(req, res, 404, `Sandbox ${sandboxId} not found`)
  if (sb.state !== "started") return fail(req, res, 400, "Sandbox is not running")
  if (!Number.isInteger(port) || port < 1 || port > 65535) return fail(req, res, 400, "Invalid port")
  url.searchParams.delete("DAYTONA_SANDBOX_AUTH_KEY")
  const search = url.searchParams.toString()
  const headers: Record<string, string | Array<string> | undefined> = { ...req.headers, host: `127.0.0.1:${port}` }
  delete headers["x-daytona-preview-token"]
  const upstream = request(
    { host: "127.0.0.1", port, method: req.method, path: "/" + rest.join("/") + (search ? `?${search}` : ""), headers },
    (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers)
      up.pipe(res)
    }
  )
  upstream.on("error", (e) => {
    if (res.headersSent) res.destroy()
    else fail(req, res, 502, `Bad gateway: nothing answers on port ${port} (${e.message})`)
  })
  req.pipe(upstream)
}
