/**
 * Operations the SDK offers beyond what the provider uses, through the unmodified SDK where it has a method:
 * volumes, resize, recover, the deprecated paginated list, snapshot deactivation, and the toolbox's file search
 * (find in files, search by name, replace in files).
 */
import { DaytonaError } from "@daytonaio/sdk"
import { describe, expect, it } from "vitest"
import { globRegExp } from "../src/routes/search.js"
import { raw, useHarness } from "./helpers/harness.js"

const h = useHarness()

describe("volumes", () => {
  it("create (pending, then ready), get by name, list, refuse a delete while mounted, then delete", async () => {
    const { daytona, emu } = h()
    const made = await daytona.volume.create("data-1")
    expect(made).toMatchObject({ name: "data-1", state: "pending_create" })
    const got = await daytona.volume.get("data-1")
    expect(got).toMatchObject({ id: made.id, state: "ready" })
    expect((await daytona.volume.list()).map((v) => v.name)).toContain("data-1")
    // get(name, true) makes the volume when it is missing, as the SDK's examples use it.
    expect((await daytona.volume.get("data-2", true)).name).toBe("data-2")
    await expect(daytona.volume.create("data-1")).rejects.toBeInstanceOf(DaytonaError)

    const sb = await daytona.create({ volumes: [{ volumeId: got.id, mountPath: "/home/daytona/data" }] })
    const inUse = await daytona.volume.delete(got).catch((e: unknown) => e)
    expect((inUse as DaytonaError).statusCode).toBe(409)
    await sb.delete()
    await daytona.volume.delete(got)
    expect((await daytona.volume.list()).map((v) => v.name)).not.toContain("data-1")
    expect((await raw(emu, "GET", `/api/volumes/${got.id}`)).status).toBe(404)
    const withDeleted = await raw(emu, "GET", "/api/volumes?includeDeleted=true")
    expect(withDeleted.json).toEqual(
      expect.arrayContaining([expect.objectContaining({ id: got.id, state: "deleted" })])
    )
  })
})

describe("sandbox operations", () => {
  it("resize: up while started, disk only when stopped and never down", async () => {
    const { daytona } = h()
    const sb = await daytona.create({ labels: { app: "resize" } })
    await sb.resize({ cpu: 2, memory: 2 })
    expect([sb.cpu, sb.memory]).toEqual([2, 2])
    const down = await sb.resize({ cpu: 1 }).catch((e: unknown) => e)
    expect((down as DaytonaError).statusCode).toBe(400)
    const disk = await sb.resize({ disk: 10 }).catch((e: unknown) => e)
    expect((disk as DaytonaError).statusCode).toBe(400)
    await sb.stop()
    await sb.resize({ cpu: 1, disk: 10 })
    expect([sb.cpu, sb.disk]).toEqual([1, 10])
    expect(((await sb.resize({ disk: 5 }).catch((e: unknown) => e)) as DaytonaError).statusCode).toBe(400)
    await sb.delete()
  })

  it("recover brings a sandbox in error back to started; a healthy one is refused", async () => {
    const { daytona, emu } = h()
    const sb = await daytona.create({ labels: { app: "recover" } })
    expect(((await sb.recover().catch((e: unknown) => e)) as DaytonaError).statusCode).toBe(400)
    emu.stick(sb.id, "error")
    await sb.refreshData()
    expect(sb.state).toBe("error")
    await sb.recover()
    expect(sb.state).toBe("started")
    await sb.delete()
  })

  it("the deprecated paginated list filters by labels and pages", async () => {
    const { daytona, emu } = h()
    const made = await Promise.all([1, 2, 3].map(() => daytona.create({ labels: { app: "paged" } })))
    const labels = encodeURIComponent(JSON.stringify({ app: "paged" }))
    const first = await raw(emu, "GET", `/api/sandbox/paginated?labels=${labels}&limit=2&page=1`)
    expect(first.json).toMatchObject({ total: 3, page: 1, totalPages: 2 })
    const second = await raw(emu, "GET", `/api/sandbox/paginated?labels=${labels}&limit=2&page=2`)
    const ids = [
      ...(first.json as { items: Array<{ id: string }> }).items,
      ...(second.json as { items: Array<{ id: string }> }).items
    ]
      .map((s) => s.id)
    expect(ids.sort()).toEqual(made.map((s) => s.id).sort())
    expect((await raw(emu, "GET", "/api/sandbox/paginated?page=0")).status).toBe(400)
    await Promise.all(made.map((s) => s.delete()))
  })

  it("a snapshot can be deactivated (204, then inactive); the general one cannot", async () => {
    const { daytona, emu } = h()
    const snap = await daytona.snapshot.create({ name: "deact", image: "ubuntu:24.04" })
    const r = await raw(emu, "POST", `/api/snapshots/${snap.id}/deactivate`)
    expect(r.status).toBe(204)
    expect((await daytona.snapshot.get("deact")).state).toBe("inactive")
    const general = (await daytona.snapshot.list()).items.find((s) => s.general)
    expect((await raw(emu, "POST", `/api/snapshots/${general!.id}/deactivate`)).status).toBe(403)
  })
})

