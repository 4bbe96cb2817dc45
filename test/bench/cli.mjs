#!/usr/bin/env node
// Whole-command benchmark: the built CLI run as a person runs it (a new `node apps/cli/bin/sandbox-cli.cjs`
// process per command, its code cache warm as after the first run of an install), interleaved with baselines in
// the same run, medians, on generated workspaces of 1, 2,000, 20,000 and 100,000 files (or --tree DIR).
//   (A) `run -- true`, 1 file                      vs `node -e 0`                   target <= node + 150 ms
//   (B) `run -- true`, nothing changed             vs rsync -a into empty + back    target <= 0.5x (20k, 100k)
//       peak RSS at 100,000 files <= 200 MB; time and RSS grow at most linearly from 20,000 to 100,000
//   (C) `session sync ID`, nothing changed         vs unison two-way no-op          target <= 1x
//   (D) `session sync ID`, 10 files changed/side   vs unison, 10 changed per side   target <= 1x
//   (E) `profile list -o json`, `session list -o json` vs `node -e 0`               target <= node + 60 ms
// Peak RSS comes from /usr/bin/time -v where it exists (else the figure is left out). The load average is printed
// before and after: the machine is shared, compare ratios at a similar load.
// Usage: npm run bench:cli [-- --sizes 1,2000,20000,100000] [--runs N] [--tree DIR] [--only ABCDE] [--keep]
// --tree DIR copies DIR once into a scratch workspace (sizes are then ignored); (D) edits that copy only.
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..")
const bin = path.join(root, "apps", "cli", "bin", "sandbox-cli.cjs")
const args = process.argv.slice(2)
const opt = (name, fallback) => {
  const i = args.indexOf(name)
  return i >= 0 ? args[i + 1] : fallback
}
const runs = Math.max(1, Number(opt("--runs", "5")))
const userTree = opt("--tree", undefined)
const sizes = userTree ? [null] : opt("--sizes", "1,2000,20000,100000").split(",").map(Number)
const only = opt("--only", "ABCDE")
const keep = args.includes("--keep")

for (const [tool, hint] of [["rsync", "rsync"], ["unison", "unison"]]) {
  if (spawnSync(tool, ["-version"]).error) {
    console.error(`${tool} is not installed: it is a baseline here (Debian: apt-get install -y ${hint})`)
    process.exit(2)
  }
}
if (!fs.existsSync(path.join(root, "apps", "cli", "dist", "sandbox-cli.cjs"))) {
  console.error("the CLI is not built: npm run bench:cli builds it first")
  process.exit(2)
}
const timeBin = fs.existsSync("/usr/bin/time") && spawnSync("/usr/bin/time", ["-v", "true"]).status === 0
  ? "/usr/bin/time"
  : undefined
const load = () => os.loadavg().map((x) => x.toFixed(2)).join(" ")
const loadBefore = load()

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "cli-bench-"))
let stopSession = () => {}
process.on("exit", () => {
  stopSession()
  if (!keep) fs.rmSync(scratch, { recursive: true, force: true })
})
process.on("SIGINT", () => process.exit(130))
process.on("SIGTERM", () => process.exit(143))

