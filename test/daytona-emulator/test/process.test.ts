/**
 * Commands through the real SDK: `executeCommand` (real `sh`, combined output, cwd, env, timeout killing the process
 * group) and sessions (sync and async exec, command status, JSON logs, the followed WebSocket).
 */
import type { Sandbox } from "@daytonaio/sdk"
import { DaytonaConflictError, DaytonaNotFoundError, DaytonaProcessExecutionTimeoutError } from "@daytonaio/sdk"
import { readFileSync } from "node:fs"
import * as nodePath from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { raw, useHarness } from "./helpers/harness.js"

const h = useHarness()
let sb: Sandbox
let home: string
/** The home as commands see it: `/home/daytona` when contained, else the host directory. */
let seen: string

beforeAll(async () => {
  sb = await h().daytona.create({ labels: { app: "process" }, envVars: { SANDBOX_VAR: "from-create" } })
  home = h().emu.sandboxes().find((s) => s.id === sb.id)!.homeDir
  seen = h().emu.isolatedProcesses ? "/home/daytona" : home
})

/** True once a pid is gone or a zombie (a container's init may never reap orphans). */
const isDead = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3)
    return state === "Z" || state === "X"
  } catch {
    return true
  }
}

describe("executeCommand", () => {
  it("runs sh with shell syntax, combines stdout and stderr, and reports the exit code with HTTP 200", async () => {
    const r = await sb.process.executeCommand("echo out; echo err 1>&2; exit 7")
    expect(r.exitCode).toBe(7)
    expect(r.result).toContain("out\n")
    expect(r.result).toContain("err\n")
    expect(r.artifacts?.stdout).toBe(r.result)
  })

  it("runs in the work dir with HOME inside the sandbox, honours cwd and env", async () => {
    const pwd = await sb.process.executeCommand("pwd")
    expect(pwd.result.trim()).toBe(seen)
    const vars = await sb.process.executeCommand("printf '%s|%s|%s' \"$HOME\" \"$SANDBOX_VAR\" \"$EXTRA\"", undefined, {
      EXTRA: "x y"
    })
    expect(vars.result).toBe(`${seen}|from-create|x y`)
    await sb.fs.createFolder("work/dir", "755")
    const cwd = await sb.process.executeCommand("pwd && echo made > here.txt", "work/dir")
    expect(cwd.result.trim()).toBe(nodePath.join(seen, "work/dir"))
    expect((await sb.fs.downloadFile("/home/daytona/work/dir/here.txt")).toString()).toBe("made\n")
    const missing = await sb.process.executeCommand("true", "/no/such/dir")
    expect(missing.exitCode).toBe(-1)
  })

  it("times out with DaytonaProcessExecutionTimeoutError and kills the whole process group", async () => {
    const started = Date.now()
    const err = await sb.process
      .executeCommand("sleep 30 & echo $! > bg.pid; sleep 30", undefined, undefined, 1)
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(DaytonaProcessExecutionTimeoutError)
    expect((err as { statusCode?: number }).statusCode).toBe(408)
    expect(Date.now() - started).toBeLessThan(5000)
    const pid = Number(readFileSync(nodePath.join(home, "bg.pid"), "utf8"))
    await expect.poll(() => isDead(pid)).toBe(true)
  })

  it("refuses an empty command with 400", async () => {
    const { emu } = h()
    const r = await raw(emu, "POST", `/toolbox/${sb.id}/process/execute`, { body: { command: "" } })
    expect(r.status).toBe(400)
    expect(r.json).toMatchObject({ statusCode: 400, code: "BAD_REQUEST", source: "DAYTONA_DAEMON" })
  })
})

