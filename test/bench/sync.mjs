#!/usr/bin/env node
// Sync engine benchmark against rsync on the same tree, same machine, in one run (sync-notes §4/§5 method):
// medians of interleaved runs, source served from the page cache, destinations on tmpfs (/dev/shm) when present.
//   (1) seed into an empty runtime          vs rsync -a initial      target <= 0.6x   (T1)
//   (2) no-op check, one side vs ancestor    vs rsync -a no-op        target <= 0.6x   (T2: sync-back, nothing changed)
//   (2b) no-op sync, both sides, warm engine vs rsync -a no-op        target <= 1.2x   (T3: session checkpoint)
//   (3) sync-back after 10 modified files    vs rsync -a after 10     target <= 0.8x   (T4: full rescan + copy)
//   (3b) checkpoint after 10 host edits      vs rsync -a after 10     target <= 1.2x   (both sides, as T3)
//   (4) first content manifest (no cache)    vs rsync -a -c no-op     target <= 1.2x   (T6)
// (3) appends lines to .js/.ts files of the source tree: with --tree, give a scratch copy or leave (3) out.
// Usage: npm run bench:sync [-- --runs N] [--tree DIR] [--bin-scale F] [--only 1234] [--path host-path|archive] [--keep]
// The engine runs in this process (no Node startup in its figures); rsync is a new process per run, as a CLI is.
// The runtime provider is the local provider's shape: its runtime is a directory on this host, so by default the
// engine takes the `hostPath` fast path (runtime scan script as a host process, direct copies, a worker thread);
// `--path archive` hides `hostPath` and measures the exec + tar path that remote providers use.
// The load average is printed before and after: on a shared machine, compare ratios only at a similar load.
import { spawn, spawnSync } from "node:child_process"
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
const runs = Math.max(5, Number(opt("--runs", "5")))
const userTree = opt("--tree", undefined)
const binScale = Number(opt("--bin-scale", "1"))
const keep = args.includes("--keep")
const only = opt("--only", "1234")
const transport = opt("--path", "host-path")
if (transport !== "host-path" && transport !== "archive") {
  console.error(`--path is host-path (default) or archive, not ${transport}`)
  process.exit(2)
}

if (spawnSync("rsync", ["--version"]).status !== 0) {
  console.error(
    "rsync is not installed: it is the baseline of every figure. Install it (Debian: apt-get install -y rsync) and run again."
  )
  process.exit(2)
}

const loadBefore = os.loadavg().map((x) => x.toFixed(2)).join(" ")
const { Effect, Layer } = await import("effect")
const { NodeContext } = await import("@effect/platform-node")
const { WorkspaceSync } = await import(path.join(root, "packages/core/dist/WorkspaceSync.js"))
const Profile = await import(path.join(root, "packages/core/dist/Profile.js"))
const { Instance } = await import(path.join(root, "packages/core/dist/SandboxProvider.js"))
const Capabilities = await import(path.join(root, "packages/core/dist/Capabilities.js"))
const { SyncEngine, HostScan, Filter } = await import(path.join(root, "packages/sync/dist/index.js"))

// ---------------------------------------------------------------------------------------------- the trees
const scratchBase = fs.existsSync("/dev/shm") ? "/dev/shm" : os.tmpdir()
const work = fs.mkdtempSync(path.join(scratchBase, "sync-bench-"))
const srcBase = fs.mkdtempSync(path.join(os.tmpdir(), "sync-bench-src-"))
const cleanup = () => {
  if (keep) return
  fs.rmSync(work, { recursive: true, force: true })
  fs.rmSync(srcBase, { recursive: true, force: true })
}
process.on("exit", cleanup)