describe("toolbox file search", () => {
  it("findFiles, searchFiles and replaceInFiles, as the daemon answers them", async () => {
    const { daytona } = h()
    const sb = await daytona.create({ labels: { app: "search" } })
    const home = (await sb.getUserHomeDir())!
    await sb.fs.createFolder(`${home}/src`, "755")
    await sb.fs.createFolder(`${home}/src/lib`, "755")
    await sb.fs.uploadFile(Buffer.from("const a = 1\n// TODO: fix\nconst b = 2\n"), `${home}/src/a.ts`)
    await sb.fs.uploadFile(Buffer.from("TODO first\nnothing\n"), `${home}/src/lib/b.ts`)
    await sb.fs.uploadFile(Buffer.from("TODO\u0000binary"), `${home}/src/blob.bin`)
    await sb.fs.uploadFile(Buffer.from("x"), `${home}/src/lib/c.md`)

    const found = await sb.fs.findFiles(`${home}/src`, "TODO")
    expect(found).toEqual([
      { file: `${home}/src/a.ts`, line: 2, content: "// TODO: fix" },
      { file: `${home}/src/lib/b.ts`, line: 1, content: "TODO first" }
    ])
    const named = await sb.fs.searchFiles(`${home}/src`, "*.ts")
    expect(named.files.sort()).toEqual([`${home}/src/a.ts`, `${home}/src/lib/b.ts`])
    expect((await sb.fs.searchFiles(`${home}/src`, "li?")).files).toEqual([`${home}/src/lib`])

    const replaced = await sb.fs.replaceInFiles([`${home}/src/a.ts`, `${home}/src/missing.ts`], "const", "let")
    expect(replaced.map((r) => [r.file, r.success])).toEqual([
      [`${home}/src/a.ts`, true],
      [`${home}/src/missing.ts`, false]
    ])
    expect((await sb.fs.downloadFile(`${home}/src/a.ts`)).toString()).toBe("let a = 1\n// TODO: fix\nlet b = 2\n")
    await sb.delete()
  })

  it("globs follow Go's filepath.Match: * and ? stop at /, classes and escapes", () => {
    expect(globRegExp("*.ts").test("a.ts")).toBe(true)
    expect(globRegExp("*.ts").test("a/b.ts")).toBe(false)
    expect(globRegExp("f?o").test("foo")).toBe(true)
    expect(globRegExp("[a-c]x").test("bx")).toBe(true)
    expect(globRegExp("[^a-c]x").test("bx")).toBe(false)
    expect(globRegExp("a\\*").test("a*")).toBe(true)
    expect(globRegExp("a.b").test("axb")).toBe(false)
  })
})

