/**
 * Sandbox lifecycle through the real SDK: create variants, get, list by labels, the state rules of
 * daytona-api.md §13, labels and intervals, preview links, SSH access and snapshots.
 */
import { DaytonaConflictError, DaytonaNotFoundError, DaytonaValidationError } from "@daytonaio/sdk"
import { describe, expect, it } from "vitest"
import { raw, useHarness } from "./helpers/harness.js"

const h = useHarness()

describe("create and get", () => {
  it("creates from the default snapshot with labels and env, in one round trip", async () => {
    const { emu, daytona } = h()
    emu.resetStats()
    const sb = await daytona.create({ labels: { app: "life", case: "default" }, envVars: { FOO: "bar" } })
    expect(sb.state).toBe("started")
    expect(sb.labels).toMatchObject({ app: "life", case: "default", "code-toolbox-language": "python" })
    expect(sb.env).toEqual({ FOO: "bar" })
    expect(sb.snapshot).toBe("daytonaio/sandbox:latest")
    // `started` straight from POST means no wait polls (§5).
    expect(emu.stats().routes).toEqual({ "POST /api/sandbox": 1 })
    const again = await daytona.get(sb.id)
    expect(again.id).toBe(sb.id)
    expect(again.env).toEqual({ FOO: "bar" })
    // The env reaches real processes.
    expect((await sb.process.executeCommand("printf %s \"$FOO\"")).result).toBe("bar")
  })

  it("creates from a string image (buildInfo FROM) with resources and a name, found by name", async () => {
    const { emu, daytona } = h()
    const sb = await daytona.create({
      name: "image-box",
      image: "node:20",
      resources: { cpu: 2, memory: 4, disk: 10 },
      labels: { app: "life" }
    })
    expect(sb.cpu).toBe(2)
    expect(sb.memory).toBe(4)
    expect(sb.snapshot).toBeUndefined()
    const dto = await raw(emu, "GET", "/api/sandbox/image-box")
    expect(dto.json).toMatchObject({
      id: sb.id,
      buildInfo: { dockerfileContent: "FROM node:20\n", snapshotRef: "node:20" }
    })
    await expect(daytona.create({ name: "image-box", image: "node:20" })).rejects.toBeInstanceOf(DaytonaConflictError)
  })

  it("creates from a named snapshot and refuses an unknown one or resources with a snapshot", async () => {
    const { daytona } = h()
    await daytona.snapshot.create({ name: "life-snap", image: "python:3.12", resources: { cpu: 2, memory: 2 } })
    const sb = await daytona.create({ snapshot: "life-snap", labels: { app: "life" } })
    expect(sb.snapshot).toBe("life-snap")
    expect(sb.cpu).toBe(2)
    const unknown = daytona.create({ snapshot: "no-such-snapshot" })
    await expect(unknown).rejects.toBeInstanceOf(DaytonaValidationError)
    await expect(unknown).rejects.toThrow(/Snapshot no-such-snapshot not found/)
    // The real API refuses resources on snapshot-based creates; the SDK sends them anyway.
    await expect(
      daytona.create(
        { snapshot: "life-snap", resources: { cpu: 4 } } as unknown as Parameters<typeof daytona.create>[0]
      )
    ).rejects.toThrow(/Cannot specify Sandbox resources when using a snapshot/)
  })

  it("reports unknown sandboxes as DaytonaNotFoundError with the API's message", async () => {
    const { daytona } = h()
    const err = await daytona.get("nope").catch((e: unknown) => e)
    expect(err).toBeInstanceOf(DaytonaNotFoundError)
    expect((err as Error).message).toBe("Sandbox with ID or name nope not found")
  })
})

