#!/usr/bin/env node
// Live sync benchmark (sync_mode = "live") with whole CLI processes, as a person runs them: `workspace add`, a
// profile with sync_mode = "live", `session new` (a real, detached supervisor process), then plain file writes on
// the host and in the runtime (the runtime directory for the local backend; the sandbox's directory for the Daytona
// emulator, reached through the real provider in the supervisor), timed until the other side holds them.
//   (L) local: one-file edit propagation host → runtime and runtime → host, percentiles over --edits N (≥ 200)
//       each way                                                         targets p50 ≤ 150 ms, p99 ≤ 1 s
//       idle CPU of the supervisor (its watchers are fs.watch inside it) over a quiet --idle S window, from
//       /proc/PID/stat                                                   target < 1% of one core
//   (B) local: a burst of --burst N changed files (a branch switch) until the runtime holds all of it, vs a whole
//       `session sync ID` process of the same change in a session-bidirectional session   target ≤ 1.5×
//   (M) local: the supervisor's RSS at --files N files with live sync vs the same session without it (a full
//       `session sync` done in both)                                     target ≤ +100 MB at 100,000 files
//   (E) Daytona emulator (a separate process, loopback): (L) again, the runtime watched by the watcher process in
//       the sandbox over one streamed command; idle CPU of the supervisor and of the sandbox's processes (the
//       watcher loop with its children)                                  targets p50 ≤ 1 s; idle < 1% of a core
// Usage: npm run bench:live [-- --edits 200] [--burst 5000] [--files 100000] [--idle 10] [--gap 100] [--only LBME]
// The load average is printed with every figure: on a shared machine, read the figures at that load.
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..")
const bin = path.join(root, "apps", "cli", "bin", "sandbox-cli.cjs")
const emulatorBin = path.join(root, "test", "daytona-emulator", "dist", "bin.js")
const args = process.argv.slice(2)
const opt = (name, fallback) => {
  const i = args.indexOf(name)
  return i >= 0 ? args[i + 1] : fallback
}
const edits = Math.max(200, Number(opt("--edits", "200")))
const burst = Number(opt("--burst", "5000"))
const files = Number(opt("--files", "100000"))
const idleS = Number(opt("--idle", "10"))
const gapMs = Number(opt("--gap", "100"))
const only = opt("--only", "LBME")
const keep = args.includes("--keep")

for (const f of [bin, emulatorBin]) {
  if (!fs.existsSync(f)) {
    console.error(`${path.relative(root, f)} is not built: npm run bench:live builds it first`)
    process.exit(2)
  }
}
if (!fs.existsSync("/proc/self/stat")) {
  console.error("this benchmark reads CPU time and RSS from /proc (Linux)")
  process.exit(2)
}

const load = () => os.loadavg().map((x) => x.toFixed(2)).join(" ")
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "live-bench-"))
const cleanups = []
process.on("exit", () => {
  for (const c of cleanups.reverse()) {
    try {
      c()
    } catch {
      // best effort: the benchmark is ending
    }
  }
  if (!keep) fs.rmSync(scratch, { recursive: true, force: true })
})
process.on("SIGINT", () => process.exit(130))
process.on("SIGTERM", () => process.exit(143))
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

// ---------------------------------------------------------------------------------------------- the CLI
let homes = 0
/** A state directory, a config beside the workspaces, and `cli(...argv)` running the CLI as a new process. */
const home = (config, extraEnv = {}) => {
  const base = path.join(scratch, `home-${homes++}`)
  fs.mkdirSync(base, { recursive: true })
  fs.writeFileSync(path.join(base, ".sandbox-cli.toml"), config)
  const env = {
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(SANDBOX_CLI_|XDG_|DAYTONA_)/.test(k))),
    SANDBOX_CLI_HOME: path.join(base, "state"),
    XDG_CONFIG_HOME: path.join(base, "config"),
    XDG_CACHE_HOME: path.join(base, "cache"),
    XDG_STATE_HOME: path.join(base, "xdg-state"),
    NO_COLOR: "1",
    ...extraEnv
  }
  const cli = (...argv) => {
    const t0 = process.hrtime.bigint()
    const r = spawnSync(process.execPath, [bin, ...argv], { cwd: base, env, encoding: "utf8", maxBuffer: 1 << 28 })
    const ms = Number(process.hrtime.bigint() - t0) / 1e6
    if (r.status !== 0) throw new Error(`sandbox-cli ${argv.join(" ")} exited ${r.status ?? r.signal}: ${r.stderr}`)
    return { ms, stdout: r.stdout }
  }
  return { base, env, cli }
}

