/**
 * Auth, fault injection, stuck states and counters, seen through the real SDK's error classes.
 */
import {
  DaytonaAuthenticationError,
  DaytonaConflictError,
  DaytonaConnectionError,
  DaytonaError,
  DaytonaInternalServerError,
  DaytonaRateLimitError,
  DaytonaServiceUnavailableError
} from "@daytonaio/sdk"
import { describe, expect, it } from "vitest"
import { FaultInjector } from "../src/faults.js"
import { startEmulator } from "../src/index.js"
import { API_KEY, raw, useHarness, withClient } from "./helpers/harness.js"

const h = useHarness()

describe("auth", () => {
  it("answers a wrong or missing key with 401 (NestJS body) → DaytonaAuthenticationError", async () => {
    const { emu } = h()
    const err = await withClient(emu, (d) => d.list().next(), "wrong-key").catch((e: unknown) => e)
    expect(err).toBeInstanceOf(DaytonaAuthenticationError)
    const sb = await h().daytona.create({ labels: { app: "auth" } })
    for (const apiKey of [null, "wrong-key"]) {
      for (const path of ["/api/sandbox", `/toolbox/${sb.id}/user-home-dir`]) {
        const r = await raw(emu, "GET", path, { apiKey })
        expect(r.status).toBe(401)
        expect(r.json).toMatchObject({ statusCode: 401, error: "Unauthorized", path })
      }
    }
  })
})

