/**
 * Shared toolbox plumbing and the info routes (`/user-home-dir`, `/work-dir`). Toolbox routes live under
 * `/toolbox/{sandboxId}`, the `toolboxProxyUrl` + id base the SDK builds (daytona-api.md §7).
 */
import type { App } from "../app.js"
import type { Handler, HttpMethod, RequestContext } from "../http.js"
import { HttpError, sendJson } from "../http.js"
import type { SandboxRecord } from "../state.js"

export const TB = "/toolbox/{sandboxId}"

/**
 * The sandbox a toolbox request addresses. Toolbox calls do not count against stuck states (only control-plane
 * requests do), but they need a running sandbox, as the proxy does, and they count as activity.
 */
export const toolboxSandbox = (app: App, ctx: Pick<RequestContext, "params">): SandboxRecord => {
  const id = ctx.params["sandboxId"]!
  const sb = app.store.findLive(id)
  if (!sb || sb.id !== id) throw new HttpError(404, `Sandbox ${id} not found`, "NOT_FOUND")
  if (sb.state !== "started") throw new HttpError(400, `Sandbox ${id} is not running (state: ${sb.state})`)
  // Toolbox interaction is activity: it resets the auto-stop timer, as the real proxy does.
  app.store.touchActivity(sb)
  return sb
}

export const infoRoutes = (app: App): ReadonlyArray<readonly [HttpMethod, string, Handler]> => [
  ["GET", `${TB}/user-home-dir`, (ctx) => sendJson(ctx.res, 200, { dir: toolboxSandbox(app, ctx).paths.homeDir })],
  ["GET", `${TB}/work-dir`, (ctx) => sendJson(ctx.res, 200, { dir: toolboxSandbox(app, ctx).paths.workDir })],
  ["GET", `${TB}/version`, (ctx) => {
    toolboxSandbox(app, ctx)
    sendJson(ctx.res, 200, { version: "emulator" })
  }]
]