/** Registers `ws` and starts a session on `profile` running `sleep`; waits until it runs (and watches, if live). */
const startSession = (h, ws, name, profile, live) => {
  h.cli("workspace", "add", ws, "--name", name, "--sandbox", profile)
  const { id } = JSON.parse(h.cli("session", "new", "--workspace", name, "-o", "json", "--", "sleep", "3600").stdout)
  cleanups.push(() => spawnSync(process.execPath, [bin, "session", "stop", id], { cwd: h.base, env: h.env }))
  const deadline = Date.now() + 900_000
  for (;;) {
    const s = JSON.parse(h.cli("session", "status", id, "-o", "json").stdout)
    if (s.state === "running" && (!live || s.live?.state === "watching")) return { id, status: s }
    if (Date.now() > deadline || ["failed", "stopped", "crashed"].includes(s.state)) {
      throw new Error(`session ${id}: ${s.state} ${s.last_error ?? ""}`)
    }
    spawnSync("sleep", ["0.2"])
  }
}
const stopSession = (h, id) => h.cli("session", "stop", id)

/** Waits until live sync has been quiet (nothing pending, no new batch) for `quietMs`. */
const settle = async (h, id, quietMs = 2000) => {
  let last = -1
  let since = Date.now()
  for (;;) {
    const live = JSON.parse(h.cli("session", "status", id, "-o", "json").stdout).live
    if (live === null || live.pending > 0 || live.batches !== last || live.state !== "watching") {
      last = live?.batches ?? -1
      since = Date.now()
    } else if (Date.now() - since >= quietMs) return live
    await sleep(300)
  }
}

// ---------------------------------------------------------------------------------------------- trees
/** `count` small text files, 100 per directory. */
const filesTree = (dir, count) => {
  fs.mkdirSync(dir, { recursive: true })
  for (let i = 0; i < count; i++) {
    const d = path.join(dir, `d${Math.floor(i / 100)}`)
    if (i % 100 === 0) fs.mkdirSync(d, { recursive: true })
    fs.writeFileSync(path.join(d, `f${i}.txt`), `file ${i}\n`)
  }
}
const burstChange = (dir, tag) => {
  for (let i = 0; i < burst; i++) {
    fs.writeFileSync(path.join(dir, `d${Math.floor(i / 100)}`, `f${i}.txt`), `${tag} ${i}\n`)
  }
}
const burstDone = (dir, tag) => {
  for (let i = burst - 1; i >= 0; i -= 1) {
    let t
    try {
      t = fs.readFileSync(path.join(dir, `d${Math.floor(i / 100)}`, `f${i}.txt`), "utf8")
    } catch {
      return false
    }
    if (t !== `${tag} ${i}\n`) return false
  }
  return true
}