describe("sessions", () => {
  it("creates sessions (409 on duplicates), lists and deletes them", async () => {
    await sb.process.createSession("s-admin")
    await expect(sb.process.createSession("s-admin")).rejects.toBeInstanceOf(DaytonaConflictError)
    expect((await sb.process.listSessions()).map((s) => s.sessionId)).toContain("s-admin")
    await sb.process.deleteSession("s-admin")
    await expect(sb.process.getSession("s-admin")).rejects.toBeInstanceOf(DaytonaNotFoundError)
  })

  it("runs sync commands that keep cd and export across the session, with demultiplexed output", async () => {
    await sb.process.createSession("s-sync")
    await sb.fs.createFolder("sess/inner", "755")
    const first = await sb.process.executeSessionCommand("s-sync", {
      command: "cd sess/inner && export GREETING=hi && echo to-out && echo to-err >&2"
    })
    expect(first.exitCode).toBe(0)
    expect(first.stdout).toBe("to-out\n")
    expect(first.stderr).toBe("to-err\n")
    // As on the real daemon, `output` is the raw log with stream markers.
    expect(first.output).toBe("\x01\x01\x01to-out\n\x02\x02\x02to-err\n")
    const second = await sb.process.executeSessionCommand("s-sync", { command: "pwd; echo $GREETING; exit 4" })
    expect(second.stdout).toBe(`${nodePath.join(seen, "sess/inner")}\nhi\n`)
    expect(second.exitCode).toBe(4)
    const session = await sb.process.getSession("s-sync")
    expect(session.commands?.map((c) => c.exitCode)).toEqual([0, 4])
  })

  it("runs async commands: 202 with cmdId, exitCode absent while running, then present; JSON logs", async () => {
    await sb.process.createSession("s-async")
    const { cmdId } = await sb.process.executeSessionCommand("s-async", {
      command: "echo begin; read line; echo \"got $line\"; echo oops >&2",
      runAsync: true
    })
    expect(cmdId).toEqual(expect.any(String))
    const running = await sb.process.getSessionCommand("s-async", cmdId!)
    expect(running).not.toHaveProperty("exitCode")
    // The daemon echoes input into the log: send it once the command has printed, so the order is fixed.
    await expect.poll(async () => (await sb.process.getSessionCommandLogs("s-async", cmdId!)).stdout).toBe("begin\n")
    await sb.process.sendSessionCommandInput("s-async", cmdId!, "typed\n")
    await expect.poll(async () => (await sb.process.getSessionCommand("s-async", cmdId!)).exitCode).toBe(0)
    const logs = await sb.process.getSessionCommandLogs("s-async", cmdId!)
    expect(logs.stdout).toBe("begin\ntyped\ngot typed\n")
    expect(logs.stderr).toBe("oops\n")
  })

  it("follows logs over the WebSocket, stdout and stderr to separate callbacks, until the command exits", async () => {
    const { emu } = h()
    await sb.process.createSession("s-follow")
    const { cmdId } = await sb.process.executeSessionCommand("s-follow", {
      command: "for i in 1 2 3; do echo out$i; echo err$i >&2; sleep 0.1; done",
      runAsync: true
    })
    const before = emu.stats().webSockets
    const out: Array<string> = []
    const err: Array<string> = []
    await sb.process.getSessionCommandLogs("s-follow", cmdId!, (s) => out.push(s), (s) => err.push(s))
    expect(out.join("")).toBe("out1\nout2\nout3\n")
    expect(err.join("")).toBe("err1\nerr2\nerr3\n")
    expect(emu.stats().webSockets).toBe(before + 1)
    expect((await sb.process.getSessionCommand("s-follow", cmdId!)).exitCode).toBe(0)
    // Following a finished command replays the log and closes at once.
    const replay: Array<string> = []
    await sb.process.getSessionCommandLogs("s-follow", cmdId!, (s) => replay.push(s), () => undefined)
    expect(replay.join("")).toBe("out1\nout2\nout3\n")
  })

  it("authenticates the log WebSocket by bearer header or by the preview token in the query", async () => {
    const { emu } = h()
    const { default: WebSocket } = await import("ws")
    await sb.process.createSession("s-ws-auth")
    const { cmdId } = await sb.process.executeSessionCommand("s-ws-auth", { command: "echo hi" })
    const base = `${emu.toolboxUrl.replace(/^http/, "ws")}/${sb.id}/process/session/s-ws-auth/command/${cmdId}/logs`
    const frames = (url: string): Promise<Array<Buffer> | number> =>
      new Promise((resolve) => {
        const got: Array<Buffer> = []
        const ws = new WebSocket(url)
        ws.on("message", (d: Buffer) => got.push(d))
        ws.on("close", () => resolve(got))
        ws.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0))
        ws.on("error", () => undefined)
      })
    expect(await frames(`${base}?follow=true`)).toBe(401)
    const { token } = await sb.getPreviewLink(1)
    const got = await frames(`${base}?follow=true&DAYTONA_SANDBOX_AUTH_KEY=${token}`)
    expect(Buffer.concat(got as Array<Buffer>).toString()).toBe("\x01\x01\x01hi\n")
  })
})