// ---------------------------------------------------------------------------------------------- workspaces
// n text files of 64 B - 16 KiB, skewed small (mean ~4 KiB), ~100 per directory in a tree of depth <= 4.
const generate = (dir, n) => {
  let seed = 12345
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return seed / 0x7fffffff
  }
  const chunk = Buffer.alloc(16384)
  for (let i = 0; i < chunk.length; i++) chunk[i] = 32 + ((i * 7919) % 95)
  const dirs = [""]
  const nDirs = Math.max(1, Math.ceil(n / 100))
  for (let i = 1; i < nDirs; i++) {
    const parent = dirs[Math.floor(rnd() * dirs.length)]
    dirs.push(parent.split("/").length >= 4 ? `d${i}` : parent === "" ? `d${i}` : `${parent}/d${i}`)
  }
  for (const d of dirs) fs.mkdirSync(path.join(dir, d), { recursive: true })
  for (let i = 0; i < n; i++) {
    const size = 64 + Math.floor(rnd() ** 3 * 16320)
    const d = dirs[i % dirs.length]
    fs.writeFileSync(path.join(dir, d, `f${i}.txt`), chunk.subarray(0, size))
  }
}
const countFiles = (dir) => {
  let files = 0
  let bytes = 0
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) walk(p)
      else if (e.isFile()) {
        files++
        bytes += fs.statSync(p).size
      }
    }
  }
  walk(dir)
  return { files, bytes }
}
const listFiles = (dir, max) => {
  const out = []
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (out.length >= max) return
      const p = path.join(d, e.name)
      if (e.isDirectory() && e.name !== "node_modules" && e.name !== ".git") walk(p)
      else if (e.isFile()) out.push(path.relative(dir, p))
    }
  }
  walk(dir)
  return out
}