// ---------------------------------------------------------------------------------------------- measuring
const percentile = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]
}
const fmt = (ms) => (ms >= 10000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(0)} ms`)
const verdict = (ok) => (ok ? "met" : "NOT met")
const lines = []
const say = (line) => {
  lines.push(line)
  console.log(line)
}

/** Resolves with the milliseconds until `file` holds `text`: checked on every change of its directory, and every
 * 20 ms besides (a rename into the directory is seen at once; the timer only covers a missed event). */
const arrival = (file, text) =>
  new Promise((resolve) => {
    const t0 = process.hrtime.bigint()
    let done = false
    let watcher
    const check = () => {
      if (done) return
      let now
      try {
        now = fs.readFileSync(file, "utf8")
      } catch {
        return
      }
      if (now === text) {
        done = true
        clearInterval(timer)
        watcher?.close()
        resolve(Number(process.hrtime.bigint() - t0) / 1e6)
      }
    }
    const timer = setInterval(check, 20)
    try {
      watcher = fs.watch(path.dirname(file), check)
    } catch {
      // the directory may not exist yet: the timer covers it
    }
  })

/** Edits one file at a time on `from` and times its arrival on `to`: `edits` samples, `gapMs` apart. */
const latencies = async (from, to, label, dirs) => {
  const lat = []
  for (let i = 0; i < edits; i++) {
    const d = i % dirs
    const rel = `d${d}/f${d * 100 + (i % 7)}.txt`
    const text = `${label} edit ${i} ${Math.random()}\n`
    const arrived = arrival(path.join(to, rel), text)
    fs.writeFileSync(path.join(from, rel), text)
    lat.push(await arrived)
    await sleep(gapMs)
  }
  return lat
}
const latencyLine = (tag, label, lat, targets, ok) =>
  `(${tag}) one-file edit ${label}: p50 ${fmt(percentile(lat, 50))}, p90 ${fmt(percentile(lat, 90))}, ` +
  `p99 ${fmt(percentile(lat, 99))}, max ${fmt(Math.max(...lat))} over ${lat.length} edits ${gapMs} ms apart; ` +
  `${targets}: ${verdict(ok(percentile(lat, 50), percentile(lat, 99)))}`

const TICK = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100
/** CPU seconds of a process: its own (all threads) plus its reaped children's, from /proc/PID/stat. */
const cpuOf = (pid) => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    // after the command name: state(3) ppid(4) … utime(14) stime(15) cutime(16) cstime(17)
    return { ppid: Number(f[1]), cpu: (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / TICK }
  } catch {
    return undefined
  }
}
const rssOf = (pid) => {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8")
  const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? NaN)
  return { rss: kb("VmRSS") / 1024, peak: kb("VmHWM") / 1024 }
}
/** Every process below `pid` (by parent links in /proc). */
const descendants = (pid) => {
  const parent = new Map()
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue
    const c = cpuOf(name)
    if (c) parent.set(Number(name), c.ppid)
  }
  const below = (p) => {
    for (let q = parent.get(p); q !== undefined && q > 1; q = parent.get(q)) if (q === pid) return true
    return false
  }
  return [...parent.keys()].filter(below)
}
/** Percent of one core the processes `pids()` used over `seconds` (processes present at both ends). */
const idleCpu = async (pids, seconds) => {
  const before = new Map(pids().map((p) => [p, cpuOf(p)?.cpu]))
  const t0 = process.hrtime.bigint()
  await sleep(seconds * 1000)
  const wall = Number(process.hrtime.bigint() - t0) / 1e9
  let used = 0
  for (const [p, c0] of before) {
    const c1 = cpuOf(p)?.cpu
    if (c0 !== undefined && c1 !== undefined) used += c1 - c0
  }
  return (100 * used) / wall
}

console.log(
  `bench:live, Node ${process.version}, ${os.cpus().length} CPUs, load average ${load()}, scratch ${scratch}`
)
const LIVE = (name) => `[sandboxes.${name}]\nbackend = "local"\nsync_mode = "live"\n`
const TWOWAY = (name) => `[sandboxes.${name}]\nbackend = "local"\nsync_mode = "session-bidirectional"\n`
const runtimeDirOf = (h, status) =>
  path.join(h.env.SANDBOX_CLI_HOME, "runtimes", status.sandbox.instance_id, "workspace")

// ---------------------------------------------------------------------------------------------- (L) local
if (only.includes("L")) {
  const h = home(LIVE("live"))
  const ws = path.join(h.base, "project")
  filesTree(ws, 2000)
  const { id, status } = startSession(h, ws, "proj", "live", true)
  const runtime = runtimeDirOf(h, status)
  await settle(h, id)
  for (const [from, to, label] of [[ws, runtime, "host → runtime"], [runtime, ws, "runtime → host"]]) {
    const lat = await latencies(from, to, label, 20)
    say(
      `${
        latencyLine(
          "L",
          `local, ${label}`,
          lat,
          "targets p50 ≤ 150 ms, p99 ≤ 1 s",
          (p50, p99) => p50 <= 150 && p99 <= 1000
        )
      }; load ${load()}`
    )
  }
  await settle(h, id)
  const pid = status.supervisor.pid
  const pct = await idleCpu(() => [pid], idleS)
  say(
    `(L) local, idle: supervisor ${pct.toFixed(2)}% of one core over ${idleS} s, 2,000 files watched (its watchers ` +
      `are fs.watch in the supervisor: no other process); target < 1%: ${verdict(pct < 1)}; load ${load()}`
  )
  stopSession(h, id)
}

// ---------------------------------------------------------------------------------------------- (B) burst
if (only.includes("B")) {
  const h = home(LIVE("live") + TWOWAY("twoway"))
  // one-shot: the change, then one whole `session sync` process
  const wsA = path.join(h.base, "oneshot")
  filesTree(wsA, burst)
  const a = startSession(h, wsA, "oneshot", "twoway", false)
  h.cli("session", "sync", a.id)
  burstChange(wsA, "switched")
  const oneShot = h.cli("session", "sync", a.id).ms
  if (!burstDone(runtimeDirOf(h, a.status), "switched")) throw new Error("the one-shot sync did not converge")
  stopSession(h, a.id)
  // live: the same change, from its first write until the runtime holds all of it
  const wsB = path.join(h.base, "live")
  filesTree(wsB, burst)
  const b = startSession(h, wsB, "live", "live", true)
  const runtime = runtimeDirOf(h, b.status)
  await settle(h, b.id)
  const t0 = process.hrtime.bigint()
  burstChange(wsB, "switched")
  const written = Number(process.hrtime.bigint() - t0) / 1e6
  while (!burstDone(runtime, "switched")) await sleep(20)
  const live = Number(process.hrtime.bigint() - t0) / 1e6
  say(
    `(B) local, burst of ${burst} changed files: live ${fmt(live)} from the first write (writing took ` +
      `${fmt(written)}) vs a whole \`session sync\` ${fmt(oneShot)} = ${(live / oneShot).toFixed(2)}×; ` +
      `target ≤ 1.5×: ${verdict(live / oneShot <= 1.5)}; load ${load()}`
  )
  await settle(h, b.id)
  stopSession(h, b.id)
}

