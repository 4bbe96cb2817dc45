#!/usr/bin/env node
/**
 * A scripted ACP agent for tests, built with the official SDK (agent side). It speaks ACP over stdio and does
 * what its prompt says, one step per line (or per `;`), every file and command going through the client:
 *
 *   say TEXT             an agent message
 *   read PATH            fs/read_text_file, then says what it read
 *   exists PATH          fs/read_text_file, deciding as Gemini CLI does: a resource-not-found error whose message
 *                        says "Resource not found" means a new file; anything else is an error (code and message)
 *   write PATH TEXT      asks permission (kind edit), then fs/write_text_file
 *   run COMMAND          terminal/create (a shell command), wait_for_exit, output, release
 *   ask TITLE            session/request_permission, then says the outcome
 *   twice TITLE          announces one tool call twice under the same id (as Claude Code does), then completes it
 *   fail TEXT            answers the prompt with JSON-RPC "Internal error" whose data carries TEXT (as Claude Code does)
 *   env NAME             says whether the agent process has NAME set, and a digest of its value (never the value)
 *   child                starts a child process of its own (sleep) and says both pids
 *   turns                says the session id and how many turns it has had (counting this one)
 *   garbage              writes a line that is not JSON to stdout, then goes on
 *   bad-response         answers the prompt with a malformed result and stops reading
 *   crash                exits with code 3 in the middle of the turn
 *   stderr TEXT          writes TEXT to stderr
 *   where                says the agent process's own working directory
 *   hang                 waits until the client cancels the turn (session/cancel), then ends it as cancelled
 *
 * Every message ends with a newline. A relative PATH is relative to the session's cwd. A failed client request is reported as a message
 * (`error: ...`), and the turn goes on. Each step is announced as a tool call with its input and result.
 */
import * as acp from "@agentclientprotocol/sdk"
import { spawn } from "node:child_process"
import { createHash } from "node:crypto"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Readable, Writable } from "node:stream"

const sessions = new Map()
const loadKept = (cwd) => {
  try {
    return JSON.parse(readFileSync(join(cwd, ".acp-test-sessions.json"), "utf8"))
  } catch {
    return {}
  }
}
const authRequired = process.env["ACP_TEST_AUTH"] === "required"
let authenticated = false
let counter = 0

const text = (client, sessionId, message) =>
  client.notify(acp.methods.client.session.update, {
    sessionId,
    update: { sessionUpdate: "agent_message_chunk", content: { type: "text", text: `${message}\n` } }
  })

const toolCall = (client, sessionId, update) => client.notify(acp.methods.client.session.update, { sessionId, update })

const absolute = (cwd, p) => (p.startsWith("/") ? p : `${cwd.replace(/\/$/, "")}/${p}`)

const errorText = (error) => (error && typeof error === "object" && "message" in error ? error.message : String(error))

/** Announce a tool call, run it, and report its result or failure. */
const tool = async (client, sessionId, kind, title, rawInput, run) => {
  const toolCallId = `call-${++counter}`
  await toolCall(client, sessionId, {
    sessionUpdate: "tool_call",
    toolCallId,
    title,
    kind,
    status: "in_progress",
    rawInput
  })
  try {
    const rawOutput = await run()
    await toolCall(client, sessionId, { sessionUpdate: "tool_call_update", toolCallId, status: "completed", rawOutput })
    return rawOutput
  } catch (error) {
    await toolCall(client, sessionId, {
      sessionUpdate: "tool_call_update",
      toolCallId,
      status: "failed",
      rawOutput: { error: errorText(error) }
    })
    await text(client, sessionId, `error: ${errorText(error)}`)
    return undefined
  }
}

const permission = (client, sessionId, title, kind) =>
  client.request(acp.methods.client.session.requestPermission, {
    sessionId,
    toolCall: { toolCallId: `perm-${++counter}`, title, kind, status: "pending" },
    options: [
      { optionId: "allow", name: "Allow once", kind: "allow_once" },
      { optionId: "reject", name: "Reject", kind: "reject_once" }
    ]
  })

