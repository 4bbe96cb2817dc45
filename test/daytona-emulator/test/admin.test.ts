/**
 * The global random-failure mode, per-route counters and the `/_emulator/` admin endpoints that out-of-process
 * tests (a CLI run against the bin) use to read counters and change faults.
 */
import { describe, expect, it } from "vitest"
import { startEmulator } from "../src/index.js"
import type { Emulator, EmulatorStats } from "../src/index.js"
import { API_KEY, raw, useHarness } from "./helpers/harness.js"

const h = useHarness()

const withEmulator = async <A>(
  options: Omit<Parameters<typeof startEmulator>[0], "apiKey">,
  f: (emu: Emulator) => Promise<A>
): Promise<A> => {
  const emu = await startEmulator({ apiKey: API_KEY, ...options })
  try {
    return await f(emu)
  } finally {
    await emu.close()
  }
}

/** One letter per reply: `.` success, `r` 429, `u` 503, `i` 500. */
const pattern = async (emu: Emulator, n: number, method = "GET", path = "/api/sandbox", body?: unknown) => {
  let out = ""
  for (let i = 0; i < n; i++) {
    const r = await raw(emu, method, path, body === undefined ? {} : { body })
    out += r.status < 300 ? "." : r.status === 429 ? "r" : r.status === 503 ? "u" : r.status === 500 ? "i" : "?"
  }
  return out
}

describe("random failures", () => {
  it("fail about the configured share of requests with 429/503 and Retry-After, the same way for the same seed", async () => {
    const run = (seed: number) =>
      withEmulator({ seed, randomFailures: { rate: 0.3, retryAfterSeconds: 2 } }, async (emu) => {
        const p = await pattern(emu, 200)
        const stats = emu.stats()
        expect(stats.faultsInjected).toBe(p.replace(/\./g, "").length)
        return p
      })
    const a = await run(11)
    expect(await run(11)).toBe(a)
    expect(await run(12)).not.toBe(a)
    const failed = a.replace(/\./g, "").length
    // 30% of 200 is 60; a seeded draw stays well within these bounds.
    expect(failed).toBeGreaterThan(35)
    expect(failed).toBeLessThan(85)
    expect(a).toMatch(/r/)
    expect(a).toMatch(/u/)
    expect(a).not.toMatch(/[i?]/)
    await withEmulator({ randomFailures: { rate: 1, kinds: ["429"], retryAfterSeconds: 2 } }, async (emu) => {
      const r = await raw(emu, "GET", "/api/sandbox")
      expect(r.status).toBe(429)
      expect(r.headers.get("retry-after")).toBe("2")
      expect(r.json).toMatchObject({ statusCode: 429, error: "Too Many Requests" })
    })
  })

  it("fail before the handler runs, so a failed create made nothing and a retry is safe", async () => {
    await withEmulator({ seed: 3, randomFailures: { rate: 0.5, kinds: ["503", "500"] } }, async (emu) => {
      const p = await pattern(emu, 40, "POST", "/api/sandbox", { labels: { app: "random" } })
      expect(p).toMatch(/[ui]/)
      expect(emu.sandboxes().length).toBe(p.replace(/[^.]/g, "").length)
    })
  })

  it("can be limited to some routes, switched at runtime, and never touch the admin endpoints", async () => {
    const { emu } = h()
    emu.setRandomFailures({ rate: 1, route: /^GET \/api\/sandbox$/ })
    try {
      expect((await raw(emu, "GET", "/api/sandbox")).status).toBeGreaterThanOrEqual(429)
      expect((await raw(emu, "GET", "/api/snapshots")).status).toBe(200)
      expect((await raw(emu, "GET", "/_emulator/stats")).status).toBe(200)
      expect(emu.faults().randomFailures).toMatchObject({ rate: 1 })
    } finally {
      emu.setRandomFailures(undefined)
    }
    expect((await raw(emu, "GET", "/api/sandbox")).status).toBe(200)
    expect(() => emu.setRandomFailures({ rate: 1.5 })).toThrow(RangeError)
  })
})

describe("per-route counters", () => {
  it("count requests, bytes both ways, statuses and faults for each route", async () => {
    const { emu, daytona } = h()
    const sb = await daytona.create({ labels: { app: "per-route" } })
    emu.resetStats()
    await sb.fs.uploadFile(Buffer.alloc(50_000, 1), "a.bin")
    await sb.fs.downloadFile("a.bin")
    emu.setFaults([{ route: "GET /api/sandbox/{sandboxIdOrName}", kind: "429", times: 1 }])
    await daytona.get(sb.id).catch(() => undefined)
    emu.setFaults([])
    await daytona.get(sb.id)
    const s = emu.stats()
    const upload = s.perRoute["POST /toolbox/{sandboxId}/files/bulk-upload"]!
    const download = s.perRoute["POST /toolbox/{sandboxId}/files/bulk-download"]!
    const get = s.perRoute["GET /api/sandbox/{sandboxIdOrName}"]!
    expect(upload).toMatchObject({ requests: 1, faultsInjected: 0, statuses: { "200": 1 } })
    expect(upload.bytesIn).toBeGreaterThan(50_000)
    expect(upload.bytesOut).toBeLessThan(1_000)
    expect(download.bytesOut).toBeGreaterThan(50_000)
    expect(download.bytesIn).toBeLessThan(1_000)
    expect(get).toMatchObject({ requests: 2, faultsInjected: 1, statuses: { "429": 1, "200": 1 } })
    // Totals are the sums of the routes.
    const sum = (f: (r: EmulatorStats["perRoute"][string]) => number) =>
      Object.values(s.perRoute).reduce((n, r) => n + f(r), 0)
    expect(sum((r) => r.requests)).toBe(s.requests)
    expect(sum((r) => r.bytesIn)).toBe(s.bytesIn)
    expect(sum((r) => r.bytesOut)).toBe(s.bytesOut)
  })
})

