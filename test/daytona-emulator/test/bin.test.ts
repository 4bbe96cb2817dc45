/**
 * The `daytona-emulator` bin as CLI end-to-end tests start it: a separate process, configured by flags or by
 * `DAYTONA_EMULATOR_*` variables, read and steered through the admin endpoints. Also the Socket.IO guarantee
 * that makes those tests cheap: a plain Node script using the SDK exits by itself, without disposing the client.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { afterEach, describe, expect, it } from "vitest"
import { parseCli, parseRate } from "../src/cli.js"

const packageDir = fileURLToPath(new URL("..", import.meta.url))
const repoRoot = fileURLToPath(new URL("../../..", import.meta.url))
const bin = `${packageDir}bin/daytona-emulator.mjs`

const children: Array<ChildProcess> = []
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL")
})

interface Started {
  readonly child: ChildProcess
  readonly url: string
  readonly origin: string
  readonly stderr: () => string
}

/** Spawns a command and resolves with the URL from its `listening on` line. */
const startBin = (
  command: string,
  args: ReadonlyArray<string>,
  options: { cwd?: string; env?: object; group?: boolean } = {}
) =>
  new Promise<Started>((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd ?? packageDir,
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
      // A process group of its own, so that the emulator npx starts below it can be signalled with it.
      detached: options.group === true
    })
    children.push(child)
    let out = ""
    let err = ""
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()))
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString()
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+\/api)\n/.exec(out)
      if (m) resolve({ child, url: m[1]!, origin: m[1]!.slice(0, -4), stderr: () => err })
    })
    child.once("exit", (code) => reject(new Error(`exited ${code} before listening: ${out}${err}`)))
  })

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode)
    else child.once("exit", (code) => resolve(code))
  })

const get = (origin: string, path: string, key?: string) =>
  fetch(origin + path, key === undefined ? {} : { headers: { Authorization: `Bearer ${key}` } })

describe("daytona-emulator bin", () => {
  it("serves with --port/--api-key, answers 401 without the key, exits 0 on SIGTERM", async () => {
    const { child, url, origin } = await startBin(process.execPath, [bin, "--port", "0", "--api-key", "bin-key"])
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api$/)
    expect((await get(origin, "/api/sandbox")).status).toBe(401)
    expect((await get(origin, "/api/sandbox", "other")).status).toBe(401)
    const ok = await get(origin, "/api/sandbox", "bin-key")
    expect(ok.status).toBe(200)
    expect(await ok.json()).toEqual({ items: [], nextCursor: null })
    child.kill("SIGTERM")
    expect(await exited(child)).toBe(0)
  })

  it("runs through npx from the repository root", async () => {
    const npx = process.platform === "win32" ? "npx.cmd" : "npx"
    const { child, origin } = await startBin(npx, ["--no-install", "daytona-emulator", "--api-key", "npx-key"], {
      cwd: repoRoot,
      group: true
    })
    expect((await get(origin, "/api/sandbox", "npx-key")).status).toBe(200)
    // npx does not pass SIGTERM on to the emulator it started: signal the whole group, or the emulator outlives it.
    process.kill(-child.pid!, "SIGTERM")
    await exited(child)
    let gone = false
    for (let i = 0; i < 50 && !gone; i++) {
      gone = await get(origin, "/api/sandbox", "npx-key").then(() => false, () => true)
      if (!gone) await new Promise((r) => setTimeout(r, 100))
    }
    expect(gone).toBe(true)
  })

  it("fails 30% of requests at random when started with --fail-rate, readable and changeable over /_emulator/", async () => {
    const { child, origin, stderr } = await startBin(process.execPath, [
      bin,
      "--api-key",
      "k",
      "--fail-rate",
      "30%",
      "--seed",
      "4"
    ])
    expect(stderr()).toMatch(/failing 30% of requests at random/)
    const faults = await (await get(origin, "/_emulator/faults", "k")).json()
    expect(faults).toEqual({ seed: 4, rules: [], random: { rate: 0.3 } })
    let failures = 0
    for (let i = 0; i < 100; i++) {
      const s = (await get(origin, "/api/sandbox", "k")).status
      expect([200, 429, 503]).toContain(s)
      if (s !== 200) failures++
    }
    expect(failures).toBeGreaterThan(10)
    expect(failures).toBeLessThan(55)
    const stats = await (await get(origin, "/_emulator/stats", "k")).json() as {
      requests: number
      faultsInjected: number
    }
    expect(stats).toMatchObject({ requests: 100, faultsInjected: failures })
    await fetch(`${origin}/_emulator/faults`, {
      method: "POST",
      headers: { Authorization: "Bearer k", "Content-Type": "application/json" },
      body: JSON.stringify({ random: null })
    })
    expect((await get(origin, "/api/sandbox", "k")).status).toBe(200)
    child.kill("SIGTERM")
    await exited(child)
  })

  it("takes the same settings from DAYTONA_EMULATOR_* variables", async () => {
    const { child, origin } = await startBin(process.execPath, [bin], {
      env: {
        DAYTONA_EMULATOR_API_KEY: "env-key",
        DAYTONA_EMULATOR_FAIL_RATE: "1",
        DAYTONA_EMULATOR_FAIL_KINDS: "429",
        DAYTONA_EMULATOR_RETRY_AFTER: "3",
        DAYTONA_EMULATOR_FAULTS: JSON.stringify([{ route: "GET /api/snapshots", kind: "500" }])
      }
    })
    const r = await get(origin, "/api/sandbox", "env-key")
    expect(r.status).toBe(429)
    expect(r.headers.get("retry-after")).toBe("3")
    expect((await get(origin, "/api/snapshots", "env-key")).status).toBe(500)
    child.kill("SIGTERM")
    await exited(child)
  })

  it("refuses bad flags with exit code 2 and usage", async () => {
    const child = spawn(process.execPath, [bin, "--fail-rate", "150%"], { stdio: ["ignore", "pipe", "pipe"] })
    children.push(child)
    let err = ""
    child.stderr.on("data", (d: Buffer) => (err += d.toString()))
    expect(await exited(child)).toBe(2)
    expect(err).toMatch(/--fail-rate must be within/)
    expect(err).toMatch(/usage: daytona-emulator/)
  })

  it("lets a plain Node script that never disposes its SDK client exit on its own (Socket.IO is served)", async () => {
    const { child: emu, url } = await startBin(process.execPath, [bin, "--api-key", "sio"])
    const script = [
      "import { Daytona } from \"@daytonaio/sdk\"",
      `const d = new Daytona({ apiKey: "sio", apiUrl: ${JSON.stringify(url)}, target: "us" })`,
      "const sb = await d.create({ labels: { app: \"exit\" } })",
      "const r = await sb.process.executeCommand(\"echo ok\")",
      "process.stdout.write(r.result)"
    ].join("\n")
    const node = spawn(process.execPath, ["--input-type=module", "-e", script], {
      cwd: packageDir,
      stdio: ["ignore", "pipe", "pipe"]
    })
    children.push(node)
    let out = ""
    node.stdout.on("data", (d: Buffer) => (out += d.toString()))
    // Without a Socket.IO server the SDK's reconnect timers would keep this process alive for minutes.
    expect(await exited(node)).toBe(0)
    expect(out).toBe("ok\n")
    const stats = await (await get(url.slice(0, -4), "/_emulator/stats", "sio")).json() as {
      socketIoConnections: number
    }
    expect(stats.socketIoConnections).toBe(1)
    emu.kill("SIGTERM")
    await exited(emu)
  })
})

