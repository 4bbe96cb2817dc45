/**
 * The emulator against the OpenAPI documents: every route it serves exists in the spec with that method, and the
 * JSON replies of the main routes validate against the spec's response schemas (closed: no invented fields).
 */
import { describe, expect, it } from "vitest"
import type { RequestRecord } from "../src/index.js"
import { startEmulator } from "../src/index.js"
import { API_KEY, raw, useHarness, withClient } from "./helpers/harness.js"
import type { RawReply } from "./helpers/harness.js"
import { specLocation, specOperation, validateNamed, validateRequest, validateResponse } from "./helpers/openapi.js"

const h = useHarness()

describe("routes", () => {
  it("every served route exists in the spec with the same method", () => {
    const routes = h().emu.routes()
    expect(routes.length).toBeGreaterThan(40)
    const missing = routes.filter((r) => {
      const { plane, path } = specLocation(r.template)
      return specOperation(plane, r.method, path) === undefined
    })
    expect(missing).toEqual([])
  })

  it("serves the minimal endpoint set of daytona-api.md §16", () => {
    const served = new Set(h().emu.routes().map((r) => `${r.method} ${r.template}`))
    const required = [
      "POST /api/sandbox",
      "GET /api/sandbox",
      "GET /api/sandbox/{sandboxIdOrName}",
      "DELETE /api/sandbox/{sandboxIdOrName}",
      "POST /api/sandbox/{sandboxIdOrName}/start",
      "POST /api/sandbox/{sandboxIdOrName}/stop",
      "POST /api/sandbox/{sandboxIdOrName}/archive",
      "PUT /api/sandbox/{sandboxIdOrName}/labels",
      "POST /api/sandbox/{sandboxIdOrName}/autostop/{interval}",
      "POST /api/sandbox/{sandboxIdOrName}/autoarchive/{interval}",
      "POST /api/sandbox/{sandboxIdOrName}/autodelete/{interval}",
      "GET /api/sandbox/{sandboxIdOrName}/ports/{port}/preview-url",
      "GET /api/sandbox/{sandboxIdOrName}/ports/{port}/signed-preview-url",
      "POST /api/sandbox/{sandboxIdOrName}/ssh-access",
      "GET /api/snapshots",
      "GET /api/snapshots/{id}",
      "POST /api/snapshots",
      "DELETE /api/snapshots/{id}",
      "GET /api/sandbox/{sandboxId}/toolbox-proxy-url",
      "POST /toolbox/{sandboxId}/files/bulk-upload",
      "POST /toolbox/{sandboxId}/files/bulk-download",
      "GET /toolbox/{sandboxId}/files",
      "GET /toolbox/{sandboxId}/files/info",
      "DELETE /toolbox/{sandboxId}/files",
      "POST /toolbox/{sandboxId}/files/folder",
      "POST /toolbox/{sandboxId}/process/execute",
      "POST /toolbox/{sandboxId}/process/session",
      "GET /toolbox/{sandboxId}/process/session/{sessionId}",
      "DELETE /toolbox/{sandboxId}/process/session/{sessionId}",
      "POST /toolbox/{sandboxId}/process/session/{sessionId}/exec",
      "GET /toolbox/{sandboxId}/process/session/{sessionId}/command/{commandId}",
      "GET /toolbox/{sandboxId}/process/session/{sessionId}/command/{commandId}/logs",
      "GET /toolbox/{sandboxId}/user-home-dir",
      "GET /toolbox/{sandboxId}/work-dir"
    ]
    expect(required.filter((r) => !served.has(r))).toEqual([])
  })
})