// ---------------------------------------------------------------------------------------------- measuring
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
/** Run a command to completion; wall time in ms and peak RSS in KiB (from /usr/bin/time -v when present). */
const measure = (argv, options) => {
  const rssFile = path.join(scratch, "rss.txt")
  const [cmd, ...rest] = timeBin ? [timeBin, "-f", "%M %U %S", "-o", rssFile, ...argv] : argv
  const start = process.hrtime.bigint()
  const r = spawnSync(cmd, rest, { stdio: ["ignore", "pipe", "pipe"], maxBuffer: 1 << 28, ...options })
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  if (r.status !== 0) {
    throw new Error(`${argv.join(" ")} exited ${r.status ?? r.signal}: ${String(r.stderr).slice(-2000)}`)
  }
  // peak RSS (KiB) and CPU time (user + system, ms) of the command and its children
  const [rss, user, sys] = timeBin
    ? fs.readFileSync(rssFile, "utf8").trim().split("\n").at(-1).split(" ").map(Number)
    : [NaN, NaN, NaN]
  return { ms, rss, cpu: (user + sys) * 1000, stdout: String(r.stdout) }
}
const results = []
const record = (group, name, samples, extra = {}) => {
  const row = {
    group,
    name,
    ms: median(samples.map((s) => s.ms)),
    cpu: median(samples.map((s) => s.cpu)),
    rss: Math.max(...samples.map((s) => s.rss)),
    ...extra
  }
  results.push(row)
  return row
}
const fmtMs = (ms) => (ms >= 10000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(0)} ms`)
const fmtRss = (kb) => (Number.isFinite(kb) ? `${(kb / 1024).toFixed(0)} MB` : "-")
const verdict = (ok) => (ok ? "met" : "NOT met")
const lines = []
const say = (line) => {
  lines.push(line)
  console.log(line)
}

// ---------------------------------------------------------------------------------------------- one workspace
const benchOne = (size, lists) => {
  const base = fs.mkdtempSync(path.join(scratch, "w-"))
  const ws = path.join(base, "ws")
  fs.mkdirSync(ws)
  if (userTree) fs.cpSync(userTree, ws, { recursive: true, verbatimSymlinks: true })
  else generate(ws, size)
  const { files, bytes } = countFiles(ws)
  const label = `${files} files, ${(bytes / 1048576).toFixed(0)} MiB`
  console.error(`# workspace: ${label}`)
  const env = {
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(SANDBOX_CLI_|XDG_|DAYTONA_)/.test(k))),
    SANDBOX_CLI_HOME: path.join(base, "state"),
    XDG_CONFIG_HOME: path.join(base, "config"),
    XDG_CACHE_HOME: path.join(base, "cache"),
    XDG_STATE_HOME: path.join(base, "xdg-state"),
    UNISON: path.join(base, "unison"),
    NO_COLOR: "1"
  }
  const cli = (...argv) => measure([process.execPath, bin, ...argv], { cwd: ws, env })
  const node0 = () => measure([process.execPath, "-e", "0"], { cwd: ws, env })
  const rsyncDest = path.join(base, "rsync-copy")
  const rsyncRoundTrip = () => {
    fs.rmSync(rsyncDest, { recursive: true, force: true })
    const a = measure(["rsync", "-a", `${ws}/`, `${rsyncDest}/`], { env })
    const b = measure(["rsync", "-a", `${rsyncDest}/`, `${ws}/`], { env })
    return { ms: a.ms + b.ms, rss: Math.max(a.rss, b.rss), cpu: a.cpu + b.cpu }
  }
  // Warm-up: the code cache, the page cache, the first session record.
  cli("run", "--", "true")
  node0()
  if (only.includes("B") && files > 1) rsyncRoundTrip()

  if (only.includes("A") || only.includes("B")) {
    const run = []
    const node = []
    const rsync = []
    for (let i = 0; i < runs; i++) {
      run.push(cli("run", "--", "true"))
      node.push(node0())
      if (files > 1 && only.includes("B")) rsync.push(rsyncRoundTrip())
    }
    const r = record(label, "run -- true", run, { files })
    const n = record(label, "node -e 0", node)
    if (files <= 1 && only.includes("A")) {
      say(
        `(A) ${label}: run -- true ${fmtMs(r.ms)} (peak ${fmtRss(r.rss)}), node -e 0 ${fmtMs(n.ms)}: ` +
          `+${(r.ms - n.ms).toFixed(0)} ms, target <= +150 ms: ${verdict(r.ms - n.ms <= 150)}`
      )
    }
    if (rsync.length) {
      const s = record(label, "rsync round trip", rsync)
      const ratio = r.ms / s.ms
      say(
        `(B) ${label}: run -- true ${fmtMs(r.ms)} (peak ${fmtRss(r.rss)}), rsync in + back ${fmtMs(s.ms)}: ` +
          `${ratio.toFixed(2)}x` + (files >= 20000 ? `, target <= 0.5x: ${verdict(ratio <= 0.5)}` : "")
      )
      if (files >= 100000 && Number.isFinite(r.rss)) {
        say(`(B) ${label}: peak RSS ${fmtRss(r.rss)}, target <= 200 MB: ${verdict(r.rss <= 200 * 1024)}`)
      }
    }
  }

  if (only.includes("C") || only.includes("D")) {
    const created = cli("workspace", "add", ws, "--name", "bench")
    void created
    const started = cli("session", "new", "--workspace", "bench", "-o", "json", "--", "sleep", "3600")
    const id = JSON.parse(started.stdout).id
    // stopped however the benchmark ends: its supervisor would otherwise outlive it
    stopSession = () => spawnSync(process.execPath, [bin, "session", "stop", id], { cwd: ws, env, stdio: "ignore" })
    const deadline = Date.now() + 600_000
    let status
    for (;;) {
      status = JSON.parse(cli("session", "status", id, "-o", "json").stdout)
      if (status.state === "running") break
      if (Date.now() > deadline || ["failed", "stopped"].includes(status.state)) {
        throw new Error(`session ${id}: ${status.state}`)
      }
      spawnSync("sleep", ["0.2"])
    }
    // the local provider's runtime directory: runtimes/<instance id>/workspace
    const runtime = path.join(env.SANDBOX_CLI_HOME, "runtimes", status.sandbox.instance_id, "workspace")
    if (!fs.existsSync(runtime)) throw new Error(`no runtime directory at ${runtime}`)
    // Unison syncs its own pair: a copy of the workspace and an empty replica.
    const uniHost = path.join(base, "unison-host")
    const replica = path.join(base, "unison-replica")
    fs.cpSync(ws, uniHost, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true })
    const unison = () => measure(["unison", uniHost, replica, "-batch", "-ui", "text", "-silent"], { env })
    // The first sync of each: the session's seed is done; unison builds its archives.
    cli("session", "sync", id)
    unison()
    const edit = (dir, names, round, side) => {
      for (const n of names) fs.appendFileSync(path.join(dir, n), `// ${side} edit ${round}\n`)
    }
    const pool = listFiles(ws, 40)
    const hostNames = pool.slice(0, 10)
    const otherNames = pool.slice(10, 20)
    const ses = { noop: [], changed: [] }
    const uni = { noop: [], changed: [] }
    for (let i = 0; i < runs; i++) {
      if (only.includes("C")) {
        ses.noop.push(cli("session", "sync", id))
        uni.noop.push(unison())
      }
      if (only.includes("D") && pool.length >= 20) {
        edit(ws, hostNames, i, "host")
        edit(runtime, otherNames, i, "runtime")
        ses.changed.push(cli("session", "sync", id))
        edit(uniHost, hostNames, i, "host")
        edit(replica, otherNames, i, "replica")
        uni.changed.push(unison())
      }
    }
    for (const [key, what] of [["noop", "nothing changed"], ["changed", "10 files changed on each side"]]) {
      if (!ses[key].length) continue
      const a = record(label, `session sync, ${what}`, ses[key])
      const b = record(label, `unison, ${what}`, uni[key])
      say(
        `(${key === "noop" ? "C" : "D"}) ${label}: session sync ${fmtMs(a.ms)} (peak ${fmtRss(a.rss)}), ` +
          `unison ${fmtMs(b.ms)}: ${(a.ms / b.ms).toFixed(2)}x, target <= 1x: ${verdict(a.ms <= b.ms)}`
      )
    }
    if (lists) benchLists(label, cli, node0)
    stopSession()
    stopSession = () => {}
  } else if (lists) benchLists(label, cli, node0)
  fs.rmSync(base, { recursive: true, force: true })
}

