/**
 * Session routes (daytona-api.md §8, §10; §16 items 15–16): sessions, sync and async exec, command status, logs as
 * JSON and as a followed WebSocket of marker-prefixed binary frames.
 */
import type { WebSocket } from "ws"
import type { App } from "../app.js"
import type { Handler, HttpMethod } from "../http.js"
import { HttpError, isObject, optBoolean, optString, readJsonObject, sendEmpty, sendJson } from "../http.js"
import type { CommandRecord, LogEvent } from "../sessions.js"
import { rawLog, STDERR_MARKER, STDOUT_MARKER, streamText } from "../sessions.js"
import { TB, toolboxSandbox } from "./toolbox.js"

const S = `${TB}/process/session`
export const LOGS_TEMPLATE = `${S}/{sessionId}/command/{commandId}/logs`

const commandDto = (cmd: CommandRecord): Record<string, unknown> => ({
  id: cmd.id,
  command: cmd.command,
  ...(cmd.exitCode !== undefined ? { exitCode: cmd.exitCode } : {})
})

const logsDto = (cmd: CommandRecord): Record<string, string> => ({
  output: rawLog(cmd).toString("utf8"),
  stdout: streamText(cmd, 1),
  stderr: streamText(cmd, 2)
})

/**
 * Streams a command's log over a WebSocket: everything so far, then new chunks as they come, each frame prefixed
 * by its stream marker; a normal close (1000) once the command has exited and drained, which is what resolves the
 * SDK's promise.
 */
export const followLogs = (ws: WebSocket, cmd: CommandRecord): void => {
  const send = (event: LogEvent): void => {
    if (event === "end") {
      ws.close(1000)
      return
    }
    ws.send(Buffer.concat([event.stream === 1 ? STDOUT_MARKER : STDERR_MARKER, event.data]), { binary: true })
  }
  for (const chunk of cmd.chunks) send(chunk)
  if (cmd.done) {
    send("end")
    return
  }
  cmd.listeners.add(send)
  ws.once("close", () => cmd.listeners.delete(send))
}

export const sessionRoutes = (app: App): ReadonlyArray<readonly [HttpMethod, string, Handler]> => [
  ["POST", S, async (ctx) => {
    const sb = toolboxSandbox(app, ctx)
    const sessionId = optString(await readJsonObject(ctx), "sessionId")
    if (sessionId === undefined) throw new HttpError(400, "sessionId is required", "INVALID_REQUEST_BODY")
    app.sessions.create(sb, sessionId)
    sendEmpty(ctx.res, 201)
  }],
  ["GET", S, (ctx) => {
    const sb = toolboxSandbox(app, ctx)
    sendJson(
      ctx.res,
      200,
      app.sessions.list(sb).map((s) => ({ sessionId: s.id, commands: [...s.commands.values()].map(commandDto) }))
    )
  }],
  // The sandbox entrypoint: the emulator runs none, so it is an empty session.
  ["GET", `${S}/entrypoint`, (ctx) => {
    toolboxSandbox(app, ctx)
    sendJson(ctx.res, 200, { sessionId: "entrypoint", commands: [] })
  }],
  ["GET", `${S}/entrypoint/logs`, (ctx) => {
    toolboxSandbox(app, ctx)
    sendJson(ctx.res, 200, { output: "", stdout: "", stderr: "" })
  }],
  ["GET", `${S}/{sessionId}`, (ctx) => {
    const s = app.sessions.get(toolboxSandbox(app, ctx), ctx.params["sessionId"]!)
    sendJson(ctx.res, 200, { sessionId: s.id, commands: [...s.commands.values()].map(commandDto) })
  }],
  ["DELETE", `${S}/{sessionId}`, (ctx) => {
    app.sessions.delete(toolboxSandbox(app, ctx), ctx.params["sessionId"]!)
    sendEmpty(ctx.res, 204)
  }],
  ["POST", `${S}/{sessionId}/exec`, async (ctx) => {
    const sb = toolboxSandbox(app, ctx)
    const body = await readJsonObject(ctx)
    const command = optString(body, "command") ?? ""
    const runAsync = (optBoolean(body, "runAsync") ?? false) || (optBoolean(body, "async") ?? false)
    const cmd = app.sessions.exec(sb, ctx.params["sessionId"]!, command, optBoolean(body, "suppressInputEcho") ?? false)
    if (runAsync) {
      sendJson(ctx.res, 202, { cmdId: cmd.id })
      return
    }
    await cmd.finished
    sendJson(ctx.res, 200, { cmdId: cmd.id, exitCode: cmd.exitCode, ...logsDto(cmd) })
  }],
  ["GET", `${S}/{sessionId}/command/{commandId}`, (ctx) => {
    const cmd = app.sessions.command(toolboxSandbox(app, ctx), ctx.params["sessionId"]!, ctx.params["commandId"]!)
    sendJson(ctx.res, 200, commandDto(cmd))
  }],
  ["GET", LOGS_TEMPLATE, (ctx) => {
    const cmd = app.sessions.command(toolboxSandbox(app, ctx), ctx.params["sessionId"]!, ctx.params["commandId"]!)
    sendJson(ctx.res, 200, logsDto(cmd))
  }],
  ["POST", `${S}/{sessionId}/command/{commandId}/input`, async (ctx) => {
    const cmd = app.sessions.command(toolboxSandbox(app, ctx), ctx.params["sessionId"]!, ctx.params["commandId"]!)
    const body = await readJsonObject(ctx)
    const data = isObject(body) ? optString(body, "data") : undefined
    if (data === undefined) throw new HttpError(400, "data is required", "INVALID_REQUEST_BODY")
    app.sessions.input(cmd, data)
    sendEmpty(ctx.res, 204)
  }]
]
