/**
 * A seed by a user who is not root (the local provider's usual case), run for real as `nobody` in a child
 * process: one unreadable file stays out alone (said so), a mode-555 directory is seeded with its contents and its
 * mode, and a seed that cannot land what it planned is an error, never a success with fewer files. Skipped when
 * the test does not run as root (it cannot switch users then) or `setpriv` is missing.
 */
import { describe, expect, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const here = path.dirname(fileURLToPath(import.meta.url))
const NOBODY = 65534
const hasSetpriv = (() => {
  try {
    execFileSync("setpriv", ["--version"], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
})()
const root = process.getuid?.() === 0

let bundle: string | undefined
const childBundle = async (): Promise<string> => {
  if (bundle !== undefined) return bundle
  const { build } = await import("esbuild")
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sync-nonroot-bundle-"))
  fs.chmodSync(dir, 0o755)
  const out = path.join(dir, "child.cjs")
  await build({
    entryPoints: [path.join(here, "fixtures/nonRootChild.ts")],
    bundle: true,
    platform: "node",
    format: "cjs",
    conditions: ["source"],
    outfile: out,
    logLevel: "silent"
  })
  fs.chmodSync(out, 0o644)
  bundle = out
  return out
}

const chownTree = (p: string) => {
  fs.lchownSync(p, NOBODY, NOBODY)
  if (fs.lstatSync(p).isDirectory()) { for (const n of fs.readdirSync(p)) chownTree(path.join(p, n)) }
}

const seedAsNobody = async (setup: (base: string) => void) => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), "sync-nonroot-"))
  fs.chmodSync(base, 0o755)
  fs.mkdirSync(path.join(base, "host"))
  setup(base)
  const out = execFileSync(
    "setpriv",
    [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", process.execPath, await childBundle(), base],
    { encoding: "utf8", timeout: 60_000 }
  )
  return { base, out: JSON.parse(out) as { result?: any; error?: { reason: string; message: string } } }
}

const write = (p: string, text: string) => {
  fs.mkdirSync(path.dirname(p), { recursive: true })
  fs.writeFileSync(p, text)
}

describe.skipIf(!root || !hasSetpriv)("a seed as a user who is not root (setpriv to nobody)", () => {
  it("one unreadable file stays out alone, said so; a mode-555 directory is seeded whole", async () => {
    const { base, out } = await seedAsNobody((b) => {
      const h = path.join(b, "host")
      write(path.join(h, "top/a.txt"), "A")
      write(path.join(h, "top/secret"), "S")
      write(path.join(h, "top/sub/c.txt"), "C")
      write(path.join(h, "ro/f.txt"), "F")
      write(path.join(h, "ro/sub/g.txt"), "G")
      chownTree(b)
      fs.chmodSync(path.join(h, "top/secret"), 0o000)
      fs.chmodSync(path.join(h, "ro/sub"), 0o555)
      fs.chmodSync(path.join(h, "ro"), 0o555)
    })
    try {
      expect(out.error).toBeUndefined()
      const rt = path.join(base, "runtime")
      expect(fs.readFileSync(path.join(rt, "top/a.txt"), "utf8")).toBe("A")
      expect(fs.readFileSync(path.join(rt, "top/sub/c.txt"), "utf8")).toBe("C")
      expect(fs.existsSync(path.join(rt, "top/secret"))).toBe(false)
      expect(fs.readFileSync(path.join(rt, "ro/f.txt"), "utf8")).toBe("F")
      expect(fs.readFileSync(path.join(rt, "ro/sub/g.txt"), "utf8")).toBe("G")
      expect(fs.statSync(path.join(rt, "ro")).mode & 0o777).toBe(0o555)
      expect(fs.statSync(path.join(rt, "ro/sub")).mode & 0o777).toBe(0o555)
      expect(out.result.files_to_runtime).toBe(4)
      expect(out.result.refused).toEqual([
        { path: "top/secret", reason: "unreadable on the host (EACCES): not sent to the runtime" }
      ])
    } finally {
      fs.rmSync(base, { recursive: true, force: true })
    }
  })

  it("a seed that cannot land what it planned is an error, never files: 0 and success", async () => {
    const { base, out } = await seedAsNobody((b) => {
      const h = path.join(b, "host")
      write(path.join(h, "ok.txt"), "OK")
      write(path.join(h, "locked/new.txt"), "N")
      fs.mkdirSync(path.join(b, "runtime/locked"), { recursive: true })
      chownTree(b)
      // a runtime directory this user cannot write into
      fs.lchownSync(path.join(b, "runtime/locked"), 0, 0)
      fs.chmodSync(path.join(b, "runtime/locked"), 0o755)
    })
    try {
      expect(out.result).toBeUndefined()
      expect(out.error?.reason).toBe("SyncError")
      expect(out.error?.message).toContain("locked/new.txt")
      expect(out.error?.message).toContain("did not land")
    } finally {
      fs.rmSync(base, { recursive: true, force: true })
    }
  })
})