const benchLists = (label, cli, node0) => {
  const samples = { profile: [], session: [], node: [] }
  for (let i = 0; i < Math.max(runs, 9); i++) {
    samples.profile.push(cli("profile", "list", "-o", "json"))
    samples.session.push(cli("session", "list", "-o", "json"))
    samples.node.push(node0())
  }
  const n = record(label, "node -e 0 (lists)", samples.node)
  for (const key of ["profile", "session"]) {
    const r = record(label, `${key} list -o json`, samples[key])
    say(
      `(E) ${key} list -o json ${fmtMs(r.ms)}, node -e 0 ${fmtMs(n.ms)}: +${(r.ms - n.ms).toFixed(0)} ms, ` +
        `target <= +60 ms: ${verdict(r.ms - n.ms <= 60)}`
    )
  }
}

console.log(`bench:cli, ${runs} runs each, Node ${process.version}, ${os.cpus().length} CPUs, load ${loadBefore}`)
// The list commands are measured once, on the first workspace (its state then holds a few sessions).
sizes.forEach((size, i) => benchOne(size, i === 0 && only.includes("E")))

// Linear growth 20k -> 100k: per-file time and RSS may not grow.
const runRow = (files) => results.find((r) => r.name === "run -- true" && r.files === files)
const small = runRow(20000)
const big = runRow(100000)
if (small && big) {
  const t = big.ms / small.ms
  const m = big.rss / small.rss
  say(
    `(B) 20,000 -> 100,000 files: time x${t.toFixed(2)}, peak RSS x${m.toFixed(2)} (5x files), ` +
      `at most linear: ${verdict(t <= 5.5 && m <= 5.5)}`
  )
}
// CPU time (user + system) is printed beside wall time: on a loaded machine it moves much less
console.log(
  `\n${"workspace".padEnd(26)}${"command".padEnd(44)}${"median".padStart(10)}${"CPU".padStart(10)}${
    "peak RSS".padStart(10)
  }`
)
for (const r of results) {
  console.log(
    `${r.group.padEnd(26)}${r.name.padEnd(44)}${fmtMs(r.ms).padStart(10)}${
      (Number.isFinite(r.cpu) ? fmtMs(r.cpu) : "-").padStart(10)
    }${fmtRss(r.rss).padStart(10)}`
  )
}
console.log(`load average before ${loadBefore}, after ${load()}`)
