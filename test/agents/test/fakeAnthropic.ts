/**
 * A scripted Anthropic Messages API on loopback, streaming (SSE) as Claude Code expects. The conversation's tool
 * calls come from a script: each request of the main conversation (the one that offers tools) gets the next step
 * after as many tool results as it carries; a request without tools (titles, topic checks) gets a short text.
 */
import { createServer, type IncomingMessage, type Server } from "node:http"

/** One scripted reply: a tool call (name and input built from the session's working directory) or a final text. */
export type Step =
  | { readonly tool: string; readonly input: (cwd: string) => Record<string, unknown> }
  | { readonly text: string }
  /** Never answer (the agent waits mid-turn). */
  | { readonly hang: true }

export interface FakeModel {
  readonly url: string
  /** Every request body, in order. */
  readonly requests: Array<Record<string, unknown>>
  /** The `x-api-key` headers seen. */
  readonly keys: Array<string>
  readonly close: () => Promise<void>
}

const body = (req: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    let text = ""
    req.setEncoding("utf8")
    req.on("data", (c: string) => (text += c))
    req.on("end", () => resolve(text))
    req.on("error", reject)
  })

const sse = (events: ReadonlyArray<Record<string, unknown>>): string =>
  events.map((e) => `event: ${String(e["type"])}\ndata: ${JSON.stringify(e)}\n\n`).join("")

const toolResults = (messages: ReadonlyArray<{ role: string; content: unknown }>): number =>
  messages.filter((m) => m.role === "user" && Array.isArray(m.content))
    .flatMap((m) => m.content as Array<{ type?: string }>)
    .filter((c) => c.type === "tool_result").length

const textOf = (system: unknown): string =>
  typeof system === "string" ? system : Array.isArray(system) ? system.map((b) => b?.text ?? "").join("\n") : ""

export const startFakeAnthropic = async (script: ReadonlyArray<Step>): Promise<FakeModel> => {
  const requests: Array<Record<string, unknown>> = []
  const keys: Array<string> = []
  let ids = 0
  const server: Server = createServer((req, res) => {
    void body(req).then((raw) => {
      if (req.method !== "POST" || !req.url?.startsWith("/v1/messages")) {
        res.writeHead(404, { "content-type": "application/json" })
        res.end(JSON.stringify({ type: "error", error: { type: "not_found_error", message: "not found" } }))
        return
      }
      const request = JSON.parse(raw) as Record<string, unknown>
      requests.push(request)
      keys.push(String(req.headers["x-api-key"] ?? ""))
      if (req.url.startsWith("/v1/messages/count_tokens")) {
        res.writeHead(200, { "content-type": "application/json" })
        res.end(JSON.stringify({ input_tokens: 10 }))
        return
      }
      const tools = Array.isArray(request["tools"]) ? request["tools"] as Array<unknown> : []
      const messages = (request["messages"] ?? []) as Array<{ role: string; content: unknown }>
      const cwd = /Working directory: (\S+)/.exec(textOf(request["system"]))?.[1] ?? "/"
      const step: Step = tools.length === 0 ? { text: "ok" } : script[toolResults(messages)] ?? { text: "done" }
      if ("hang" in step) return
      const id = `msg_${++ids}`
      const model = String(request["model"] ?? "claude-test")
      const usage = { input_tokens: 10, output_tokens: 5, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 }
      const block = "tool" in step
        ? { type: "tool_use", id: `toolu_${ids}`, name: step.tool, input: step.input(cwd) }
        : { type: "text", text: step.text }
      const stop_reason = "tool" in step ? "tool_use" : "end_turn"
      if (request["stream"] !== true) {
        res.writeHead(200, { "content-type": "application/json" })
        res.end(JSON.stringify({
          id,
          type: "message",
          role: "assistant",
          model,
          content: [block],
          stop_reason,
          stop_sequence: null,
          usage
        }))
        return
      }
      const start = block.type === "tool_use" ? { ...block, input: {} } : { type: "text", text: "" }
      const delta = block.type === "tool_use"
        ? { type: "input_json_delta", partial_json: JSON.stringify((block as { input: unknown }).input) }
        : { type: "text_delta", text: (block as { text: string }).text }
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" })
      res.end(sse([
        {
          type: "message_start",
          message: {
            id,
            type: "message",
            role: "assistant",
            model,
            content: [],
            stop_reason: null,
            stop_sequence: null,
            usage
          }
        },
        { type: "content_block_start", index: 0, content_block: start },
        { type: "content_block_delta", index: 0, delta },
        { type: "content_block_stop", index: 0 },
        { type: "message_delta", delta: { stop_reason, stop_sequence: null }, usage: { output_tokens: 5 } },
        { type: "message_stop" }
      ]))
    }).catch(() => res.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const address = server.address()
  if (address === null || typeof address === "string") throw new Error("fake model: no port")
  return {
    url: `http://127.0.0.1:${address.port}`,
    requests,
    keys,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}
