/**
 * Where the emulator follows the real daemon and API closely (issue 13): the shell commands run through, their
 * containment and user, deletes that linger, the auto-stop timer, a killed command's exit code, the default
 * exec timeout, symlinks in listings, session input, and the fault model (rate-limit header forms, lost replies,
 * 502s from the toolbox proxy, refused log WebSockets and Socket.IO handshakes).
 */
import { DaytonaRateLimitError } from "@daytonaio/sdk"
import { existsSync } from "node:fs"
import * as nodePath from "node:path"
import { describe, expect, it } from "vitest"
import { startEmulator } from "../src/index.js"
import type { Emulator, EmulatorOptions } from "../src/index.js"
import { API_KEY, raw, withClient } from "./helpers/harness.js"

const withEmulator = async <A>(options: Omit<EmulatorOptions, "apiKey">, f: (emu: Emulator) => Promise<A>) => {
  const emu = await startEmulator({ apiKey: API_KEY, ...options })
  try {
    return await f(emu)
  } finally {
    await emu.close()
  }
}

const until = async (f: () => boolean, ms = 10_000) => {
  const end = Date.now() + ms
  while (!f()) {
    if (Date.now() > end) throw new Error("condition not met in time")
    await new Promise((r) => setTimeout(r, 50))
  }
}

describe("shell", () => {
  for (const shell of ["sh", "bash", "zsh"] as const) {
    it(`runs commands through ${shell}, which reads them on stdin as the daemon's does`, () =>
      withEmulator({ shell }, (emu) =>
        withClient(emu, async (d) => {
          const sb = await d.create()
          const r = await sb.process.executeCommand("echo \"${ZSH_VERSION:+zsh}${BASH_VERSION:+bash}\"; echo $SHELL")
          const [which, path] = r.result.split("\n")
          expect(which).toBe(shell === "sh" ? "" : shell)
          expect(path).toBe(emu.shell)
          // zsh's own rules apply: a glob that matches nothing is an error there.
          const glob = await sb.process.executeCommand("echo nothing-here/.[!.]*")
          expect(glob.exitCode === 0).toBe(shell !== "zsh")
        })))
  }
})

describe("containment", () => {
  it("a command writes nothing outside its sandbox, runs as uid 1000 where it can, and sees its own /tmp", () =>
    withEmulator({}, async (emu) => {
      if (!emu.isolatedProcesses) return // no bubblewrap here: nothing to contain with
      await withClient(emu, async (d) => {
        const sb = await d.create()
        const probe = `/usr/local/bin/daytona-emulator-probe-${process.pid}`
        const r = await sb.process.executeCommand(`touch ${probe}; echo "rc=$?"; id -u; touch /tmp/t && echo tmp-ok`)
        expect(r.result).toMatch(/rc=[1-9]/)
        expect(r.result).toContain("tmp-ok")
        expect(existsSync(probe)).toBe(false)
        if (emu.sandboxUser) expect(r.result).toContain("\n1000\n")
        const dir = emu.sandboxes().find((s) => s.id === sb.id)!.dir
        expect(existsSync(nodePath.join(dir, "tmp", "t"))).toBe(true)
      })
    }))
})

describe("a delete that lingers", () => {
  it("keeps the sandbox in its state, then destroying, then gone; a second DELETE answers 409", () =>
    withEmulator({ deleteLinger: { unchangedMs: 300, destroyingMs: 300 } }, async (emu) => {
      const created = (await raw(emu, "POST", "/api/sandbox", { body: {} })).json as { id: string }
      const first = await raw(emu, "DELETE", `/api/sandbox/${created.id}`)
      expect(first.status).toBe(200)
      expect(first.json).toMatchObject({ state: "started", desiredState: "destroyed" })
      expect((await raw(emu, "DELETE", `/api/sandbox/${created.id}`)).status).toBe(409)
      expect((await raw(emu, "POST", `/api/sandbox/${created.id}/stop`)).status).toBe(409)
      await until(() => emu.sandboxes()[0]!.state === "destroying")
      expect((await raw(emu, "GET", `/api/sandbox/${created.id}`)).json).toMatchObject({ state: "destroying" })
      await until(() => emu.sandboxes()[0]!.state === "destroyed")
      expect((await raw(emu, "GET", `/api/sandbox/${created.id}`)).status).toBe(404)
    }))
})

describe("auto-stop", () => {
  it("stops a sandbox idle for its interval; toolbox traffic counts as activity, a running process does not", () =>
    withEmulator({ autoStopMinuteMs: 1000 }, (emu) =>
      withClient(emu, async (d) => {
        const busy = await d.create({ autoStopInterval: 1 })
        const idle = await d.create({ autoStopInterval: 1 })
        const never = await d.create({ autoStopInterval: 0 })
        await idle.process.executeCommand("nohup sleep 30 > /dev/null 2>&1 &")
        const state = (id: string) => emu.sandboxes().find((s) => s.id === id)!.state
        const end = Date.now() + 2500
        while (Date.now() < end) {
          await busy.fs.listFiles(".")
          await new Promise((r) => setTimeout(r, 100))
        }
        await until(() => state(idle.id) === "stopped")
        expect(state(busy.id)).toBe("started")
        expect(state(never.id)).toBe("started")
        await busy.refreshActivity() // POST /sandbox/{id}/last-activity
      })))
})

