/**
 * `startEmulator`: one loopback HTTP server serving the control plane under `/api`, the toolbox under
 * `/toolbox/{sandboxId}`, Socket.IO at `/api/socket.io/`, session-log WebSockets and the preview proxy, with
 * bearer auth, seeded fault injection and request counters in front of every route.
 */
import { promises as fsp } from "node:fs"
import { createServer } from "node:http"
import type { IncomingMessage, ServerResponse } from "node:http"
import type { Socket } from "node:net"
import { tmpdir } from "node:os"
import * as nodePath from "node:path"
import { Transform } from "node:stream"
import { WebSocketServer } from "ws"
import type { App } from "./app.js"
import { attachEvents } from "./events.js"
import { FaultInjector, retryAfterHeaders } from "./faults.js"
import type { RequestContext, RouteKind } from "./http.js"
import { countResponseBytes, HttpError, rejectUpgrade, Router, sendError } from "./http.js"
import { handlePreview } from "./preview.js"
import { containment, ProcessRegistry } from "./processes.js"
import { AccessTokens } from "./routes/access.js"
import { ADMIN_PREFIX, adminRoutes } from "./routes/admin.js"
import { apiRoutes, toolboxRoutes } from "./routes/index.js"
import { followLogs, LOGS_TEMPLATE } from "./routes/sessions.js"
import { toolboxSandbox } from "./routes/toolbox.js"
import { SessionManager } from "./sessions.js"
import { SnapshotStore } from "./snapshots.js"
import { SandboxStore } from "./state.js"
import { StatsCounter } from "./stats.js"
import type { Emulator, EmulatorOptions, SandboxState } from "./types.js"
import { VolumeStore } from "./volumes.js"

/** States whose sandbox has no running processes; entering one kills them and forgets the sessions. */
const HALTED: ReadonlySet<SandboxState> = new Set<SandboxState>(["stopped", "archived", "destroying", "destroyed"])

/** JSON bodies larger than this are not parsed for `onRequest`. */
const JSON_RECORD_LIMIT = 1024 * 1024

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Starts the emulator on 127.0.0.1 and resolves once it listens.
 *
 * @since 0.0.0
 * @category constructors
 */