describe("response bodies", () => {
  it("are checked by a validator that rejects missing, mistyped and invented fields", async () => {
    const dto = (await raw(h().emu, "POST", "/api/sandbox", { body: { labels: {} } })).json as Record<string, unknown>
    expect(validateNamed("api", "Sandbox", dto)).toBe("")
    expect(validateNamed("api", "Sandbox", { ...dto, memoryGiB: 1 })).toMatch(/additional properties/)
    expect(validateNamed("api", "Sandbox", { ...dto, cpu: "1" })).toMatch(/cpu must be number/)
    const { toolboxProxyUrl: _, ...withoutProxy } = dto
    expect(validateNamed("api", "Sandbox", withoutProxy)).toMatch(/toolboxProxyUrl/)
    expect(validateNamed("api", "SandboxListItem", dto)).toMatch(/additional properties/) // env is not a list field
    expect(validateNamed("toolbox", "FileInfo", { name: 1 })).not.toBe("")
    const v = validateResponse("api", "GET", "/sandbox", 200, { items: [{ ...dto, state: "bogus" }], nextCursor: null })
    expect(v.errors).toMatch(/state must be equal to one of the allowed values/)
  })

  it("validate against the spec's response schemas", async () => {
    const { emu } = h()
    const checked: Array<string> = []
    const problems: Array<string> = []
    const call = async (method: string, path: string, body?: unknown, expectStatus?: number): Promise<RawReply> => {
      const reply = await raw(emu, method, path, body === undefined ? {} : { body })
      if (expectStatus !== undefined && reply.status !== expectStatus) {
        problems.push(`${method} ${path}: status ${reply.status}, wanted ${expectStatus}: ${reply.text}`)
        return reply
      }
      if (reply.json === undefined) return reply
      const plane = path.startsWith("/api/") ? "api" : "toolbox"
      const concrete = (plane === "api" ? path.slice(4) : path.replace(/^\/toolbox\/[^/]+/, "")).split("?")[0]!
      const v = validateResponse(plane, method, concrete, reply.status, reply.json)
      if (v.schema) checked.push(`${method} ${v.specPath} ${reply.status}`)
      if (v.errors) problems.push(`${method} ${path} (${reply.status}): ${v.errors}`)
      return reply
    }

    const created = await call("POST", "/api/sandbox", { labels: { app: "spec" }, env: { A: "1" } }, 200)
    const id = (created.json as { id: string }).id
    expect(validateNamed("api", "Sandbox", created.json)).toBe("")
    await call("POST", "/api/sandbox", { buildInfo: { dockerfileContent: "FROM node:20\n" }, cpu: 2, labels: {} }, 200)
    await call("GET", `/api/sandbox/${id}`, undefined, 200)
    await call("GET", `/api/sandbox?labels=${encodeURIComponent("{\"app\":\"spec\"}")}`, undefined, 200)
    await call("GET", "/api/sandbox?limit=1", undefined, 200)
    await call("PUT", `/api/sandbox/${id}/labels`, { labels: { app: "spec", more: "x" } }, 200)
    await call("POST", `/api/sandbox/${id}/autostop/5`, undefined, 200)
    await call("POST", `/api/sandbox/${id}/autoarchive/60`, undefined, 200)
    await call("POST", `/api/sandbox/${id}/autodelete/-1`, undefined, 200)
    await call("GET", `/api/sandbox/${id}/ports/3000/preview-url`, undefined, 200)
    await call("GET", `/api/sandbox/${id}/ports/3000/signed-preview-url?expiresInSeconds=30`, undefined, 200)
    const ssh = await call("POST", `/api/sandbox/${id}/ssh-access?expiresInMinutes=5`, undefined, 200)
    await call("GET", `/api/sandbox/ssh-access/validate?token=${(ssh.json as { token: string }).token}`, undefined, 200)
    await call("DELETE", `/api/sandbox/${id}/ssh-access`, undefined, 200)
    await call("GET", `/api/sandbox/${id}/toolbox-proxy-url`, undefined, 200)

    const tb = `/toolbox/${id}`
    await call("GET", `${tb}/user-home-dir`, undefined, 200)
    await call("GET", `${tb}/work-dir`, undefined, 200)
    await call("POST", `${tb}/files/folder?path=spec&mode=755`, undefined, 201)
    await call("POST", `${tb}/process/execute`, { command: "echo hi > spec/a.txt; echo done", timeout: 5 }, 200)
    await call("GET", `${tb}/files?path=spec`, undefined, 200)
    await call("GET", `${tb}/files/info?path=spec/a.txt`, undefined, 200)
    await call("GET", `${tb}/files/info?path=spec/none.txt`, undefined, 404)
    await call("POST", `${tb}/process/execute`, { command: "" }, 400)
    await call("POST", `${tb}/process/session`, { sessionId: "spec" }, 201)
    await call("POST", `${tb}/process/session`, { sessionId: "spec" }, 409)
    const sync = await call("POST", `${tb}/process/session/spec/exec`, { command: "echo a; echo b >&2" }, 200)
    const cmdId = (sync.json as { cmdId: string }).cmdId
    await call("POST", `${tb}/process/session/spec/exec`, { command: "sleep 0.2", runAsync: true }, 202)
    await call("GET", `${tb}/process/session/spec/command/${cmdId}`, undefined, 200)
    await call("GET", `${tb}/process/session/spec/command/${cmdId}/logs`, undefined, 200)
    await call("GET", `${tb}/process/session/spec`, undefined, 200)
    await call("GET", `${tb}/process/session`, undefined, 200)
    await call("GET", `${tb}/process/session/entrypoint`, undefined, 200)
    await call("DELETE", `${tb}/process/session/spec`, undefined, 204)

    await call("POST", `/api/sandbox/${id}/stop`, undefined, 200)
    await call("POST", `/api/sandbox/${id}/archive`, undefined, 200)
    await call("POST", `/api/sandbox/${id}/start`, undefined, 200)
    await call("DELETE", `/api/sandbox/${id}`, undefined, 200)

    const snap = await call("POST", "/api/snapshots", { name: "spec-snap", imageName: "alpine:3", regionId: "us" }, 200)
    await call("GET", "/api/snapshots?page=1&limit=10", undefined, 200)
    await call("GET", "/api/snapshots/spec-snap", undefined, 200)
    await call("POST", `/api/snapshots/${(snap.json as { id: string }).id}/activate`, undefined, 200)
    await call("DELETE", `/api/snapshots/${(snap.json as { id: string }).id}`, undefined, 200)

    expect(problems).toEqual([])
    // The schemas that matter were actually applied, not skipped for want of one.
    for (
      const op of [
        "POST /sandbox 200",
        "GET /sandbox 200",
        "GET /sandbox/{sandboxIdOrName} 200",
        "PUT /sandbox/{sandboxIdOrName}/labels 200",
        "GET /sandbox/{sandboxIdOrName}/ports/{port}/preview-url 200",
        "GET /sandbox/{sandboxIdOrName}/ports/{port}/signed-preview-url 200",
        "POST /sandbox/{sandboxIdOrName}/ssh-access 200",
        "GET /sandbox/{sandboxId}/toolbox-proxy-url 200",
        "POST /snapshots 200",
        "GET /snapshots 200",
        "GET /snapshots/{id} 200",
        "GET /user-home-dir 200",
        "GET /files 200",
        "GET /files/info 200",
        "GET /files/info 404",
        "POST /process/execute 200",
        "POST /process/execute 400",
        "POST /process/session 409",
        "POST /process/session/{sessionId}/exec 200",
        "POST /process/session/{sessionId}/exec 202",
        "GET /process/session/{sessionId}/command/{commandId} 200",
        "GET /process/session/{sessionId}/command/{commandId}/logs 200",
        "GET /process/session/{sessionId} 200",
        "GET /process/session 200"
      ]
    ) expect(checked).toContain(op)
  })
})

