/**
 * The toolbox filesystem through the real SDK: chunked multipart uploads, multipart downloads with per-file error
 * parts, listing, details, folders, deletes, and the sandbox directory boundary.
 */
import type { Sandbox } from "@daytonaio/sdk"
import { DaytonaFileNotFoundError, DaytonaForbiddenError } from "@daytonaio/sdk"
import { existsSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as nodePath from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { raw, useHarness } from "./helpers/harness.js"

const h = useHarness()
let sb: Sandbox
let home: string
const local = mkdtempSync(nodePath.join(tmpdir(), "emu-files-"))

beforeAll(async () => {
  sb = await h().daytona.create({ labels: { app: "files" } })
  home = h().emu.sandboxes().find((s) => s.id === sb.id)!.homeDir
})

describe("upload", () => {
  it("uploads from a Buffer and from a local path, relative and absolute, creating parents", async () => {
    const src = nodePath.join(local, "from-disk.bin")
    const bytes = Buffer.from(Array.from({ length: 300_000 }, (_, i) => i % 251))
    writeFileSync(src, bytes)
    await sb.fs.uploadFile(Buffer.from("hello"), "up/hello.txt")
    await sb.fs.uploadFile(src, "/home/daytona/up/deep/from-disk.bin")
    expect(readFileSync(nodePath.join(home, "up/hello.txt"), "utf8")).toBe("hello")
    expect(readFileSync(nodePath.join(home, "up/deep/from-disk.bin")).equals(bytes)).toBe(true)
  })

  it("uploads several files in one request, matched by index, overwriting", async () => {
    const { emu } = h()
    emu.resetStats()
    await sb.fs.uploadFiles([
      { source: Buffer.from("one"), destination: "multi/1.txt" },
      { source: Buffer.from("two"), destination: "multi/2.txt" },
      { source: Buffer.from("THREE"), destination: "/tmp/3.txt" },
      { source: Buffer.from("one again"), destination: "multi/1.txt" }
    ])
    expect(emu.stats().routes).toEqual({ "POST /toolbox/{sandboxId}/files/bulk-upload": 1 })
    expect(readFileSync(nodePath.join(home, "multi/1.txt"), "utf8")).toBe("one again")
    expect(readFileSync(nodePath.join(home, "multi/2.txt"), "utf8")).toBe("two")
    const sandboxRoot = emu.sandboxes().find((s) => s.id === sb.id)!.dir
    expect(readFileSync(nodePath.join(sandboxRoot, "tmp/3.txt"), "utf8")).toBe("THREE")
  })
})

describe("download", () => {
  it("downloads to a Buffer and to a local path", async () => {
    await sb.fs.uploadFile(Buffer.from("download me"), "dl/a.txt")
    expect((await sb.fs.downloadFile("dl/a.txt")).toString()).toBe("download me")
    expect((await sb.fs.downloadFile("/home/daytona/dl/a.txt")).toString()).toBe("download me")
    const dest = nodePath.join(local, "downloaded.txt")
    await sb.fs.downloadFile("dl/a.txt", dest)
    expect(readFileSync(dest, "utf8")).toBe("download me")
  })

  it("downloads several, with an error part for a missing path, keyed by the exact requested path", async () => {
    await sb.fs.uploadFile(Buffer.from("b"), "dl/b.txt")
    await sb.fs.uploadFile(Buffer.from("ünï"), "dl/ünïcode \"q\".txt")
    const results = await sb.fs.downloadFiles([
      { source: "dl/b.txt" },
      { source: "/home/daytona/dl/missing.txt" },
      { source: "dl/ünïcode \"q\".txt" },
      { source: "dl" }
    ])
    expect(results.map((r) => r.source)).toEqual([
      "dl/b.txt",
      "/home/daytona/dl/missing.txt",
      "dl/ünïcode \"q\".txt",
      "dl"
    ])
    expect((results[0]!.result as Buffer).toString()).toBe("b")
    expect(results[1]!.result).toBeUndefined()
    expect(results[1]!.errorDetails).toMatchObject({
      statusCode: 404,
      code: "FILE_NOT_FOUND",
      source: "DAYTONA_DAEMON"
    })
    expect((results[2]!.result as Buffer).toString()).toBe("ünï")
    expect(results[3]!.errorDetails).toMatchObject({ statusCode: 400, code: "INVALID_FILE_PATH" })
  })

  it("throws DaytonaFileNotFoundError for a single missing file", async () => {
    await expect(sb.fs.downloadFile("nope.txt")).rejects.toBeInstanceOf(DaytonaFileNotFoundError)
  })
})

describe("list, details, folders, delete", () => {
  it("lists a directory and gets file details in the daemon's shape", async () => {
    await sb.fs.createFolder("tree/sub", "750")
    await sb.fs.uploadFile(Buffer.from("12345"), "tree/f.txt")
    const entries = await sb.fs.listFiles("tree")
    expect(entries.map((e) => [e.name, e.isDir])).toEqual([["f.txt", false], ["sub", true]])
    const info = await sb.fs.getFileDetails("tree/f.txt")
    expect(info).toMatchObject({ name: "f.txt", isDir: false, size: 5, path: "/home/daytona/tree/f.txt" })
    expect(info.mode).toMatch(/^-rw-/)
    expect(info.permissions).toMatch(/^0[0-7]{3}$/)
    const dir = await sb.fs.getFileDetails("/home/daytona/tree/sub")
    expect(dir.isDir).toBe(true)
    expect(dir.mode).toBe("drwxr-x---")
    expect(dir.permissions).toBe("0750")
    await expect(sb.fs.getFileDetails("tree/none")).rejects.toBeInstanceOf(DaytonaFileNotFoundError)
    expect((await sb.fs.listFiles(".")).map((e) => e.name)).toContain("tree")
  })

  it("deletes files, and directories only with recursive", async () => {
    await sb.fs.uploadFile(Buffer.from("x"), "gone/x.txt")
    await expect(sb.fs.deleteFile("gone")).rejects.toThrow(/recursive/)
    await sb.fs.deleteFile("gone/x.txt")
    expect(existsSync(nodePath.join(home, "gone/x.txt"))).toBe(false)
    await sb.fs.deleteFile("gone", true)
    expect(existsSync(nodePath.join(home, "gone"))).toBe(false)
    await expect(sb.fs.deleteFile("gone")).rejects.toBeInstanceOf(DaytonaFileNotFoundError)
  })
})

describe("the sandbox boundary", () => {
  it("keeps `..` inside the sandbox and refuses symlinks that leave it", async () => {
    const { emu } = h()
    await sb.fs.uploadFile(Buffer.from("root file"), "/../../../../etc-in-sandbox.txt")
    const sandboxRoot = emu.sandboxes().find((s) => s.id === sb.id)!.dir
    expect(readFileSync(nodePath.join(sandboxRoot, "etc-in-sandbox.txt"), "utf8")).toBe("root file")
    symlinkSync(tmpdir(), nodePath.join(home, "escape"))
    await expect(sb.fs.listFiles("escape")).rejects.toBeInstanceOf(DaytonaForbiddenError)
    const reply = await raw(emu, "GET", `/toolbox/${sb.id}/files/info?path=escape/x`)
    expect(reply.status).toBe(403)
    expect(reply.json).toMatchObject({ code: "FILE_ACCESS_DENIED", source: "DAYTONA_DAEMON" })
  })
})