const step = async (client, session, sessionId, line, requestId) => {
  const [verb, ...rest] = line.split(/\s+/)
  const arg = rest.join(" ")
  switch (verb) {
    case "say":
      return text(client, sessionId, arg)
    case "read": {
      const path = absolute(session.cwd, rest[0] ?? "")
      const result = await tool(
        client,
        sessionId,
        "read",
        `Read ${rest[0]}`,
        { path },
        () => client.request(acp.methods.client.fs.readTextFile, { sessionId, path })
      )
      if (result) await text(client, sessionId, `read ${rest[0]}: ${result.content}`)
      return
    }
    case "exists": {
      const path = absolute(session.cwd, rest[0] ?? "")
      try {
        await client.request(acp.methods.client.fs.readTextFile, { sessionId, path })
        return text(client, sessionId, `${rest[0]}: exists`)
      } catch (error) {
        const code = error && typeof error === "object" && "code" in error ? error.code : null
        const message = errorText(error)
        if (code === -32002 && /Resource not found/.test(message)) {
          return text(client, sessionId, `${rest[0]}: new file`)
        }
        return text(client, sessionId, `${rest[0]}: error ${code}: ${message}`)
      }
    }
    case "write": {
      const path = absolute(session.cwd, rest[0] ?? "")
      const content = rest.slice(1).join(" ")
      const decision = await permission(client, sessionId, `Write ${rest[0]}`, "edit")
      if (decision.outcome.outcome !== "selected" || decision.outcome.optionId !== "allow") {
        return text(client, sessionId, `write ${rest[0]} not permitted`)
      }
      await tool(
        client,
        sessionId,
        "edit",
        `Write ${rest[0]}`,
        { path, content },
        () =>
          client.request(acp.methods.client.fs.writeTextFile, { sessionId, path, content }).then(() => ({ ok: true }))
      )
      return
    }
    case "run": {
      const result = await tool(client, sessionId, "execute", `Run ${arg}`, { command: arg }, async () => {
        const terminal = await client.createTerminal({ sessionId, command: arg, cwd: session.cwd })
        try {
          const exit = await terminal.waitForExit()
          const output = await terminal.currentOutput()
          return { exitCode: exit.exitCode ?? null, output: output.output }
        } finally {
          await terminal.release()
        }
      })
      if (result) await text(client, sessionId, `ran ${arg}: exit ${result.exitCode}: ${result.output.trim()}`)
      return
    }
    case "ask": {
      const decision = await permission(client, sessionId, arg, "other")
      const outcome = decision.outcome.outcome === "selected" ? decision.outcome.optionId : decision.outcome.outcome
      return text(client, sessionId, `permission ${arg}: ${outcome}`)
    }
    case "twice": {
      const toolCallId = `call-${++counter}`
      await toolCall(client, sessionId, {
        sessionUpdate: "tool_call",
        toolCallId,
        title: arg,
        kind: "read",
        rawInput: {}
      })
      await toolCall(client, sessionId, {
        sessionUpdate: "tool_call",
        toolCallId,
        title: arg,
        kind: "read",
        status: "in_progress",
        rawInput: { pattern: arg }
      })
      return toolCall(client, sessionId, { sessionUpdate: "tool_call_update", toolCallId, status: "completed" })
    }
    case "fail":
      throw acp.RequestError.internalError({ details: arg })
    case "env": {
      const value = process.env[arg]
      if (value === undefined) return text(client, sessionId, `env ${arg}: unset`)
      const digest = createHash("sha256").update(value).digest("hex").slice(0, 12)
      return text(client, sessionId, `env ${arg}: set, sha256 ${digest}`)
    }
    case "child": {
      const child = spawn("sleep", ["600"], { stdio: "ignore" })
      return text(client, sessionId, `agent pid ${process.pid} child pid ${child.pid}`)
    }
    case "turns":
      return text(client, sessionId, `session ${sessionId} turn ${session.turns}`)
    case "garbage":
      process.stdout.write("this is not json {\n")
      return
    case "bad-response":
      process.stdout.write(
        `${JSON.stringify({ jsonrpc: "2.0", id: requestId, result: { stopReason: 42 } })}\n`
      )
      return new Promise(() => {})
    case "crash":
      process.stderr.write("acp-test-agent: crashing on purpose\n")
      process.exit(3)
      return
    case "hang":
      await new Promise((resolve) => {
        session.cancel = resolve
      })
      return "cancelled"
    case "where":
      return text(client, sessionId, `agent cwd: ${process.cwd()}`)
    case "stderr":
      process.stderr.write(`${arg}\n`)
      return
    default:
      return text(client, sessionId, `unknown step: ${line}`)
  }
}