// ---------------------------------------------------------------------------------------------- (M) memory
if (only.includes("M")) {
  const h = home(LIVE("live") + TWOWAY("twoway"))
  const ws = path.join(h.base, "big")
  filesTree(ws, files)
  const rss = {}
  for (const [profile, live] of [["twoway", false], ["live", true]]) {
    const s = startSession(h, ws, profile, profile, live)
    // both have done a full two-way sync (live's first batch is one; the other is asked for it)
    if (live) await settle(h, s.id, 3000)
    else h.cli("session", "sync", s.id)
    // the lowest RSS over a quiet window (V8 gives memory back lazily), the peak since start, and the idle CPU
    const pid = s.status.supervisor.pid
    const low = { rss: Infinity, peak: 0 }
    const cpu = idleCpu(() => [pid], idleS)
    for (const end = Date.now() + idleS * 1000; Date.now() < end;) {
      const m = rssOf(pid)
      low.rss = Math.min(low.rss, m.rss)
      low.peak = m.peak
      await sleep(500)
    }
    rss[profile] = { ...low, cpu: await cpu }
    stopSession(h, s.id)
    h.cli("workspace", "remove", profile)
  }
  const added = rss.live.rss - rss.twoway.rss
  say(
    `(M) local, ${files} files: supervisor RSS with live sync ${rss.live.rss.toFixed(0)} MB (peak ` +
      `${rss.live.peak.toFixed(0)} MB) vs session-bidirectional ${rss.twoway.rss.toFixed(0)} MB (peak ` +
      `${rss.twoway.peak.toFixed(0)} MB), the lowest of each over ${idleS} quiet seconds: live adds ` +
      `${added.toFixed(0)} MB; target ≤ 100 MB: ${verdict(added <= 100)}; idle CPU meanwhile: live ` +
      `${rss.live.cpu.toFixed(2)}%, session-bidirectional ${rss.twoway.cpu.toFixed(2)}% of one core; load ${load()}`
  )
}