describe("request bodies", () => {
  it("the real SDK's JSON requests match the spec's request schemas, and the emulator accepts all of them", async () => {
    const records: Array<RequestRecord> = []
    const emu = await startEmulator({ apiKey: API_KEY, onRequest: (r) => records.push(r) })
    try {
      await withClient(emu, async (d) => {
        await d.snapshot.create({ name: "req-snap", image: "python:3.12", resources: { cpu: 1, memory: 1 } })
        const sb = await d.create({
          name: "req-box",
          image: "node:20",
          labels: { app: "req" },
          envVars: { A: "1" },
          resources: { cpu: 2, memory: 2, disk: 5 },
          autoStopInterval: 0,
          autoArchiveInterval: 60,
          public: true
        })
        await d.create({ snapshot: "req-snap", language: "typescript", ephemeral: true, labels: { app: "req" } })
        for await (const _ of d.list({ labels: { app: "req" } })) void _
        await sb.setLabels({ app: "req", more: "yes" })
        await sb.fs.createFolder("dir", "755")
        await sb.fs.uploadFile(Buffer.from("x"), "dir/x.txt")
        await sb.fs.downloadFiles([{ source: "dir/x.txt" }, { source: "dir/missing" }])
        await sb.process.executeCommand("echo hi", "dir", { B: "2" }, 5)
        await sb.process.createSession("s")
        await sb.process.executeSessionCommand("s", { command: "echo a" })
        await sb.process.executeSessionCommand("s", { command: "sleep 0.1", runAsync: true })
        await sb.stop()
        await sb.archive()
        await sb.start()
        await sb.delete()
      })
    } finally {
      await emu.close()
    }
    const withBody = records.filter((r) => r.body !== undefined)
    const problems: Array<string> = []
    const checked = new Set<string>()
    for (const r of withBody) {
      const { plane, path } = r.path.startsWith("/api/")
        ? { plane: "api" as const, path: r.path.slice(4) }
        : { plane: "toolbox" as const, path: r.path.replace(/^\/toolbox\/[^/]+/, "") }
      const v = validateRequest(plane, r.method, path, r.body)
      if (v.schema) checked.add(`${r.method} ${v.specPath}`)
      if (v.errors) problems.push(`${r.method} ${r.path}: ${v.errors} in ${JSON.stringify(r.body)}`)
    }
    expect(problems).toEqual([])
    expect([...checked].sort()).toEqual([
      "POST /files/bulk-download",
      "POST /process/execute",
      "POST /process/session",
      "POST /process/session/{sessionId}/exec",
      "POST /sandbox",
      "POST /snapshots",
      "PUT /sandbox/{sandboxIdOrName}/labels"
    ])
    // Everything the SDK sent was accepted (the missing file is a per-part error inside a 200).
    expect(records.filter((r) => r.status >= 300).map((r) => `${r.route} ${r.status}`)).toEqual([])
  })

  it("refuses bodies that lack a field the spec requires", async () => {
    const { emu } = h()
    const id =
      ((await raw(emu, "POST", "/api/sandbox", { body: { labels: { app: "req" } } })).json as { id: string }).id
    const cases: Array<readonly [string, string, unknown]> = [
      ["PUT", `/api/sandbox/${id}/labels`, {}],
      ["POST", "/api/snapshots", { imageName: "alpine:3" }],
      ["POST", `/toolbox/${id}/process/execute`, {}],
      ["POST", `/toolbox/${id}/process/session`, {}],
      ["POST", `/toolbox/${id}/files/bulk-download`, {}]
    ]
    for (const [method, path, body] of cases) {
      const plane = path.startsWith("/api/") ? "api" : "toolbox"
      const concrete = plane === "api" ? path.slice(4) : path.replace(/^\/toolbox\/[^/]+/, "")
      // The spec itself calls these bodies invalid...
      expect(validateRequest(plane, method, concrete, body).errors, `${method} ${path}`).toMatch(/required/)
      // ...and so does the emulator.
      expect((await raw(emu, method, path, { body })).status, `${method} ${path}`).toBe(400)
    }
  })
})
