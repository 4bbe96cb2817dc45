import {
  DaytonaAuthenticationError,
  DaytonaConflictError,
  DaytonaConnectionError,
  DaytonaConnectionTimeoutError,
  DaytonaError,
  DaytonaFileNotFoundError,
  DaytonaInternalServerError,
  DaytonaNotFoundError,
  DaytonaProcessExecutionTimeoutError,
  DaytonaRateLimitError,
  DaytonaServiceUnavailableError,
  DaytonaTimeoutError,
  DaytonaValidationError
} from "@daytonaio/sdk"
import * as Sdk from "@daytonaio/sdk"
import { describe, expect, it } from "@effect/vitest"
import { ProviderError } from "@org/sandbox-core/SandboxError"
import { fromSdk, retryAfterMs } from "../src/internal/errors.js"

const map = (e: unknown) => fromSdk("op", "sb-1")(e)

describe("SDK errors become ProviderError", () => {
  const cases: ReadonlyArray<readonly [string, unknown, ProviderError["reason"], boolean]> = [
    ["404", new DaytonaNotFoundError("Sandbox with ID or name x not found", 404), "NotFound", false],
    ["404 from the daemon", new DaytonaFileNotFoundError("file not found: /x", 404), "NotFound", false],
    ["401", new DaytonaAuthenticationError("Unauthorized", 401), "Unauthorized", false],
    [
      "401 before any request",
      new DaytonaAuthenticationError("Authentication credentials not found"),
      "Unauthorized",
      false
    ],
    ["409", new DaytonaConflictError("Sandbox state change in progress", 409), "Conflict", false],
    ["429", new DaytonaRateLimitError("ThrottlerException: Too Many Requests", 429), "RateLimited", true],
    ["500", new DaytonaInternalServerError("Internal server error", 500), "Unavailable", true],
    ["503", new DaytonaServiceUnavailableError("Service Unavailable", 503), "Unavailable", true],
    ["504", new DaytonaTimeoutError("Gateway Timeout", 504), "Timeout", true],
    ["408 exec timeout", new DaytonaProcessExecutionTimeoutError("command execution timeout", 408), "Timeout", true],
    ["400", new DaytonaValidationError("Sandbox is not in valid state", 400), "InvalidState", false],
    ["400 quota", new DaytonaValidationError("Total CPU quota exceeded", 400), "QuotaExceeded", false],
    ["connection refused", new DaytonaConnectionError("connect ECONNREFUSED 127.0.0.1:1"), "Unavailable", true],
    ["client deadline", new DaytonaConnectionTimeoutError("timeout of 1000ms exceeded"), "Timeout", true],
    [
      "wait timed out",
      new DaytonaTimeoutError("Sandbox failed to become ready within the timeout period"),
      "Timeout",
      true
    ],
    [
      "a wait that saw the sandbox fail",
      new DaytonaError("Sandbox x failed to start with status: error, error reason: boom"),
      "InvalidState",
      false
    ],
    ["anything else", new TypeError("x is not a function"), "Unknown", false],
    ["not even an error", "boom", "Unknown", false]
  ]
  for (const [name, error, reason, retryable] of cases) {
    it(`${name} → ${reason}`, () => {
      const mapped = map(error)
      expect(mapped).toBeInstanceOf(ProviderError)
      expect(mapped.reason).toBe(reason)
      expect(mapped.retryable).toBe(retryable)
      expect(mapped.provider).toBe("daytona")
      expect(mapped.operation).toBe("op")
      expect(mapped.instance_id).toBe("sb-1")
    })
  }

  it("429 carries Retry-After (seconds or an HTTP date) as retry_after_ms", () => {
    const seconds = map(new DaytonaRateLimitError("slow down", 429, { "retry-after": "7" } as never))
    expect(seconds.retry_after_ms).toBe(7000)
    const now = Date.parse("2026-01-01T00:00:00Z")
    expect(retryAfterMs({ "retry-after": "Thu, 01 Jan 2026 00:00:03 GMT" }, now)).toBe(3000)
    expect(retryAfterMs({ get: (k: string) => (k === "retry-after" ? "2" : undefined) })).toBe(2000)
    expect(map(new DaytonaRateLimitError("slow down", 429)).retry_after_ms).toBeUndefined()
  })

  it("a dropped or refused connection is Unavailable even when a minifier renamed the SDK's classes", () => {
    // A bundled CLI minifies the SDK: its errors' `name` (taken from the class) is then a short mangled word.
    const mangled = (e: Error) => Object.assign(e, { name: "e" })
    const dropped = mangled(new DaytonaConnectionError("socket hang up"))
    expect(fromSdk("op", "sb-1", Sdk)(dropped)).toMatchObject({ reason: "Unavailable", retryable: true })
    expect(map(dropped)).toMatchObject({ reason: "Unavailable", retryable: true }) // by its text, without the module
    const refused = mangled(new DaytonaConnectionError("connect ECONNREFUSED 127.0.0.1:9"))
    // Refused at connect: the request never left, so even a create may be sent again.
    expect(map(refused)).toMatchObject({ reason: "Unavailable", rejected: true })
    expect(map(dropped).rejected).not.toBe(true) // a hang-up may come after the API acted
    const deadline = mangled(new DaytonaConnectionTimeoutError("timeout of 10ms exceeded"))
    expect(fromSdk("op", "sb-1", Sdk)(deadline).reason).toBe("Timeout")
  })

  it("reads every documented form of the wait: Retry-After and its per-limiter variants, seconds or a date", () => {
    const now = Date.parse("2026-01-01T00:00:00Z")
    expect(retryAfterMs({ "retry-after-sandbox-create": "12" }, now)).toBe(12_000)
    expect(retryAfterMs({ "Retry-After-authenticated": "Thu, 01 Jan 2026 00:00:05 GMT" }, now)).toBe(5000)
    // Several limiters refused: the longest wait wins.
    expect(retryAfterMs({ "retry-after-authenticated": "2", "retry-after-sandbox-create": "9" }, now)).toBe(9000)
    expect(retryAfterMs({ "x-ratelimit-reset-sandbox-create": "4" }, now)).toBe(4000)
    expect(retryAfterMs({ "retry-after": "1", "x-ratelimit-reset": "30" }, now)).toBe(1000)
    expect(retryAfterMs(new Headers({ "Retry-After-sandbox-lifecycle": "3" }), now)).toBe(3000)
    expect(retryAfterMs({ "retry-after": "soon" }, now)).toBeUndefined()
    const limited = map(new DaytonaRateLimitError("slow down", 429, { "retry-after-sandbox-create": "6" } as never))
    expect(limited.retry_after_ms).toBe(6000)
  })

  it("keeps the server's message and status in the detail and the SDK error as the cause", () => {
    const error = new DaytonaConflictError("Sandbox state change in progress", 409)
    const mapped = map(error)
    expect(mapped.detail).toBe("Sandbox state change in progress (HTTP 409)")
    expect(mapped.cause).toBe(error)
    expect(mapped.message).toContain("daytona: op on sb-1 failed (Conflict)")
  })

  it("passes a ProviderError through unchanged", () => {
    const e = map(new DaytonaNotFoundError("gone", 404))
    expect(map(e)).toBe(e)
  })
})