describe("list", () => {
  it("filters by label subset, newest first, without env, paging with cursors", async () => {
    const { emu, daytona } = h()
    const made = []
    for (let i = 0; i < 3; i++) made.push(await daytona.create({ labels: { app: "list", i: String(i) } }))
    const ids = []
    for await (const sb of daytona.list({ labels: { app: "list" } })) ids.push(sb.id)
    expect(ids).toEqual(made.map((s) => s.id).reverse())
    const one = []
    for await (const sb of daytona.list({ labels: { app: "list", i: "1" } })) one.push(sb.id)
    expect(one).toEqual([made[1]!.id])

    const page1 = await raw(emu, "GET", `/api/sandbox?labels=${encodeURIComponent("{\"app\":\"list\"}")}&limit=2`)
    const body1 = page1.json as { items: Array<Record<string, unknown>>; nextCursor: string | null }
    expect(body1.items).toHaveLength(2)
    expect(body1.items.every((item) => !("env" in item) && typeof item["toolboxProxyUrl"] === "string")).toBe(true)
    expect(body1.nextCursor).toEqual(expect.any(String))
    const page2 = await raw(
      emu,
      "GET",
      `/api/sandbox?labels=${encodeURIComponent("{\"app\":\"list\"}")}&limit=2&cursor=${body1.nextCursor}`
    )
    const body2 = page2.json as { items: Array<{ id: string }>; nextCursor: string | null }
    expect(body2.items.map((x) => x.id)).toEqual([made[0]!.id])
    expect(body2.nextCursor).toBeNull()
    expect((await raw(emu, "GET", "/api/sandbox?limit=500")).status).toBe(400)
  })

  it("filters by state and never lists destroyed sandboxes", async () => {
    const { emu, daytona } = h()
    const a = await daytona.create({ labels: { app: "states" } })
    const b = await daytona.create({ labels: { app: "states" } })
    await b.stop()
    const stopped = await raw(
      emu,
      "GET",
      `/api/sandbox?states=stopped&labels=${encodeURIComponent("{\"app\":\"states\"}")}`
    )
    expect((stopped.json as { items: Array<{ id: string }> }).items.map((x) => x.id)).toEqual([b.id])
    await a.delete()
    const left = []
    for await (const sb of daytona.list({ labels: { app: "states" } })) left.push(sb.id)
    expect(left).toEqual([b.id])
  })
})

describe("state rules", () => {
  it("stop → start → stop → archive → start, and refuses invalid transitions", async () => {
    const { daytona } = h()
    const sb = await daytona.create({ labels: { app: "rules" } })
    await sb.start() // no-op on a started sandbox
    expect(sb.state).toBe("started")
    await expect(sb.archive()).rejects.toThrow(/Sandbox is not stopped/)
    await sb.stop()
    expect(sb.state).toBe("stopped")
    await expect(sb.stop()).rejects.toThrow(/not in a stoppable state/)
    await expect(sb.process.executeCommand("true")).rejects.toBeInstanceOf(DaytonaValidationError)
    await sb.start()
    expect(sb.state).toBe("started")
    await sb.stop()
    await sb.archive()
    expect(sb.state).toBe("archived")
    await sb.start()
    expect(sb.state).toBe("started")
  })

  it("keeps files across stop/start but kills running processes", async () => {
    const { emu, daytona } = h()
    const sb = await daytona.create({ labels: { app: "rules" } })
    await sb.fs.uploadFile(Buffer.from("kept"), "keep.txt")
    await sb.process.createSession("bg")
    const { cmdId } = await sb.process.executeSessionCommand("bg", { command: "sleep 30", runAsync: true })
    expect(cmdId).toEqual(expect.any(String))
    await sb.stop()
    await sb.start()
    expect((await sb.fs.downloadFile("keep.txt")).toString()).toBe("kept")
    await expect(sb.process.getSession("bg")).rejects.toBeInstanceOf(DaytonaNotFoundError)
    expect(emu.sandboxes().find((s) => s.id === sb.id)?.state).toBe("started")
  })

  it("treats stop of an ephemeral sandbox as delete", async () => {
    const { emu, daytona } = h()
    const sb = await daytona.create({ labels: { app: "rules" }, ephemeral: true })
    expect(sb.autoDeleteInterval).toBe(0)
    await expect(sb.archive()).rejects.toThrow()
    await sb.stop()
    expect(sb.state).toBe("destroyed")
    await expect(daytona.get(sb.id)).rejects.toBeInstanceOf(DaytonaNotFoundError)
    expect(emu.sandboxes().find((s) => s.id === sb.id)?.state).toBe("destroyed")
  })

  it("deletes: reply says destroying, then 404, directory gone, name reusable", async () => {
    const { emu, daytona } = h()
    const sb = await daytona.create({ name: "reuse-me", labels: { app: "rules" } })
    const dir = emu.sandboxes().find((s) => s.id === sb.id)!.dir
    await sb.delete()
    expect(sb.state).toBe("destroying")
    await expect(daytona.get(sb.id)).rejects.toBeInstanceOf(DaytonaNotFoundError)
    await expect(daytona.get("reuse-me")).rejects.toBeInstanceOf(DaytonaNotFoundError)
    const { existsSync } = await import("node:fs")
    await expect.poll(() => existsSync(dir)).toBe(false)
    const again = await daytona.create({ name: "reuse-me", labels: { app: "rules" } })
    expect(again.name).toBe("reuse-me")
    await again.delete(60, true) // wait=true polls until 404
  })
})

