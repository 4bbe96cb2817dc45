#!/usr/bin/env node
// Live sync benchmark (sync_mode = "live") on the local shape: the runtime is a directory on this host, watched
// like the workspace; the engine and its live loop run in this process, the edits are plain file writes.
//   (1) one-file edit propagation, host → runtime and runtime → host: percentiles over --edits N (≥ 200) edits,
//       from the write to the other side holding the new content          targets p50 ≤ 150 ms, p99 ≤ 1 s
//   (2) a burst of --burst N changed files (a branch switch) until converged, vs a one-shot sync of the same
//       change                                                              target ≤ 1.5×
//   (3) idle CPU of live sync while nothing changes (process CPU time over --idle S seconds)  target < 1% of a core
//   (4) memory live sync adds to a --files N workspace (RSS and heap after GC, before vs while watching)
//                                                                          target ≤ 100 MB for 100,000 files
//   (5) with --only 5 (not by default): (1) on the Daytona emulator, the runtime watched by the watcher process
//       in the sandbox over one streamed command                          target p50 ≤ 1 s
// Usage: npm run bench:live [-- --edits 200] [--burst 5000] [--files 100000] [--idle 5] [--only 12345]
// The load average is printed before and after: on a shared machine, read the figures at that load.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..")
const args = process.argv.slice(2)
const opt = (name, fallback) => {
  const i = args.indexOf(name)
  return i >= 0 ? args[i + 1] : fallback
}
const edits = Math.max(200, Number(opt("--edits", "200")))
const burst = Number(opt("--burst", "5000"))
const files = Number(opt("--files", "100000"))
const idleS = Number(opt("--idle", "5"))
const only = opt("--only", "1234")

const loadBefore = os.loadavg().map((x) => x.toFixed(2)).join(" ")
const { Effect, Exit, Scope } = await import("effect")
const { NodeContext } = await import("@effect/platform-node")
const Profile = await import(path.join(root, "packages/core/dist/Profile.js"))
const { Instance } = await import(path.join(root, "packages/core/dist/SandboxProvider.js"))
const Capabilities = await import(path.join(root, "packages/core/dist/Capabilities.js"))
const { SyncEngine } = await import(path.join(root, "packages/sync/dist/index.js"))

const scratch = fs.mkdtempSync(path.join(fs.existsSync("/dev/shm") ? "/dev/shm" : os.tmpdir(), "live-bench-"))
process.on("exit", () => fs.rmSync(scratch, { recursive: true, force: true }))
const run = (effect) => Effect.runPromise(Effect.provide(effect, NodeContext.layer))
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

let worlds = 0
/** A workspace and its runtime directory, seeded by a fresh engine. */
const world = async (tree) => {
  const n = worlds++
  const host = path.join(scratch, `host-${n}`)
  const runtime = path.join(scratch, `runtime-${n}`)
  fs.mkdirSync(host, { recursive: true })
  tree(host)
  const provider = {
    name: "local",
    contract_version: 1,
    capabilities: Capabilities.make({ exec: true, fs: false }),
    hostPath: () => Effect.succeed(runtime)
  }
  const instance = Instance.make({
    instance_id: `live-${n}`,
    state: "running",
    provider_state_name: "running",
    labels: {},
    workdir: runtime,
    provider_state: null
  })
  const request = (reason, scope) => ({
    session_id: "ses_livebench000000001",
    sandbox_id: "sbx_livebench000000001",
    host_root: host,
    instance,
    provider,
    profile: Profile.Profile.make({ ...Profile.builtinLocal, sync_mode: "live" }),
    state_dir: path.join(scratch, `state-${n}`),
    reason,
    ...(scope !== undefined ? { scope } : {})
  })
  const engine = await run(SyncEngine.make())
  await run(engine.seed(request("start")))
  let scope
  const w = {
    host,
    runtime,
    engine,
    sync: () => run(engine.sync(request("checkpoint"))),
    startLive: async () => {
      scope = await Effect.runPromise(Scope.make())
      w.handle = await run(Scope.extend(
        engine.live(request("live"), { batch: (s) => Effect.uninterruptible(engine.sync(request("live", s))) }),
        scope
      ))
      // the first batch is a full rescan: wait for it
      while ((await Effect.runPromise(w.handle.status)).batches < 1) await sleep(5)
    },
    stopLive: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
  return w
}

const filesTree = (count, perDir = 100) => (dir) => {
  for (let i = 0; i < count; i++) {
    const d = path.join(dir, `d${Math.floor(i / perDir)}`)
    if (i % perDir === 0) fs.mkdirSync(d, { recursive: true })
    fs.writeFileSync(path.join(d, `f${i}.txt`), `file ${i}\n`)
  }
}

const percentile = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]
}
const fmt = (ms) => `${ms.toFixed(1)} ms`

