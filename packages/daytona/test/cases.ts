/**
 * Cases for the capabilities Daytona declares that the core suite has no case for: preview URLs and SSH.
 * Same shape as the core cases, so they run in the same suite.
 */
import type { ConformanceCase } from "@org/sandbox-core/testing"
import { ConformanceFailure } from "@org/sandbox-core/testing"
import { Effect, Schedule } from "effect"
import { createServer } from "node:net"
import type { DaytonaService } from "../src/DaytonaProvider.js"

const fail = (message: string) => new ConformanceFailure({ message })

const freePort = Effect.async<number>((resume) => {
  const server = createServer()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

export const daytonaCases: ReadonlyArray<ConformanceCase> = [
  {
    name: "previewUrl reaches a server listening in the sandbox, without further credentials",
    capability: "preview_urls",
    run: (ctx) =>
      Effect.gen(function*() {
        const instance = yield* ctx.sandbox()
        const port = yield* freePort
        const server =
          `require("http").createServer((q, s) => s.end("hello from " + q.url)).listen(${port}, "127.0.0.1")`
        // The server outlives the exec: a process in the sandbox, ended with the sandbox.
        const started = yield* ctx.provider.exec(instance, {
          shell: `nohup node -e '${server}' > server.log 2>&1 &`
        })
        if (started.exit_code !== 0) return yield* fail(`starting the server exited ${started.exit_code}`)
        const url = yield* ctx.provider.previewUrl!(instance, port)
        const body = yield* Effect.tryPromise(async () => {
          const res = await fetch(`${url.replace(/\/$/, "")}/ping`)
          if (!res.ok) throw new Error(`HTTP ${res.status}`)
          return res.text()
        }).pipe(Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.intersect(Schedule.recurs(50)))))
        if (body !== "hello from /ping") return yield* fail(`preview answered ${JSON.stringify(body)}`)
        const bad = yield* Effect.either(ctx.provider.previewUrl!(instance, 0))
        if (bad._tag !== "Left" || bad.left.reason !== "InvalidState") return yield* fail("port 0 was accepted")
      })
  },
  {
    name: "sshAccess returns a command line, a token and an expiry",
    capability: "ssh",
    run: (ctx) =>
      Effect.gen(function*() {
        const instance = yield* ctx.sandbox()
        const access = yield* (ctx.provider as DaytonaService).sshAccess(instance, { expires: "30 minutes" })
        if (!access.command.startsWith("ssh ") || !access.command.includes(access.token)) {
          return yield* fail(`unexpected ssh command ${JSON.stringify(access.command)}`)
        }
        const expires = Date.parse(access.expires_at)
        if (Number.isNaN(expires) || expires <= Date.now()) return yield* fail(`expiry ${access.expires_at}`)
      })
  }
]