// ---------------------------------------------------------------------------------------------- (E) emulator
if (only.includes("E")) {
  const key = "bench-live-key"
  const emuRoot = path.join(scratch, "emulator")
  const emu = spawn(process.execPath, [emulatorBin, "--port", "0", "--api-key", key, "--root", emuRoot], {
    stdio: ["ignore", "pipe", "inherit"]
  })
  cleanups.push(() => emu.kill("SIGTERM"))
  const url = await new Promise((resolve, reject) => {
    let out = ""
    emu.stdout.on("data", (d) => {
      out += d
      const m = /listening on (\S+)/.exec(out)
      if (m) resolve(m[1])
    })
    emu.once("exit", (code) => reject(new Error(`the emulator exited ${code}`)))
  })
  const h = home(
    `[sandboxes.cloud]\nbackend = "daytona"\nsync_mode = "live"\n[sandboxes.cloud.daytona]\napi_url = "${url}"\n`,
    { DAYTONA_API_KEY: key }
  )
  const ws = path.join(h.base, "project")
  filesTree(ws, 200)
  const { id, status } = startSession(h, ws, "proj", "cloud", true)
  // the emulator's sandbox is a directory of this host, under --root: find the one holding the session's workdir
  const pwd = JSON.parse(h.cli("session", "exec", id, "-o", "json", "--", "pwd").stdout).stdout.trim()
  const under = (dir, depth) => {
    if (fs.existsSync(path.join(dir, pwd, "d0", "f0.txt"))) return path.join(dir, pwd)
    if (depth === 0) return undefined
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const found = e.isDirectory() ? under(path.join(dir, e.name), depth - 1) : undefined
      if (found) return found
    }
    return undefined
  }
  const runtime = under(emuRoot, 3)
  if (runtime === undefined) throw new Error(`no sandbox directory holds ${pwd} under ${emuRoot}`)
  const watcher = (await settle(h, id)).runtime_watcher
  for (const [from, to, label] of [[ws, runtime, "host → runtime"], [runtime, ws, "runtime → host"]]) {
    const lat = await latencies(from, to, label, 2)
    say(
      `${
        latencyLine("E", `Daytona emulator, ${label}`, lat, "target p50 ≤ 1 s", (p50) => p50 <= 1000)
      }; runtime watcher ${watcher}; ` +
        `load ${load()}`
    )
  }
  await settle(h, id)
  const pid = status.supervisor.pid
  const sandbox = () => descendants(emu.pid)
  const [sup, box, server] = await Promise.all([
    idleCpu(() => [pid], idleS),
    idleCpu(sandbox, idleS),
    idleCpu(() => [emu.pid], idleS)
  ])
  say(
    `(E) Daytona emulator, idle over ${idleS} s: supervisor ${sup.toFixed(2)}% of one core, the sandbox's ` +
      `processes (the ${watcher} watcher loop and its children, the idle agent) ${box.toFixed(2)}%; targets < 1%: ` +
      `${verdict(sup < 1 && box < 1)} (the emulator's server, standing in for Daytona's: ${server.toFixed(2)}%); ` +
      `load ${load()}`
  )
  stopSession(h, id)
}

console.log(`\nbench:live summary (load average at the end ${load()}):`)
for (const l of lines) console.log(l)
process.exit(0)