/** Waits until `file` holds `text`, checking on every change of its directory (and every 2 ms besides). */
const arrival = (file, text) =>
  new Promise((resolve) => {
    const t0 = process.hrtime.bigint()
    let done = false
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
        resolve(Number(process.hrtime.bigint() - t0) / 1e6)
      }
    }
    const timer = setInterval(check, 2)
  })

const results = []
console.log(`live sync bench: load average before ${loadBefore} (${os.cpus().length} cores)`)

if (only.includes("1")) {
  const w = await world(filesTree(2000))
  await w.startLive()
  for (const [from, to, label] of [[w.host, w.runtime, "host → runtime"], [w.runtime, w.host, "runtime → host"]]) {
    const lat = []
    for (let i = 0; i < edits; i++) {
      const rel = `d${i % 20}/f${(i % 20) * 100 + (i % 7)}.txt`
      const text = `${label} edit ${i} ${Math.random()}\n`
      const arrived = arrival(path.join(to, rel), text)
      fs.writeFileSync(path.join(from, rel), text)
      lat.push(await arrived)
      await sleep(5)
    }
    const line = `(1) one-file edit ${label}: p50 ${fmt(percentile(lat, 50))}, p90 ${fmt(percentile(lat, 90))}, ` +
      `p99 ${fmt(percentile(lat, 99))}, max ${fmt(Math.max(...lat))} over ${lat.length} edits ` +
      `(targets p50 ≤ 150 ms, p99 ≤ 1 s)`
    console.log(line)
    results.push(line)
  }
  await w.stopLive()
}