describe("code run", () => {
  it("runs Python, and TypeScript through node, with argv and env; a timeout is 408", async () => {
    const { daytona } = h()
    const py = await daytona.create({ language: "python" })
    const ran = await py.process.codeRun("import sys, os\nprint(sys.argv[1:], os.environ['WHO'])\nsys.exit(3)", {
      argv: ["a b", "c"],
      env: { WHO: "me" }
    })
    expect(ran).toMatchObject({ exitCode: 3, result: "['a b', 'c'] me\n" })
    const slow = await py.process.codeRun("import time\ntime.sleep(5)", undefined, 1).catch((e: unknown) => e)
    expect((slow as DaytonaError).statusCode).toBe(408)
    await py.delete()
    const ts = await daytona.create({ language: "typescript" })
    const typed = await ts.process.codeRun("const n: number = 6 * 7\nconsole.log(`n=${n}`, process.argv.slice(2))", {
      argv: ["x"]
    })
    expect(typed).toMatchObject({ exitCode: 0, result: "n=42 [ 'x' ]\n" })
    await ts.delete()
  }, 60_000) // two sandboxes, a 1 s timeout and node compiling TypeScript: 34 s at load 27
})

describe("ports", () => {
  it("lists the ports the sandbox's processes listen on; in-use tells them apart from free ones", async () => {
    const { daytona, emu } = h()
    const sb = await daytona.create({ labels: { app: "ports" } })
    const server = "require('http').createServer((q, s) => s.end('ok')).listen(0, '127.0.0.1', function () { " +
      "require('fs').writeFileSync('port', String(this.address().port)) })"
    await sb.process.createSession("srv")
    await sb.process.executeSessionCommand("srv", { command: `node -e ${JSON.stringify(server)}`, runAsync: true })
    let port = ""
    for (let i = 0; i < 100 && port === ""; i++) {
      port = await sb.fs.downloadFile(`${(await sb.getWorkDir())!}/port`).then((b) => b.toString(), () => "")
      if (port === "") await new Promise((r) => setTimeout(r, 100))
    }
    const listed = await raw(emu, "GET", `/toolbox/${sb.id}/port`)
    expect((listed.json as { ports: Array<number> }).ports).toContain(Number(port))
    expect((await raw(emu, "GET", `/toolbox/${sb.id}/port/${port}/in-use`)).json).toEqual({ isInUse: true })
    await sb.process.deleteSession("srv")
    const other = await daytona.create({ labels: { app: "ports-other" } })
    expect((await raw(emu, "GET", `/toolbox/${other.id}/port`)).json).toEqual({ ports: [] })
    await Promise.all([sb.delete(), other.delete()])
  })
})

describe("system metrics", () => {
  it("reports the sandbox's limits, its disk use and its processes' memory", async () => {
    const { daytona } = h()
    const sb = await daytona.create({ labels: { app: "metrics" } })
    await sb.fs.uploadFile(Buffer.alloc(100_000, 1), `${(await sb.getUserHomeDir())!}/big.bin`)
    await sb.process.createSession("mem")
    await sb.process.executeSessionCommand("mem", { command: "sleep 30", runAsync: true })
    const m = await sb.getMetricsLatest()
    expect(m).toMatchObject({ cpuCount: 1, memTotal: 1024 ** 3, diskTotal: 3 * 1024 ** 3, cpuUsedPct: 0 })
    expect(m.diskUsed).toBeGreaterThanOrEqual(100_000)
    expect(m.memUsed).toBeGreaterThan(0)
    // The SDK leaves diskFree out; the wire has it.
    const wire = (await raw(h().emu, "GET", `/toolbox/${sb.id}/system/metrics`)).json as Record<string, number>
    expect(wire["diskFree"]).toBe(wire["diskTotal"]! - wire["diskUsed"]!)
    await sb.process.deleteSession("mem")
    await sb.delete()
  })
})