describe("labels, intervals, preview, ssh", () => {
  it("replaces labels and sets the intervals", async () => {
    const { daytona } = h()
    const sb = await daytona.create({ labels: { app: "misc", old: "1" } })
    const labels = await sb.setLabels({ app: "misc", fresh: "yes" })
    expect(labels).toEqual({ app: "misc", fresh: "yes" })
    await sb.setAutostopInterval(0)
    await sb.setAutoArchiveInterval(60)
    await sb.setAutoDeleteInterval(120)
    const dto = await daytona.get(sb.id)
    expect(dto.labels).toEqual({ app: "misc", fresh: "yes" })
    expect([dto.autoStopInterval, dto.autoArchiveInterval, dto.autoDeleteInterval]).toEqual([0, 60, 120])
  })

  it("hands out preview links that proxy to a port, signed links, and SSH access", async () => {
    const { emu, daytona } = h()
    const sb = await daytona.create({ labels: { app: "misc" } })
    const link = await sb.getPreviewLink(3000)
    expect(link.url).toContain(`/preview/${sb.id}/3000`)
    expect(link.token).toEqual(expect.any(String))
    const signed = await sb.getSignedPreviewUrl(8080, 120)
    expect(signed).toMatchObject({ sandboxId: sb.id, port: 8080 })
    expect(signed.token).toMatch(/^[a-z0-9]{16}$/)
    const ssh = await sb.createSshAccess(30)
    expect(ssh.sandboxId).toBe(sb.id)
    expect(ssh.sshCommand).toContain(ssh.token)
    expect(await sb.validateSshAccess(ssh.token)).toEqual({ valid: true, sandboxId: sb.id })

    // The preview proxy reaches a real server started inside the sandbox.
    const { createServer } = await import("node:http")
    const server = createServer((_req, res) => res.end("from the sandbox"))
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    const port = (server.address() as { port: number }).port
    try {
      const p = await sb.getPreviewLink(port)
      expect((await fetch(p.url, { headers: { "X-Daytona-Preview-Token": p.token } })).status).toBe(200)
      expect(await (await fetch(`${p.url}/?DAYTONA_SANDBOX_AUTH_KEY=${p.token}`)).text()).toBe("from the sandbox")
      expect((await fetch(p.url)).status).toBe(401)
    } finally {
      server.close()
    }
    expect((await raw(emu, "GET", `/api/sandbox/${sb.id}/ports/70000/preview-url`)).status).toBe(400)
  })
})

describe("snapshots", () => {
  it("creates (active at once), gets by name and id, lists and deletes", async () => {
    const { daytona } = h()
    const snap = await daytona.snapshot.create({ name: "snap-a", image: "python:3.12" })
    expect(snap.state).toBe("active")
    expect(snap.imageName).toBe("python:3.12")
    expect((await daytona.snapshot.get("snap-a")).id).toBe(snap.id)
    expect((await daytona.snapshot.get(snap.id)).name).toBe("snap-a")
    const listed = await daytona.snapshot.list()
    expect(listed.items.map((s) => s.name)).toContain("snap-a")
    expect(listed.total).toBe(listed.items.length)
    await daytona.snapshot.delete(snap)
    await expect(daytona.snapshot.get("snap-a")).rejects.toBeInstanceOf(DaytonaNotFoundError)
  })
})