describe("command line parsing", () => {
  it("reads flags before variables and both before defaults", () => {
    expect(parseCli([], {})).toEqual({
      _tag: "Run",
      options: { port: 0, apiKey: "emulator-key", createState: "started", isolateProcesses: true }
    })
    expect(parseCli(["--no-isolate"], {})).toMatchObject({ options: { isolateProcesses: false } })
    expect(parseCli([], { DAYTONA_EMULATOR_NO_ISOLATE: "1" })).toMatchObject({ options: { isolateProcesses: false } })
    expect(parseCli([], { DAYTONA_API_KEY: "sdk-key" })).toMatchObject({ options: { apiKey: "sdk-key" } })
    expect(parseCli(["--api-key", "flag"], { DAYTONA_EMULATOR_API_KEY: "env" })).toMatchObject({
      options: { apiKey: "flag" }
    })
    expect(parseCli(["--fail-rate", "0.3", "--fail-kinds", "429,drop", "--retry-after", "2"], {})).toMatchObject({
      options: { randomFailures: { rate: 0.3, kinds: ["429", "drop"], retryAfterSeconds: 2 } }
    })
    expect(parseCli([], { DAYTONA_EMULATOR_STUCK: "[{\"labels\":{\"a\":\"b\"},\"state\":\"starting\"}]" }))
      .toMatchObject({ options: { stuck: [{ labels: { a: "b" }, state: "starting" }] } })
    expect(parseCli(["--faults", "[{\"match\":\"^POST\",\"kind\":\"drop\",\"rate\":0.5}]"], {})).toMatchObject({
      options: { faults: [{ route: /^POST/, kind: "drop", rate: 0.5 }] }
    })
    expect(parseCli(["-h"], {})).toEqual({ _tag: "Help" })
  })

  it("reports usage errors instead of throwing", () => {
    for (
      const argv of [
        ["--port", "70000"],
        ["--fail-kinds", "429"],
        ["--fail-rate", "0.2", "--fail-kinds", "418"],
        ["--faults", "not json"],
        ["--faults", "[{\"kind\":\"429\"}]"],
        ["--stuck", "[{\"state\":\"nope\",\"sandbox\":\"x\"}]"],
        ["--create-state", "stopped"],
        ["--unknown"]
      ]
    ) expect(parseCli(argv, {})._tag, argv.join(" ")).toBe("Usage")
    expect(parseRate("30%")).toBeCloseTo(0.3)
    expect(parseRate("0.05")).toBe(0.05)
  })
})
