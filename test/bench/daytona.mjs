#!/usr/bin/env node
// Daytona bulk-transfer benchmark against the Daytona emulator, through the provider's putArchive/getArchive:
//   (1) seed a 20 000-file tree                 target: <= 4 HTTP requests, bytes on the wire <= 1.05x the tar.gz
//   (2) sync back 10 files changed in the sandbox   target: <= 4 requests, only those 10 files in the archive
// The emulator counts requests and body bytes (both directions); the figures are its counters.
// Usage: npm run bench:daytona [-- --files N] [--keep]
import { execFileSync } from "node:child_process"
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
const fileCount = Number(opt("--files", "20000"))
const keep = args.includes("--keep")

const { Effect, Redacted } = await import("effect")
const { NodeContext } = await import("@effect/platform-node")
const { startEmulator } = await import(path.join(root, "test/daytona-emulator/dist/index.js"))
const Profile = await import(path.join(root, "packages/core/dist/Profile.js"))
const { makeSpec } = await import(path.join(root, "packages/core/dist/testing.js"))
const DaytonaProvider = await import(path.join(root, "packages/daytona/dist/DaytonaProvider.js"))

const work = fs.mkdtempSync(path.join(os.tmpdir(), "daytona-bench-"))
const cleanup = () => {
  if (!keep) fs.rmSync(work, { recursive: true, force: true })
}
process.on("exit", cleanup)

// A deterministic tree: text files of 1-16 KiB (skewed small) in about 1 500 directories of depth <= 5.
const generate = (dir, count) => {
  let seed = 424242
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return seed / 0x7fffffff
  }
  const dirs = [""]
  for (let i = 0; i < 1500; i++) {
    const parent = dirs[Math.floor(rnd() * dirs.length)]
    const d = parent.split("/").length >= 5 ? dirs[0] : parent
    dirs.push(d === "" ? `d${i}` : `${d}/d${i}`)
  }
  for (const d of dirs) fs.mkdirSync(path.join(dir, d), { recursive: true })
  const words = ["alpha", "beta", "gamma", "delta", "sandbox", "sync", "daytona", "effect", "layer", "stream"]
  const files = []
  for (let i = 0; i < count; i++) {
    const d = dirs[Math.floor(rnd() * dirs.length)]
    const rel = d === "" ? `f${i}.txt` : `${d}/f${i}.txt`
    const size = Math.floor(1024 + 15 * 1024 * rnd() ** 3)
    let text = ""
    while (text.length < size) text += `${words[Math.floor(rnd() * words.length)]} ${Math.floor(rnd() * 1e6)}\n`
    fs.writeFileSync(path.join(dir, rel), text.slice(0, size))
    files.push(rel)
  }
  return files
}

const src = path.join(work, "src")
fs.mkdirSync(src)
process.stdout.write(`generating ${fileCount} files… `)
const files = generate(src, fileCount)
const treeBytes = files.reduce((n, f) => n + fs.statSync(path.join(src, f)).size, 0)
console.log(`${(treeBytes / 1048576).toFixed(1)} MiB`)

const tarGz = (archive, dir, list) => {
  const listFile = `${archive}.list`
  fs.writeFileSync(listFile, list.join("\n") + "\n")
  execFileSync("tar", ["-czf", archive, "-C", dir, "-T", listFile])
  return fs.statSync(archive).size
}

const API_KEY = "bench-key"
const emu = await startEmulator({ apiKey: API_KEY })
const results = []
const check = (name, value, limit, unit) => {
  const ok = value <= limit
  results.push(ok)
  const shown = unit === "x" ? value.toFixed(4) : value
  console.log(`  ${ok ? "ok  " : "FAIL"} ${name}: ${shown}${unit} (target <= ${limit}${unit})`)
}

const profile = Profile.Profile.make({ ...Profile.builtinLocal, backend: "daytona", source: "<bench>" })
const bench = Effect.gen(function*() {
  const provider = yield* DaytonaProvider.make({ profile, apiKey: Redacted.make(API_KEY), apiUrl: emu.url })
  const instance = yield* provider.create(makeSpec("daytona"))

  // (1) seed
  const seedArchive = path.join(work, "seed.tar.gz")
  const tarBytes = tarGz(seedArchive, src, files)
  emu.resetStats()
  const t0 = performance.now()
  yield* provider.putArchive(instance, { archive_path: seedArchive, format: "tar.gz", dest: "." })
  const seedMs = performance.now() - t0
  const seed = emu.stats()
  const home = emu.sandboxes().find((s) => s.id === instance.instance_id).homeDir
  const landed = execFileSync("find", [path.join(home, "workspace"), "-type", "f"], { maxBuffer: 1 << 28 })
    .toString().trim().split("\n")
  console.log(
    `\n(1) seed: ${files.length} files, tar.gz ${tarBytes} B, ${seedMs.toFixed(0)} ms, ${landed.length} files landed`
  )
  console.log(`    requests: ${JSON.stringify(seed.routes)}`)
  console.log(`    bytes to the sandbox ${seed.bytesIn} B, from it ${seed.bytesOut} B`)
  check("requests", seed.requests, 4, "")
  check("bytes on the wire / tar.gz", (seed.bytesIn + seed.bytesOut) / tarBytes, 1.05, "x")
  check("files missing after the seed", files.length - landed.length, 0, "")

  // (2) ten files change in the sandbox (written on the emulator's disk, so no request is counted)
  const changed = files.filter((_, i) => i % Math.floor(files.length / 10) === 0).slice(0, 10)
  for (const f of changed) fs.appendFileSync(path.join(home, "workspace", f), "changed in the sandbox\n")
  const backDir = path.join(work, "back")
  fs.mkdirSync(backDir)
  for (const f of changed) {
    fs.mkdirSync(path.dirname(path.join(backDir, f)), { recursive: true })
    fs.copyFileSync(path.join(home, "workspace", f), path.join(backDir, f))
  }
  const backTarBytes = tarGz(path.join(work, "expected-back.tar.gz"), backDir, changed)
  emu.resetStats()
  const out = path.join(work, "back.tar.gz")
  const t1 = performance.now()
  yield* provider.getArchive(instance, { root: ".", paths: changed, archive_path: out, format: "tar.gz" })
  const backMs = performance.now() - t1
  const back = emu.stats()
  const members = execFileSync("tar", ["-tzf", out]).toString().trim().split("\n")
  console.log(
    `\n(2) sync-back of ${changed.length} changed files: ${backMs.toFixed(0)} ms, archive ${fs.statSync(out).size} B ` +
      `(tar.gz of the same files on the host ${backTarBytes} B)`
  )
  console.log(`    requests: ${JSON.stringify(back.routes)}`)
  console.log(`    bytes to the sandbox ${back.bytesIn} B, from it ${back.bytesOut} B`)
  check("requests", back.requests, 4, "")
  check("files in the archive", members.length, changed.length, "")
  // A tiny archive: the multipart and JSON framing (a few hundred bytes a request) is allowed on top.
  check(
    "bytes from the sandbox, less 1 KiB of framing, / tar.gz of the 10 files",
    (back.bytesOut - 1024) / backTarBytes,
    1.05,
    "x"
  )
  check("bytes on the wire both ways", back.bytesIn + back.bytesOut, backTarBytes + 4096, " B")

  yield* provider.destroy(instance)
})

try {
  await Effect.runPromise(bench.pipe(Effect.scoped, Effect.provide(NodeContext.layer)))
} finally {
  await emu.close()
}
console.log(results.every(Boolean) ? "\nall targets met" : "\nsome targets missed")
process.exitCode = results.every(Boolean) ? 0 : 1