export const startEmulator = async (options: EmulatorOptions): Promise<Emulator> => {
  if (!options.apiKey) throw new Error("startEmulator: apiKey is required")
  const apiKey = options.apiKey
  const ownsRoot = options.root === undefined
  const root = options.root !== undefined
    ? nodePath.resolve(options.root)
    : await fsp.mkdtemp(nodePath.join(tmpdir(), "daytona-emulator-"))
  await fsp.mkdir(root, { recursive: true })
  const organizationId = options.organizationId ?? "emulator-org"
  let origin = ""

  const stats = new StatsCounter()
  const faults = new FaultInjector(options.seed ?? 1, options.faults ?? [], options.randomFailures)
  const store = new SandboxStore({
    root,
    organizationId,
    toolboxUrl: () => `${origin}/toolbox`,
    createState: options.createState ?? "started",
    refuseDeleteWhileStarting: options.refuseDeleteWhileStarting ?? true,
    stuckRules: options.stuck ?? [],
    deleteLinger: options.deleteLinger
  })
  const contained = options.isolateProcesses === false ? "none" : containment()
  const isolatedProcesses = contained !== "none"
  const processes = new ProcessRegistry(contained, options.shell ?? "sh")
  const minuteMs = options.autoStopMinuteMs ?? 60_000
  const autoStopTimer = setInterval(() => store.autoStop(Date.now(), minuteMs), Math.min(1000, minuteMs / 10))
  autoStopTimer.unref()
  const router = new Router()
  const app: App = {
    store,
    snapshots: new SnapshotStore(organizationId),
    volumes: new VolumeStore(organizationId),
    processes,
    sessions: new SessionManager(processes),
    router,
    origin: () => origin,
    executeDefaultTimeoutSeconds: options.executeDefaultTimeoutSeconds ?? 0
  }
  const tokens = new AccessTokens()
  const add = (
    kind: RouteKind,
    defs: ReadonlyArray<readonly [RequestContext["method"], string, RequestContext["route"]["handler"]]>
  ) => {
    for (const [method, template, handler] of defs) router.add({ method, template, kind, handler })
  }
  add("api", apiRoutes(app, tokens))
  add("toolbox", toolboxRoutes(app))

  const adminRouter = new Router()
  // Admin handlers run only once the server listens, by which time `emulator` (below) exists.
  for (const [method, template, handler] of adminRoutes(() => emulator)) {
    adminRouter.add({ method, template, kind: "api", handler })
  }

  /** Admin requests: bearer auth like the rest, but never counted and never faulted. */
  const handleAdmin = async (req: IncomingMessage, res: ServerResponse, method: string, url: URL): Promise<void> => {
    if (req.headers.authorization !== `Bearer ${apiKey}`) {
      sendError({ req, res }, "api", new HttpError(401, "Unauthorized"))
      req.resume()
      return
    }
    const match = adminRouter.match(method, url.pathname)
    if (!match) {
      sendError({ req, res }, "api", new HttpError(404, `Cannot ${method} ${url.pathname}`))
      req.resume()
      return
    }
    const ctx: RequestContext = {
      req,
      res,
      method: method as RequestContext["method"],
      path: url.pathname,
      query: url.searchParams,
      params: match.params,
      body: req,
      route: match.route
    }
    try {
      await match.route.handler(ctx)
    } catch (e) {
      sendError(ctx, "api", e instanceof HttpError ? e : new HttpError(500, e instanceof Error ? e.message : String(e)))
    } finally {
      if (!req.readableEnded) req.resume()
    }
  }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const method = (req.method ?? "GET").toUpperCase()
    const url = new URL(req.url ?? "/", "http://127.0.0.1")
    const path = url.pathname
    if (path.startsWith(ADMIN_PREFIX)) return handleAdmin(req, res, method, url)
    if (path.startsWith("/preview/")) {
      const previewKey = "ANY /preview/*"
      countResponseBytes(res, (n) => stats.out(n, previewKey))
      res.once("finish", () => stats.status(res.statusCode, previewKey))
      stats.request(previewKey)
      handlePreview(app, tokens, req, res)
      return
    }
    const kind: RouteKind = path.startsWith("/toolbox/") ? "toolbox" : "api"
    const match = router.match(method, path)
    const templateKey = match ? `${method} ${match.route.template}` : `${method} (unmatched)`
    countResponseBytes(res, (n) => stats.out(n, templateKey))
    res.once("finish", () => stats.status(res.statusCode, templateKey))
    stats.request(templateKey)

    const fault = faults.decide(`${method} ${path}`, templateKey)
    let dropReply = false
    if (fault) {
      stats.fault(templateKey)
      switch (fault.kind) {
        case "drop":
          // No reply at all: the client sees a reset connection.
          req.socket.destroy()
          return
        case "drop-after":
          // The handler acts; its reply never leaves (below).
          dropReply = true
          break
        case "502":
          req.resume()
          sendError({ req, res }, kind, new HttpError(502, "Bad Gateway: failed to reach the sandbox daemon"))
          return
        case "slow":
          await delay(fault.delayMs)
          break
        case "429":
          req.resume()
          sendError(
            { req, res },
            kind,
            new HttpError(429, "ThrottlerException: Too Many Requests", undefined, retryAfterHeaders(fault))
          )
          return
        case "500":
          req.resume()
          sendError({ req, res }, kind, new HttpError(500, "Internal server error"))
          return
        case "503":
          req.resume()
          sendError(
            { req, res },
            kind,
            new HttpError(503, "Service Unavailable", undefined, retryAfterHeaders(fault))
          )
          return
      }
    }

    if (req.headers.authorization !== `Bearer ${apiKey}`) {
      // The gateway answers auth failures NestJS-style for both planes.
      sendError({ req, res }, "api", new HttpError(401, "Unauthorized"))
      req.resume()
      return
    }
    if (!match) {
      const message = router.knowsPath(path)
        ? `Cannot ${method} ${path}: method not allowed`
        : `Cannot ${method} ${path}`
      sendError({ req, res }, kind, new HttpError(404, message))
      req.resume()
      return
    }

    if (dropReply) {
      // Whatever the handler answers, the connection is reset instead, once it has acted.
      const cut = () => {
        req.socket.destroy()
        return res
      }
      ;(res as unknown as { writeHead: () => ServerResponse }).writeHead = cut
      ;(res as unknown as { write: () => boolean }).write = () => (cut(), false)
      ;(res as unknown as { end: () => ServerResponse }).end = cut
    }

    const onRequest = options.onRequest
    const contentType = req.headers["content-type"]
    const keep = onRequest !== undefined && (contentType ?? "").includes("json")
    const kept: Array<Buffer> = []
    let keptBytes = 0
    const body = req.pipe(
      new Transform({
        transform(chunk: Buffer, _enc, cb) {
          stats.in(chunk.length, templateKey)
          if (keep && keptBytes < JSON_RECORD_LIMIT) {
            kept.push(chunk)
            keptBytes += chunk.length
          }
          cb(null, chunk)
        }
      })
    )
    if (onRequest) {
      res.once("finish", () => {
        let parsed: unknown = undefined
        if (keep && keptBytes > 0 && keptBytes < JSON_RECORD_LIMIT) {
          try {
            parsed = JSON.parse(Buffer.concat(kept).toString("utf8"))
          } catch {
            parsed = undefined
          }
        }
        onRequest({
          method,
          path,
          route: templateKey,
          query: url.search,
          status: res.statusCode,
          contentType,
          ...(parsed !== undefined ? { body: parsed } : {})
        })
      })
    }
    const ctx: RequestContext = {
      req,
      res,
      method: method as RequestContext["method"],
      path,
      query: url.searchParams,
      params: match.params,
      body,
      route: match.route
    }
    try {
      await match.route.handler(ctx)
    } catch (e) {
      const err = e instanceof HttpError ? e : new HttpError(500, e instanceof Error ? e.message : String(e))
      if (res.headersSent) res.destroy()
      else sendError(ctx, match.route.kind, err)
    } finally {
      // An unread body would stall a kept-alive connection; drain whatever the handler left.
      if (!body.readableEnded) body.resume()
    }
  }

  const server = createServer((req, res) => {
    void handle(req, res).catch(() => res.destroy())
  })
  // Socket.IO handshakes go through the fault rules as `GET /api/socket.io/`: any kind that fires refuses it.
  const events = attachEvents(server, apiKey, organizationId, stats, () => {
    const fault = faults.decide("GET /api/socket.io/", "GET /api/socket.io/", false)
    if (fault) stats.fault("GET /api/socket.io/")
    return fault !== undefined
  })
  store.onTransition((sb, oldState, newState) => {
    if (HALTED.has(newState)) {
      app.sessions.clearSandbox(sb.id)
      processes.killSandbox(sb.id)
    }
    if (newState === "destroyed") {
      void fsp.rm(sb.dir, { recursive: true, force: true, maxRetries: 3 }).catch(() => undefined)
    }
    events.emit("sandbox.state.updated", { sandbox: store.dto(sb), oldState, newState })
  })

  const wss = new WebSocketServer({ noServer: true })
  server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1")
    if (url.pathname.startsWith("/api/socket.io/")) return // Socket.IO's own listener takes it
    const match = router.match("GET", url.pathname)
    if (!match || match.route.template !== LOGS_TEMPLATE || url.searchParams.get("follow") !== "true") {
      rejectUpgrade(socket, 404, "Not Found")
      return
    }
    stats.request(`GET ${LOGS_TEMPLATE}`)
    stats.webSocket()
    // Log WebSockets go through the fault rules like any request; a fault refuses the upgrade.
    const fault = faults.decide(`GET ${url.pathname}`, `GET ${LOGS_TEMPLATE}`, false)
    if (fault) {
      stats.fault(`GET ${LOGS_TEMPLATE}`)
      if (fault.kind === "drop" || fault.kind === "drop-after") socket.destroy()
      else rejectUpgrade(socket, fault.kind === "slow" ? 504 : Number(fault.kind), "Fault")
      return
    }
    const sandbox = store.findLive(match.params["sandboxId"] ?? "")
    // Node sends the API key as a header; Deno and browsers send the preview token in the query (§7).
    const authorized = req.headers.authorization === `Bearer ${apiKey}` ||
      (sandbox !== undefined && url.searchParams.get("DAYTONA_SANDBOX_AUTH_KEY") === sandbox.authToken)
    if (!authorized) {
      rejectUpgrade(socket, 401, "Unauthorized")
      return
    }
    let cmd
    try {
      const sb = toolboxSandbox(app, match)
      cmd = app.sessions.command(sb, match.params["sessionId"]!, match.params["commandId"]!)
    } catch (e) {
      const status = e instanceof HttpError ? e.status : 500
      rejectUpgrade(socket, status, status === 404 ? "Not Found" : "Bad Request")
      return
    }
    const found = cmd
    wss.handleUpgrade(req, socket, head, (ws) => followLogs(ws, found))
  })

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(options.port ?? 0, "127.0.0.1", () => {
      server.off("error", reject)
      resolve()
    })
  })
  const address = server.address()
  if (address === null || typeof address === "string") throw new Error("emulator: unexpected server address")
  const port = address.port
  origin = `http://127.0.0.1:${port}`

  let closing: Promise<void> | undefined
  const emulator: Emulator = {
    url: `${origin}/api`,
    toolboxUrl: `${origin}/toolbox`,
    port,
    root,
    isolatedProcesses,
    sandboxUser: contained === "user",
    shell: processes.shell,
    stats: () => stats.snapshot(),
    resetStats: () => stats.reset(),
    setFaults: (rules) => faults.set(rules),
    setRandomFailures: (random) => faults.setRandom(random),
    reseed: (seed) => faults.reseed(seed),
    faults: () => ({ seed: faults.seed, rules: faults.currentRules(), randomFailures: faults.currentRandom() }),
    stick: (idOrName, state, requests) => store.stick(idOrName, state, requests),
    unstick: (idOrName) => store.unstick(idOrName),
    routes: () => router.routes().map((r) => ({ method: r.method, template: r.template })),
    sandboxes: () =>
      store.all().map((sb) => ({
        id: sb.id,
        name: sb.name,
        state: sb.state,
        desiredState: sb.desiredState,
        labels: { ...sb.labels },
        dir: sb.paths.root,
        homeDir: nodePath.join(sb.paths.root, ...sb.paths.homeDir.split("/").filter((s) => s !== ""))
      })),
    close: () => {
      closing ??= (async () => {
        clearInterval(autoStopTimer)
        store.close()
        processes.killAll()
        events.close()
        for (const client of wss.clients) client.terminate()
        wss.close()
        await new Promise<void>((resolve) => {
          server.close(() => resolve())
          server.closeAllConnections()
        })
        if (ownsRoot) await fsp.rm(root, { recursive: true, force: true, maxRetries: 3 }).catch(() => undefined)
      })()
      return closing
    }
  }
  return emulator
}
