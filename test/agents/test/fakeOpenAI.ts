/**
 * A scripted OpenAI Responses API on loopback (`POST /v1/responses`, streamed as server-sent events), as Codex
 * uses it. Each request gets the next step of the script after as many function call outputs as it carries.
 */
import { createServer, type IncomingMessage, type Server } from "node:http"

/** One scripted reply: a function call, a final text, or no answer at all (the agent waits mid-turn). */
export type Step =
  | { readonly call: string; readonly args: Record<string, unknown> }
  | { readonly text: string }
  | { readonly hang: true }

export interface FakeModel {
  readonly url: string
  readonly requests: Array<Record<string, unknown>>
  /** The bearer tokens seen. */
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

export const startFakeOpenAI = async (script: ReadonlyArray<Step>): Promise<FakeModel> => {
  const requests: Array<Record<string, unknown>> = []
  const keys: Array<string> = []
  let ids = 0
  const server: Server = createServer((req, res) => {
    void body(req).then((raw) => {
      if (req.method !== "POST" || !req.url?.startsWith("/v1/responses")) {
        res.writeHead(404, { "content-type": "application/json" })
        res.end(JSON.stringify({ error: { message: "not found", type: "invalid_request_error" } }))
        return
      }
      const request = JSON.parse(raw) as Record<string, unknown>
      requests.push(request)
      keys.push(String(req.headers["authorization"] ?? "").replace(/^Bearer /, ""))
      const input = (request["input"] ?? []) as Array<{ type?: string }>
      const step: Step = script[input.filter((i) => i.type === "function_call_output").length] ?? { text: "done" }
      if ("hang" in step) return
      const n = ++ids
      const item = "call" in step
        ? {
          type: "function_call",
          id: `fc_${n}`,
          call_id: `call_${n}`,
          name: step.call,
          arguments: JSON.stringify(step.args)
        }
        : {
          type: "message",
          id: `msg_${n}`,
          role: "assistant",
          status: "completed",
          content: [{ type: "output_text", text: step.text, annotations: [] }]
        }
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" })
      res.end(sse([
        { type: "response.created", response: { id: `resp_${n}` } },
        { type: "response.output_item.added", output_index: 0, item },
        { type: "response.output_item.done", output_index: 0, item },
        {
          type: "response.completed",
          response: {
            id: `resp_${n}`,
            usage: {
              input_tokens: 10,
              input_tokens_details: { cached_tokens: 0 },
              output_tokens: 5,
              output_tokens_details: { reasoning_tokens: 0 },
              total_tokens: 15
            }
          }
        }
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