const app = acp
  .agent({ name: "acp-test-agent" })
  .onRequest(acp.methods.agent.initialize, () => ({
    protocolVersion: acp.PROTOCOL_VERSION,
    // ACP_TEST_LOAD=1: sessions are kept in a file in their cwd and can be loaded by a later agent process.
    agentCapabilities: { loadSession: process.env["ACP_TEST_LOAD"] === "1" },
    agentInfo: { name: "acp-test-agent", version: "0.0.0" },
    // ACP_TEST_AUTH=required: session/new needs `authenticate` first (an agent-handled method after a terminal one).
    ...(authRequired
      ? {
        authMethods: [
          { id: "login-tui", name: "Log in", type: "terminal", args: ["--login"] },
          { id: "api-key", name: "API key from the environment" }
        ]
      }
      : {})
  }))
  .onRequest(acp.methods.agent.authenticate, ({ params }) => {
    if (params.methodId !== "api-key") throw acp.RequestError.invalidParams({ methodId: params.methodId })
    authenticated = true
    return {}
  })
  .onRequest(acp.methods.agent.session.load, ({ params }) => {
    const kept = loadKept(params.cwd)[params.sessionId]
    if (kept === undefined) throw acp.RequestError.resourceNotFound(params.sessionId)
    sessions.set(params.sessionId, { cwd: params.cwd, turns: kept.turns })
    return {}
  })
  .onRequest(acp.methods.agent.session.new, ({ params }) => {
    if (authRequired && !authenticated) throw acp.RequestError.authRequired()
    const sessionId = `test-session-${process.pid}-${sessions.size + 1}`
    sessions.set(sessionId, { cwd: params.cwd, turns: 0 })
    return { sessionId }
  })
  .onRequest(acp.methods.agent.session.prompt, async ({ params, client, requestId }) => {
    const session = sessions.get(params.sessionId)
    if (!session) throw acp.RequestError.sessionNotFound(params.sessionId)
    session.turns = (session.turns ?? 0) + 1
    if (process.env["ACP_TEST_LOAD"] === "1") {
      writeFileSync(
        join(session.cwd, ".acp-test-sessions.json"),
        JSON.stringify({ ...loadKept(session.cwd), [params.sessionId]: { turns: session.turns } })
      )
    }
    const script = params.prompt.filter((block) => block.type === "text").map((block) => block.text).join("\n")
    for (const line of script.split(/[\n;]/).map((l) => l.trim()).filter((l) => l.length > 0)) {
      if ((await step(client, session, params.sessionId, line, requestId)) === "cancelled") {
        return { stopReason: "cancelled" }
      }
    }
    return { stopReason: "end_turn" }
  })
  .onNotification(acp.methods.agent.session.cancel, ({ params }) => {
    sessions.get(params.sessionId)?.cancel?.()
  })

const connection = app.connect(acp.ndJsonStream(Writable.toWeb(process.stdout), Readable.toWeb(process.stdin)))
await connection.closed