describe("admin endpoints", () => {
  it("need the bearer key, are not counted and serve the stats", async () => {
    const { emu } = h()
    expect((await raw(emu, "GET", "/_emulator/stats", { apiKey: null })).status).toBe(401)
    expect((await raw(emu, "GET", "/_emulator/stats", { apiKey: "wrong" })).status).toBe(401)
    emu.resetStats()
    await raw(emu, "GET", "/api/sandbox")
    const first = await raw(emu, "GET", "/_emulator/stats")
    expect(first.json).toMatchObject({ requests: 1, routes: { "GET /api/sandbox": 1 } })
    expect((await raw(emu, "GET", "/_emulator/stats")).json).toMatchObject({ requests: 1 })
    expect((await raw(emu, "DELETE", "/_emulator/stats")).status).toBe(204)
    expect(emu.stats().requests).toBe(0)
    expect((await raw(emu, "GET", "/_emulator/nope")).status).toBe(404)
  })

  it("read and replace the fault configuration as JSON, rules by exact route or by regular expression", async () => {
    await withEmulator({}, async (emu) => {
      const set = await raw(emu, "POST", "/_emulator/faults", {
        body: {
          seed: 9,
          rules: [
            { route: "POST /api/sandbox", kind: "429", retryAfterSeconds: 5, times: 1 },
            { match: "^GET .*snapshots$", kind: "503" }
          ],
          random: { rate: 0.3, kinds: ["429", "503"] }
        }
      })
      expect(set.status).toBe(200)
      expect(set.json).toEqual({
        seed: 9,
        rules: [
          { route: "POST /api/sandbox", kind: "429", retryAfterSeconds: 5, times: 1 },
          { match: "^GET .*snapshots$", kind: "503" }
        ],
        random: { rate: 0.3, kinds: ["429", "503"] }
      })
      expect(emu.faults().rules[1]!.route).toBeInstanceOf(RegExp)
      expect((await raw(emu, "GET", "/_emulator/faults")).json).toEqual(set.json)
      // Turn the random mode off only; the rules stay.
      await raw(emu, "POST", "/_emulator/faults", { body: { random: null } })
      const created = await raw(emu, "POST", "/api/sandbox", { body: {} })
      expect(created.status).toBe(429)
      expect(created.headers.get("retry-after")).toBe("5")
      expect((await raw(emu, "POST", "/api/sandbox", { body: {} })).status).toBe(200)
      expect((await raw(emu, "GET", "/api/snapshots")).status).toBe(503)
      expect((await raw(emu, "DELETE", "/_emulator/faults")).status).toBe(204)
      expect((await raw(emu, "GET", "/api/snapshots")).status).toBe(200)
      expect(emu.faults()).toMatchObject({ rules: [], randomFailures: undefined })
      for (
        const bad of [
          { rules: [{ route: "GET /api/sandbox", kind: "418" }] },
          { rules: [{ kind: "429" }] },
          { rules: [{ match: "(", kind: "429" }] },
          { random: { rate: 2 } },
          { random: { rate: 0.1, kinds: ["404"] } }
        ]
      ) {
        const r = await raw(emu, "POST", "/_emulator/faults", { body: bad })
        expect(r.status, JSON.stringify(bad)).toBe(400)
      }
    })
  })

  it("list sandboxes and hold one in a state, then let it go", async () => {
    const { emu, daytona } = h()
    const sb = await daytona.create({ name: "admin-stuck", labels: { app: "admin" } })
    const listed = (await raw(emu, "GET", "/_emulator/sandboxes")).json as Array<{ id: string; state: string }>
    expect(listed.find((s) => s.id === sb.id)?.state).toBe("started")
    const stick = await raw(emu, "POST", "/_emulator/sandboxes/admin-stuck/stick", { body: { state: "starting" } })
    expect(stick.status).toBe(204)
    await sb.refreshData()
    expect(sb.state).toBe("starting")
    expect((await raw(emu, "DELETE", `/api/sandbox/${sb.id}`)).status).toBe(409)
    expect((await raw(emu, "POST", `/_emulator/sandboxes/${sb.id}/unstick`)).status).toBe(204)
    await sb.refreshData()
    expect(sb.state).toBe("started")
    expect((await raw(emu, "POST", "/_emulator/sandboxes/none/stick", { body: { state: "starting" } })).status).toBe(
      404
    )
    expect((await raw(emu, "POST", `/_emulator/sandboxes/${sb.id}/stick`, { body: { state: "bogus" } })).status)
      .toBe(400)
    await sb.delete()
  })
})