describe("fault injection", () => {
  it("429 with Retry-After becomes DaytonaRateLimitError carrying the header; the SDK does not retry it", async () => {
    const { emu, daytona } = h()
    emu.setFaults([{ route: "POST /api/sandbox", kind: "429", retryAfterSeconds: 7 }])
    emu.resetStats()
    try {
      const err = await daytona.create({ labels: { app: "faults" } }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(DaytonaRateLimitError)
      const headers = (err as DaytonaError).headers as Record<string, unknown>
      expect(String(headers["retry-after"])).toBe("7")
      expect((err as DaytonaError).statusCode).toBe(429)
      expect(emu.stats().routes["POST /api/sandbox"]).toBe(1)
      expect(emu.stats().faultsInjected).toBe(1)
    } finally {
      emu.setFaults([])
    }
  })

  it("503 → DaytonaServiceUnavailableError, 500 → DaytonaInternalServerError, `times` limits a rule", async () => {
    const { emu, daytona } = h()
    const sb = await daytona.create({ labels: { app: "faults" } })
    emu.setFaults([
      { route: /^GET \/api\/sandbox\/[^/]+$/, kind: "503", times: 1 },
      { route: "POST /toolbox/{sandboxId}/process/execute", kind: "500", times: 1 }
    ])
    try {
      await expect(daytona.get(sb.id)).rejects.toBeInstanceOf(DaytonaServiceUnavailableError)
      expect((await daytona.get(sb.id)).id).toBe(sb.id)
      await expect(sb.process.executeCommand("true")).rejects.toBeInstanceOf(DaytonaInternalServerError)
      expect((await sb.process.executeCommand("echo ok")).result).toBe("ok\n")
    } finally {
      emu.setFaults([])
    }
  })

  it("`after` lets the first matching requests through, then fires (`times` counts from there)", () => {
    const injector = new FaultInjector(1, [{ route: "GET /api/sandbox", kind: "503", after: 2, times: 1 }])
    const kinds = [1, 2, 3, 4].map(() => injector.decide("GET /api/sandbox", "GET /api/sandbox")?.kind)
    expect(kinds).toEqual([undefined, undefined, "503", undefined])
  })

  it("a dropped connection surfaces as an SDK error after the SDK's own retries of idempotent calls", async () => {
    const { emu, daytona } = h()
    const sb = await daytona.create({ labels: { app: "faults" } })
    emu.setFaults([
      { route: "GET /api/sandbox/{sandboxIdOrName}", kind: "drop" },
      { route: "POST /api/sandbox", kind: "drop" }
    ])
    emu.resetStats()
    try {
      const err = await daytona.get(sb.id).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(DaytonaConnectionError)
      // GET is retried on ECONNRESET: 3 attempts in all; POST is not retried (daytona-api.md §14).
      expect(emu.stats().routes["GET /api/sandbox/{sandboxIdOrName}"]).toBe(3)
      await expect(daytona.create()).rejects.toBeInstanceOf(DaytonaConnectionError)
      expect(emu.stats().routes["POST /api/sandbox"]).toBe(1)
    } finally {
      emu.setFaults([])
    }
  })

  it("slows matching replies down", async () => {
    const { emu, daytona } = h()
    emu.setFaults([{ route: "GET /api/sandbox", kind: "slow", delayMs: 300 }])
    try {
      // The delay is recorded as an injected fault on the route; the reply still arrives intact.
      const before = emu.stats().perRoute["GET /api/sandbox"]?.faultsInjected ?? 0
      const first = await daytona.list().next()
      expect(typeof first.done).toBe("boolean")
      expect(emu.stats().perRoute["GET /api/sandbox"]?.faultsInjected).toBe(before + 1)
    } finally {
      emu.setFaults([])
    }
  })

  it("is deterministic for a seed", async () => {
    const pattern = (seed: number): string => {
      const f = new FaultInjector(seed, [{ route: "GET /api/sandbox", kind: "500", rate: 0.5 }])
      return Array.from({ length: 32 }, () => (f.decide("GET /api/sandbox", "GET /api/sandbox") ? "x" : ".")).join("")
    }
    expect(pattern(42)).toBe(pattern(42))
    expect(pattern(42)).not.toBe(pattern(43))
    expect(pattern(42)).toMatch(/x/)
    expect(pattern(42)).toMatch(/\./)
    // The same holds end to end over HTTP.
    const statuses = async (seed: number): Promise<string> => {
      const emu = await startEmulator({
        apiKey: API_KEY,
        seed,
        faults: [{ route: "GET /api/sandbox", kind: "500", rate: 0.5 }]
      })
      try {
        let out = ""
        for (let i = 0; i < 12; i++) out += (await raw(emu, "GET", "/api/sandbox")).status === 500 ? "x" : "."
        return out
      } finally {
        await emu.close()
      }
    }
    expect(await statuses(7)).toBe(await statuses(7))
  })
})

describe("stuck states", () => {
  it("holds a sandbox in `starting`: state changes 409, delete refused, then it settles", async () => {
    const { emu, daytona } = h()
    const sb = await daytona.create({ labels: { app: "stuck" } })
    emu.stick(sb.id, "starting")
    await sb.refreshData()
    expect(sb.state).toBe("starting")
    expect(sb.desiredState).toBe("started")
    await expect(sb.stop()).rejects.toBeInstanceOf(DaytonaConflictError)
    const del = await sb.delete().catch((e: unknown) => e)
    expect(del).toBeInstanceOf(DaytonaConflictError)
    expect((del as Error).message).toBe("Sandbox state change in progress")
    emu.unstick(sb.id)
    await sb.refreshData()
    expect(sb.state).toBe("started")
    await sb.delete()
  })

  it("counts requests: a rule by label keeps a new sandbox `starting` for N requests; create waits it out", async () => {
    const emu = await startEmulator({
      apiKey: API_KEY,
      stuck: [{ labels: { slow: "yes" }, state: "starting", requests: 1 }]
    })
    try {
      await withClient(emu, async (d) => {
        const sb = await d.create({ labels: { slow: "yes" } })
        expect(sb.state).toBe("started")
        // POST (starting), GET (starting, the 1 request), GET (settled).
        expect(emu.stats().routes).toMatchObject({ "POST /api/sandbox": 1, "GET /api/sandbox/{sandboxIdOrName}": 2 })
        const plain = await d.create({ labels: { slow: "no" } })
        expect(plain.state).toBe("started")
      })
    } finally {
      await emu.close()
    }
  })

  it("createState `creating` answers creating once, then started; deletes while starting can be allowed", async () => {
    const emu = await startEmulator({ apiKey: API_KEY, createState: "creating", refuseDeleteWhileStarting: false })
    try {
      await withClient(emu, async (d) => {
        emu.resetStats()
        const sb = await d.create({ labels: { app: "creating" } })
        expect(sb.state).toBe("started")
        expect(emu.stats().routes).toEqual({ "POST /api/sandbox": 1, "GET /api/sandbox/{sandboxIdOrName}": 1 })
        emu.stick(sb.id, "starting")
        await sb.delete()
        expect(emu.sandboxes().find((s) => s.id === sb.id)?.state).toBe("destroyed")
      })
    } finally {
      await emu.close()
    }
  })

  it("holds a sandbox in error; waits for start fail with the SDK's error", async () => {
    const { emu, daytona } = h()
    const sb = await daytona.create({ labels: { app: "stuck" } })
    await sb.stop()
    emu.stick(sb.id, "error", 5)
    await sb.refreshData()
    expect(sb.state).toBe("error")
    expect(sb.errorReason).toEqual(expect.any(String))
    await expect(sb.start()).rejects.toThrow(/not in valid state/)
    await sb.delete() // deleting an errored sandbox is allowed
  })
})

describe("counters", () => {
  it("counts requests per route, statuses and body bytes both ways; resettable", async () => {
    const { emu, daytona } = h()
    const sb = await daytona.create({ labels: { app: "counters" } })
    emu.resetStats()
    const payload = Buffer.alloc(200_000, 7)
    await sb.fs.uploadFile(payload, "big.bin")
    const afterUpload = emu.stats()
    expect(afterUpload.requests).toBe(1)
    expect(afterUpload.bytesIn).toBeGreaterThan(payload.length)
    expect(afterUpload.bytesIn).toBeLessThan(payload.length + 2_000)
    await sb.fs.downloadFile("big.bin")
    const afterDownload = emu.stats()
    expect(afterDownload.bytesOut - afterUpload.bytesOut).toBeGreaterThan(payload.length)
    expect(afterDownload.routes).toEqual({
      "POST /toolbox/{sandboxId}/files/bulk-upload": 1,
      "POST /toolbox/{sandboxId}/files/bulk-download": 1
    })
    expect(afterDownload.statuses).toEqual({ "200": 2 })
    emu.resetStats()
    expect(emu.stats()).toMatchObject({ requests: 0, bytesIn: 0, bytesOut: 0, routes: {} })
  })
})