const generate = (dir) => {
  // 20 000 text files of 1-64 KiB skewed small (mean ~11 KiB) in 1 500 directories of depth <= 6, plus 6 binaries
  let seed = 12345
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return seed / 0x7fffffff
  }
  const dirs = [""]
  const depth = new Map([["", 0]])
  for (let i = 0; i < 1500; i++) {
    let parent
    do parent = dirs[Math.floor(rnd() * dirs.length)]
    while (depth.get(parent) >= 6)
    const d = parent === "" ? `d${i}` : `${parent}/d${i}`
    dirs.push(d)
    depth.set(d, depth.get(parent) + 1)
    fs.mkdirSync(path.join(dir, d), { recursive: true })
  }
  const words =
    "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua const let function return import export from"
      .split(" ")
  const chunk = []
  for (let i = 0; i < 24000; i++) chunk.push(words[Math.floor(rnd() * words.length)])
  const text = Buffer.from(chunk.join(" ").replace(/(.{80})/g, "$1\n"))
  const exts = [".js", ".ts", ".md", ".json", ".txt", ".py"]
  let bytes = 0
  for (let i = 0; i < 20000; i++) {
    const u = rnd()
    const size = Math.max(1, Math.floor(1024 + 63 * 1024 * u ** 5))
    const off = Math.floor(rnd() * (text.length - 65536))
    const buf = Buffer.from(text.subarray(off, off + size))
    buf.write(`// file ${i}\n`, 0)
    fs.writeFileSync(path.join(dir, dirs[Math.floor(rnd() * dirs.length)], `f${i}${exts[i % exts.length]}`), buf)
    bytes += size
  }
  const binaries = [5, 6, 8, 12, 16, 20]
  binaries.forEach((mb, i) => {
    const n = Math.floor(mb * 1024 * 1024 * binScale)
    const b = Buffer.alloc(n)
    for (let j = 0; j + 4 <= n; j += 4) {
      b.writeUInt32LE((Math.imul(j + 1, 2654435761) ^ Math.imul(j >>> 7, 40503)) >>> 0, j)
    }
    fs.writeFileSync(path.join(dir, dirs[(i * 97) % dirs.length], `blob${i}.bin`), b)
    bytes += n
  })
  return { files: 20000 + binaries.length, dirs: 1500, bytes }
}

let src
let treeNote
if (userTree !== undefined) {
  src = path.resolve(userTree)
  const out = spawnSync("sh", ["-c", `find . -type f | wc -l; du -sb . | cut -f1`], { cwd: src }).stdout.toString()
    .split("\n")
  treeNote = `tree ${src}: ${out[0]} files, ${
    (Number(out[1]) / 1048576).toFixed(1)
  } MiB (rsync sees the whole tree; the engine applies its default excludes)`
} else {
  src = path.join(srcBase, "src")
  fs.mkdirSync(src)
  const t0 = Date.now()
  const stats = generate(src)
  // let the tree age past the engine's 2 s racy window, as a real workspace has
  const wait = 2100 - (Date.now() - t0)
  if (wait > 0) await new Promise((r) => setTimeout(r, wait))
  treeNote = `synthetic tree: ${stats.files} files in ${stats.dirs} dirs, ${(stats.bytes / 1048576).toFixed(1)} MiB` +
    (binScale === 1 ? " (6 binaries of 5-20 MiB, as in sync-notes §4)" : ` (binaries scaled by ${binScale})`)
}
// warm the page cache (again before each copy: this machine's memory reclaim may evict a tree of idle pages
// between runs, and the method measures copies served from the page cache, not the disk)
const warmCache = () => spawnSync("sh", ["-c", "find . -type f -print0 | xargs -0 cat > /dev/null"], { cwd: src })
warmCache()

// ------------------------------------------------------------------------------------- the runtime provider
const run = (argv, options = {}) =>
  new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { cwd: options.cwd, stdio: ["pipe", "pipe", "pipe"] })
    const out = []
    const err = []
    child.stdout.on("data", (d) => out.push(d))
    child.stderr.on("data", (d) => err.push(d))
    child.on("error", reject)
    child.on("close", (code) => resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString() }))
    child.stdin.on("error", () => {})
    child.stdin.end(options.stdin ?? "")
  })
const nearestDir = (d) => {
  while (!fs.existsSync(d)) d = path.dirname(d)
  return d
}
const localProvider = (runtimeRoot) => {
  const unsupported = () => Effect.die("unsupported in the benchmark provider")
  return {
    name: "local",
    contract_version: 1,
    capabilities: Capabilities.make({ exec: true, archive_transfer: true }),
    create: unsupported,
    get: unsupported,
    list: unsupported,
    start: unsupported,
    stop: unsupported,
    archive: unsupported,
    destroy: unsupported,
    execStream: unsupported,
    readFile: unsupported,
    writeFile: unsupported,
    stat: unsupported,
    listDir: unsupported,
    remove: unsupported,
    mkdir: unsupported,
    exec: (_i, request) =>
      Effect.promise(async () => {
        const r = await run(request.argv ?? ["sh", "-c", request.shell], {
          cwd: nearestDir(runtimeRoot),
          stdin: request.stdin
        })
        return { exit_code: r.code, stdout: r.stdout.toString("utf8"), stderr: r.stderr }
      }),
    putArchive: (_i, request) =>
      Effect.promise(async () => {
        const z = request.format === "tar.gz" ? "-z" : ""
        await run([
          "sh",
          "-c",
          `mkdir -p -- "$1" && exec tar ${z} -xf "$2" -C "$1"`,
          "sh",
          request.dest,
          request.archive_path
        ])
      }),
    getArchive: (_i, request) =>
      Effect.promise(async () => {
        const z = request.format === "tar.gz" ? ["-z"] : []
        await run([
          "tar",
          "-C",
          request.root,
          ...z,
          "--null",
          "--no-recursion",
          "--verbatim-files-from",
          "-T",
          "-",
          "-cf",
          request.archive_path
        ], {
          stdin: request.paths.join("\0") + "\0"
        })
      }),
    // as the local provider: the runtime is a directory on this host (left out with --path archive)
    ...(transport === "host-path" ? { hostPath: () => Effect.succeed(runtimeRoot) } : {})
  }
}