describe("process details", () => {
  it("a command killed by a signal reports -1, as Go's ExitCode does; a session's shell reports 128+n", () =>
    withEmulator({}, (emu) =>
      withClient(emu, async (d) => {
        const sb = await d.create()
        expect((await sb.process.executeCommand("kill -9 $$")).exitCode).toBe(-1)
        await sb.process.createSession("s")
        const r = await sb.process.executeSessionCommand("s", { command: "sh -c 'kill -9 $$'" })
        expect(r.exitCode).toBe(137)
      })))

  it("applies no time limit unless the request sets one", () =>
    withEmulator({}, (emu) =>
      withClient(emu, async (d) => {
        const sb = await d.create()
        expect((await sb.process.executeCommand("sleep 11; echo late")).result).toBe("late\n")
      })), 30_000)

  it("lists what a symlink points to and leaves out dangling ones and ones leading out of the sandbox", () =>
    withEmulator({}, (emu) =>
      withClient(emu, async (d) => {
        const sb = await d.create()
        await sb.process.executeCommand(
          "mkdir -p l/dir && echo hi > l/file && cd l && ln -s file to-file && ln -s dir to-dir && ln -s nowhere dangling" +
            " && ln -s ../../../../../../../../etc/passwd escape"
        )
        const names = (await sb.fs.listFiles("l")).map((f) => `${f.name}:${f.isDir ? "d" : "f"}`)
        expect(names.sort()).toEqual(["dir:d", "file:f", "to-dir:d", "to-file:f"])
      })))

  it("ends session input with a newline when it has none, so `read` returns", () =>
    withEmulator({}, (emu) =>
      withClient(emu, async (d) => {
        const sb = await d.create()
        await sb.process.createSession("in")
        const { cmdId } = await sb.process.executeSessionCommand("in", {
          command: "read x; echo got:$x",
          runAsync: true
        })
        await sb.process.sendSessionCommandInput("in", cmdId!, "hello")
        await until(() => false, 0).catch(() => undefined)
        let exit: number | undefined
        for (let i = 0; i < 100 && exit === undefined; i++) {
          exit = (await sb.process.getSessionCommand("in", cmdId!)).exitCode ?? undefined
          await new Promise((r) => setTimeout(r, 50))
        }
        expect(exit).toBe(0)
        expect((await sb.process.getSessionCommandLogs("in", cmdId!)).stdout).toContain("got:hello")
      })))
})

describe("fault model", () => {
  it("429s carry their wait as Retry-After or a per-limiter variant, in seconds or as an HTTP date", () =>
    withEmulator({}, async (emu) => {
      emu.setFaults([
        {
          route: "GET /api/sandbox",
          kind: "429",
          retryAfterSeconds: 7,
          retryAfterHeader: "Retry-After-sandbox-create",
          times: 1
        },
        { route: "GET /api/sandbox", kind: "429", retryAfterSeconds: 5, retryAfterDate: true, times: 1 }
      ])
      const a = await raw(emu, "GET", "/api/sandbox")
      expect(a.status).toBe(429)
      expect(a.headers.get("retry-after-sandbox-create")).toBe("7")
      const b = await raw(emu, "GET", "/api/sandbox")
      const at = Date.parse(b.headers.get("retry-after") ?? "")
      expect(at - Date.now()).toBeGreaterThan(3000)
      const err = await withClient(emu, async (d) => {
        emu.setFaults([{ route: "GET /api/sandbox", kind: "429", retryAfterSeconds: 2, times: 1 }])
        return d.list().next().catch((e: unknown) => e)
      })
      expect(err).toBeInstanceOf(DaytonaRateLimitError)
    }))

  it("drop-after acts and then drops the reply; 502 comes from the toolbox proxy; log WebSockets can be refused", () =>
    withEmulator({}, (emu) =>
      withClient(emu, async (d) => {
        emu.setFaults([{ route: "POST /api/sandbox", kind: "drop-after", times: 1 }])
        const lost = await d.create({ labels: { lost: "yes" } }).catch((e: unknown) => e)
        expect(lost).toBeInstanceOf(Error)
        expect(emu.sandboxes().filter((s) => s.labels["lost"] === "yes")).toHaveLength(1)
        const sb = await d.create()
        emu.setFaults([{ route: "GET /toolbox/{sandboxId}/files", kind: "502", times: 1 }])
        const bad = await sb.fs.listFiles(".").catch((e: unknown) => e)
        expect((bad as { statusCode?: number }).statusCode).toBe(502)
        await sb.process.createSession("ws")
        const { cmdId } = await sb.process.executeSessionCommand("ws", { command: "echo hi", runAsync: true })
        emu.setFaults([{ route: /\/logs$/, kind: "503", times: 1 }])
        const refused = await sb.process.getSessionCommandLogs("ws", cmdId!, () => undefined, () => undefined)
          .then(() => "ok", () => "refused")
        expect(refused).toBe("refused")
        expect(emu.stats().faultsInjected).toBe(3)
      })))
})