if (only.includes("2")) {
  const change = (dir, tag) => {
    for (let i = 0; i < burst; i++) {
      fs.writeFileSync(path.join(dir, `d${Math.floor(i / 100)}`, `f${i}.txt`), `${tag} ${i}\n`)
    }
  }
  const converged = (dir, tag) => {
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
  // one-shot: the burst, then one two-way sync
  const a = await world(filesTree(burst))
  await a.sync()
  change(a.host, "switched")
  const t0 = process.hrtime.bigint()
  await a.sync()
  const oneShot = Number(process.hrtime.bigint() - t0) / 1e6
  if (!converged(a.runtime, "switched")) throw new Error("the one-shot sync did not converge")
  // live: the same burst, timed from its first write to every file holding its new content in the runtime
  const b = await world(filesTree(burst))
  await b.startLive()
  const t1 = process.hrtime.bigint()
  change(b.host, "switched")
  while (!converged(b.runtime, "switched")) await sleep(20)
  const live = Number(process.hrtime.bigint() - t1) / 1e6
  const writing = "(the live figure includes writing the burst)"
  const line = `(2) burst of ${burst} changed files: live ${fmt(live)} vs one-shot sync ${fmt(oneShot)} = ` +
    `${(live / oneShot).toFixed(2)}× (target ≤ 1.5×) ${writing}`
  console.log(line)
  results.push(line)
  await b.stopLive()
}

if (only.includes("3") || only.includes("4")) {
  const gc = globalThis.gc
  const mem = () => {
    gc?.()
    const m = process.memoryUsage()
    return { rss: m.rss / 2 ** 20, heap: m.heapUsed / 2 ** 20 }
  }
  const base = mem()
  const w = await world(filesTree(files))
  // the engine after its seed holds the ancestor either way: what live sync adds is measured from here
  await w.sync()
  const before = mem()
  await w.startLive()
  await sleep(500)
  const cpu0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  await sleep(idleS * 1000)
  const cpu = process.cpuUsage(cpu0)
  const wall = Number(process.hrtime.bigint() - t0) / 1e3
  const after = mem()
  if (only.includes("3")) {
    const line = `(3) idle: ${(100 * (cpu.user + cpu.system) / wall).toFixed(2)}% of one core over ${idleS} s ` +
      `with ${files} files watched (target < 1%)`
    console.log(line)
    results.push(line)
  }
  if (only.includes("4")) {
    const line = `(4) memory added by live sync of ${files} files: RSS ${(after.rss - before.rss).toFixed(1)} MB, ` +
      `heap ${(after.heap - before.heap).toFixed(1)} MB${gc ? "" : " (no --expose-gc: heap not collected)"} ` +
      `(target ≤ 100 MB); the whole process: RSS ${after.rss.toFixed(0)} MB, ${base.rss.toFixed(0)} MB before the ` +
      `workspace existed (the engine's ancestor and scans are there in every two-way mode)`
    console.log(line)
    results.push(line)
  }
  await w.stopLive()
}

if (only.includes("5")) {
  const { startEmulator } = await import(path.join(root, "test/daytona-emulator/dist/index.js"))
  const DaytonaProvider = await import(path.join(root, "packages/daytona/dist/DaytonaProvider.js"))
  const { makeSpec } = await import(path.join(root, "packages/core/dist/testing.js"))
  const { Redacted } = await import("effect")
  const emu = await startEmulator({ apiKey: "bench-key" })
  const scope = await Effect.runPromise(Scope.make())
  const profile = Profile.Profile.make({ ...Profile.builtinLocal, backend: "daytona", sync_mode: "live" })
  const provider = await run(Scope.extend(
    DaytonaProvider.make({ profile, apiKey: Redacted.make("bench-key"), apiUrl: emu.url }),
    scope
  ))
  const instance = await run(provider.create(makeSpec("daytona")))
  const runtime = path.join(emu.sandboxes().find((x) => x.id === instance.instance_id).homeDir, "workspace")
  const host = path.join(scratch, "host-emulator")
  fs.mkdirSync(host)
  filesTree(200)(host)
  const request = (reason, scope) => ({
    session_id: "ses_livebench000000002",
    sandbox_id: "sbx_livebench000000002",
    host_root: host,
    instance,
    provider,
    profile,
    state_dir: path.join(scratch, "state-emulator"),
    reason,
    ...(scope !== undefined ? { scope } : {})
  })
  const engine = await run(SyncEngine.make())
  await run(engine.seed(request("start")))
  const handle = await run(Scope.extend(
    engine.live(request("live"), { batch: (s) => Effect.uninterruptible(engine.sync(request("live", s))) }),
    scope
  ))
  while ((await Effect.runPromise(handle.status)).batches < 1) await sleep(20)
  const watcher = (await Effect.runPromise(handle.status)).runtime_watcher
  for (const [from, to, label] of [[host, runtime, "host → runtime"], [runtime, host, "runtime → host"]]) {
    const lat = []
    for (let i = 0; i < edits; i++) {
      const rel = `d${i % 2}/f${(i % 2) * 100 + (i % 7)}.txt`
      const text = `${label} edit ${i} ${Math.random()}\n`
      const arrived = arrival(path.join(to, rel), text)
      fs.writeFileSync(path.join(from, rel), text)
      lat.push(await arrived)
      await sleep(5)
    }
    const line =
      `(5) emulator, one-file edit ${label}: p50 ${fmt(percentile(lat, 50))}, p90 ${fmt(percentile(lat, 90))}, ` +
      `p99 ${fmt(percentile(lat, 99))} over ${lat.length} edits, runtime watcher ${watcher} (target p50 ≤ 1 s)`
    console.log(line)
    results.push(line)
  }
  await Effect.runPromise(Scope.close(scope, Exit.void))
  await emu.close()
}

console.log(`load average after ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}`)
process.exit(0)