let counter = 0
const makeSession = (engine) => {
  const n = counter++
  const runtime = path.join(work, `runtime-${n}`)
  const state = path.join(work, `state-${n}`)
  const provider = localProvider(runtime)
  const instance = Instance.make({
    instance_id: `bench-${n}`,
    state: "running",
    provider_state_name: "running",
    labels: {},
    workdir: runtime,
    provider_state: null
  })
  const request = (reason) => ({
    session_id: "ses_bench00000000000001",
    sandbox_id: "sbx_bench00000000000001",
    host_root: src,
    instance,
    provider,
    profile: Profile.builtinLocal,
    state_dir: state,
    reason
  })
  return {
    runtime,
    state,
    seed: () => Effect.runPromise(engine.seed(request("start"))),
    sync: () => Effect.runPromise(engine.sync(request("checkpoint"))),
    syncBack: () => Effect.runPromise(engine.sync(request("stop"))),
    dispose: () => {
      fs.rmSync(runtime, { recursive: true, force: true })
      fs.rmSync(state, { recursive: true, force: true })
    }
  }
}

const engine = await Effect.runPromise(
  Effect.provide(WorkspaceSync, SyncEngine.layer.pipe(Layer.provide(NodeContext.layer)))
)

const timeAsync = async (f) => {
  const t = process.hrtime.bigint()
  const result = await f()
  return { ms: Number(process.hrtime.bigint() - t) / 1e6, result }
}
const rsync = (flags, dst) => {
  const t = process.hrtime.bigint()
  const r = spawnSync("rsync", [...flags, `${src}/`, `${dst}/`], { stdio: ["ignore", "ignore", "pipe"] })
  if (r.status !== 0) throw new Error(`rsync failed: ${r.stderr}`)
  return Number(process.hrtime.bigint() - t) / 1e6
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
const rows = []
const record = (name, ours, theirs, baseline, target) => rows.push({ name, ours, theirs, baseline, target })

// sanity: the engine's copy equals rsync's
const check = makeSession(engine)
await check.seed()
const diff = spawnSync("diff", ["-r", "--no-dereference", src, check.runtime], { stdio: ["ignore", "pipe", "pipe"] })
if (userTree === undefined && diff.status !== 0) {
  throw new Error(`the seeded runtime differs from the source:\n${diff.stdout}`)
}
check.dispose()

// (1) seed into an empty runtime vs rsync -a initial
if (only.includes("1")) {
  const ours = []
  const theirs = []
  for (let i = 0; i < runs; i++) {
    const s = makeSession(engine)
    warmCache()
    ours.push((await timeAsync(s.seed)).ms)
    s.dispose()
    const dst = path.join(work, "rsync-initial")
    warmCache()
    theirs.push(rsync(["-a"], dst))
    fs.rmSync(dst, { recursive: true, force: true })
  }
  record("(1) seed into an empty runtime", ours, theirs, "rsync -a initial", 0.6)
}

// one long-lived session and one rsync destination for the incremental scenarios
const session = makeSession(engine)
await session.seed()
const rsyncDst = path.join(work, "rsync-dst")
rsync(["-a"], rsyncDst)
await session.sync()
rsync(["-a"], rsyncDst)

// (2) no-op checks vs rsync -a no-op: one side against the ancestor (sync-back), then both sides (checkpoint)
if (only.includes("2")) {
  const one = []
  const both = []
  const theirs = []
  for (let i = 0; i < runs; i++) {
    const r = await timeAsync(session.syncBack)
    if (r.result.files_from_runtime + r.result.deleted_on_host !== 0) throw new Error("no-op sync-back moved files")
    one.push(r.ms)
    const b = await timeAsync(session.sync)
    if (b.result.files_to_runtime + b.result.files_from_runtime !== 0) throw new Error("no-op sync moved files")
    both.push(b.ms)
    theirs.push(rsync(["-a"], rsyncDst))
  }
  record("(2) no-op check (one side, warm)", one, theirs, "rsync -a no-op", 0.6)
  record("(2b) no-op sync (both sides, warm)", both, theirs, "rsync -a no-op", 1.2)
}

// (3) 10 files modified in the runtime, synced back (the end of a session) vs rsync -a after 10 modified: a full
//     rescan of the runtime plus the copies, the host read only where the runtime changed (T4)
// (3b) 10 files modified on the host, synced at a checkpoint: both sides rescanned in full, which rsync does not
//     do (its receiver only stats the files the sender lists); shown against the same rsync run
if (only.includes("3")) {
  const textFiles = spawnSync("sh", ["-c", "find . -type f \\( -name '*.js' -o -name '*.ts' \\) | head -2000"], {
    cwd: src
  })
    .stdout.toString().trim().split("\n").filter((p) => p !== "").map((p) => p.slice(2))
  if (textFiles.length === 0) throw new Error("(3) edits .js/.ts files of the tree and found none: use --only 124")
  const back = []
  const checkpoint = []
  const theirs = []
  const theirsB = []
  let pick = 7
  const edit = (dir, label) => {
    for (let k = 0; k < 10; k++) {
      pick = (pick * 48271) % 2147483647
      fs.appendFileSync(path.join(dir, textFiles[pick % textFiles.length]), `// edit ${label}.${k}\n`)
    }
  }
  for (let i = 0; i < runs; i++) {
    edit(session.runtime, `r${i}`)
    const r = await timeAsync(session.syncBack)
    if (r.result.files_from_runtime !== 10) {
      throw new Error(`expected 10 files back, got ${r.result.files_from_runtime}`)
    }
    back.push(r.ms)
    theirs.push(rsync(["-a"], rsyncDst))
    edit(src, `h${i}`)
    const c = await timeAsync(session.sync)
    if (c.result.files_to_runtime !== 10) throw new Error(`expected 10 files sent, got ${c.result.files_to_runtime}`)
    checkpoint.push(c.ms)
    theirsB.push(rsync(["-a"], rsyncDst))
  }
  record("(3) sync-back after 10 modified files", back, theirs, "rsync -a after 10 modified", 0.8)
  record("(3b) checkpoint after 10 host edits", checkpoint, theirsB, "rsync -a after 10 modified", 1.2)
}

// (4) first full content manifest (no cache) vs rsync -a -c no-op
if (only.includes("4")) {
  const filter = Filter.make({})
  const ours = []
  const theirs = []
  for (let i = 0; i < runs; i++) {
    ours.push((await timeAsync(() => Effect.runPromise(HostScan.scan({ root: src, filter, hash: "all" })))).ms)
    theirs.push(rsync(["-a", "-c"], rsyncDst))
  }
  record("(4) first content manifest (sha256)", ours, theirs, "rsync -a -c no-op", 1.2)
}
session.dispose()

// -------------------------------------------------------------------------------------------------- report
const loadAfter = os.loadavg().map((x) => x.toFixed(2)).join(" ")
console.log(
  `sync benchmark: ${runs} interleaved runs each, medians; Node ${process.version}, ${os.cpus().length} cores, ${
    spawnSync("rsync", ["--version"]).stdout.toString().split("\n")[0]
  }`
)
console.log(treeNote)
console.log(`source ${src} (page cache); destinations on ${scratchBase}; the engine runs in process (no Node startup)`)
console.log(`engine path: ${transport}; load average (1 5 15 min) before: ${loadBefore}, after: ${loadAfter}`)
const pad = (s, n) => String(s).padEnd(n)
const lpad = (s, n) => String(s).padStart(n)
console.log(
  `${pad("measure", 38)}${lpad("engine ms", 10)}${lpad("rsync ms", 10)}  ${pad("rsync baseline", 28)}${
    lpad("ratio", 7)
  }${lpad("target", 8)}  result`
)
let allMet = true
for (const r of rows) {
  const o = median(r.ours)
  const t = median(r.theirs)
  const ratio = o / t
  const met = ratio <= r.target
  if (!met) allMet = false
  console.log(
    `${pad(r.name, 38)}${lpad(o.toFixed(0), 10)}${lpad(t.toFixed(0), 10)}  ${pad(r.baseline, 28)}${
      lpad(ratio.toFixed(2) + "x", 7)
    }${lpad("<=" + r.target + "x", 8)}  ${met ? "met" : "NOT met"}`
  )
}
console.log(allMet ? "all targets met" : "some targets NOT met")
