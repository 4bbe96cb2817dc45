/**
 * Git for the toolbox routes: the host's `git`, run as a sandbox command (contained like any other, as the sandbox
 * user, HOME in the sandbox), with hooks off so a repository's own files decide nothing. Its answers are read into
 * the daemon's shapes (`GitStatus`, `ListBranchResponse`, `GitCommitInfo`) and its failures into the daemon's error
 * codes.
 */
import { promises as fsp } from "node:fs"
import type { App } from "./app.js"
import { HttpError } from "./http.js"
import { sandboxEnv } from "./processes.js"
import { resolveSandboxPath } from "./sandboxFs.js"
import type { SandboxRecord } from "./state.js"

export interface GitRun {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Runs `git args` in `cwd` (a host path inside the sandbox). */
export const runGit = (app: App, sb: SandboxRecord, cwd: string, args: ReadonlyArray<string>): Promise<GitRun> =>
  new Promise((resolve) => {
    const env = {
      ...sandboxEnv(sb, undefined, app.processes.shell),
      GIT_TERMINAL_PROMPT: "0",
      GIT_CONFIG_NOSYSTEM: "1"
    }
    const child = app.processes.spawn(sb.id, ["git", "-c", "core.hooksPath=/dev/null", ...args], {
      cwd,
      env,
      paths: sb.paths
    })
    const out: Array<Buffer> = []
    const err: Array<Buffer> = []
    child.stdout?.on("data", (d: Buffer) => out.push(d))
    child.stderr?.on("data", (d: Buffer) => err.push(d))
    child.stdin?.end()
    child.once("error", (e) => resolve({ code: -1, stdout: "", stderr: e.message }))
    child.once(
      "close",
      (code) =>
        resolve({
          code: code ?? -1,
          stdout: Buffer.concat(out).toString("utf8"),
          stderr: Buffer.concat(err).toString("utf8")
        })
    )
  })

/** A path of the request (absolute, or relative to the sandbox's work dir) as host and as the command sees it. */
export const repoPath = async (app: App, sb: SandboxRecord, path: unknown, create = false) => {
  if (typeof path !== "string" || path === "") throw new HttpError(400, "path is required", "BAD_REQUEST")
  const { host, virtual } = await resolveSandboxPath(sb.paths, path)
  if (create) await fsp.mkdir(host, { recursive: true })
  const isDir = await fsp.stat(host).then((s) => s.isDirectory(), () => false)
  if (!isDir) throw new HttpError(404, `repository not found: ${virtual}`, "GIT_REPO_NOT_FOUND")
  return { host, virtual, visible: app.processes.visiblePath(sb.paths, host) }
}

/** The failure of a git command as the daemon classifies it. */
export const gitFailure = (run: GitRun, fallback = 400): HttpError => {
  const message = (run.stderr.trim() || run.stdout.trim() || `git exited with ${run.code}`).split("\n")[0]!
  const m = message.toLowerCase()
  if (m.includes("not a git repository")) return new HttpError(404, message, "GIT_REPO_NOT_FOUND")
  if (m.includes("already exists")) return new HttpError(409, message, "GIT_BRANCH_EXISTS")
  if (m.includes("did not match any") || (m.includes("branch") && m.includes("not found"))) {
    return new HttpError(404, message, "GIT_BRANCH_NOT_FOUND")
  }
  if (m.includes("would be overwritten") || m.includes("please commit your changes")) {
    return new HttpError(409, message, "GIT_DIRTY_WORKTREE")
  }
  if (m.includes("authentication") || m.includes("could not read username")) {
    return new HttpError(401, message, "GIT_AUTH_FAILED")
  }
  if (m.includes("does not appear to be a git repository") || m.includes("repository") && m.includes("not found")) {
    return new HttpError(404, message, "GIT_REPO_NOT_FOUND")
  }
  return new HttpError(fallback, message, fallback === 400 ? "BAD_REQUEST" : undefined)
}

/** Runs git and fails the request with the daemon's error when it fails. */
export const git = async (app: App, sb: SandboxRecord, cwd: string, args: ReadonlyArray<string>, fallback = 400) => {
  const run = await runGit(app, sb, cwd, args)
  if (run.code !== 0) throw gitFailure(run, fallback)
  return run.stdout
}

const STATUS: Record<string, string> = {
  " ": "Unmodified",
  "?": "Untracked",
  M: "Modified",
  T: "Modified",
  A: "Added",
  D: "Deleted",
  R: "Renamed",
  C: "Copied",
  U: "Updated but unmerged"
}

/** `git status --porcelain=v1 -b -z` as a `GitStatus`. */
export const parseStatus = (text: string): Record<string, unknown> => {
  const entries = text.split("\0")
  const header = entries[0]?.startsWith("## ") ? entries.shift()!.slice(3) : ""
  let currentBranch = ""
  let upstream = ""
  let detached = false
  let ahead = 0
  let behind = 0
  if (header.startsWith("HEAD (no branch)")) detached = true
  else {
    const plain = header.replace(/^(No commits yet on|Initial commit on) /, "")
    const bracket = plain.indexOf(" [")
    const counts = bracket >= 0 ? plain.slice(bracket) : ""
    const [branch, tracking] = (bracket >= 0 ? plain.slice(0, bracket) : plain).split("...")
    currentBranch = branch ?? ""
    upstream = tracking ?? ""
    ahead = Number(/ahead (\d+)/.exec(counts)?.[1] ?? 0)
    behind = Number(/behind (\d+)/.exec(counts)?.[1] ?? 0)
  }
  const fileStatus: Array<Record<string, string>> = []
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!
    if (e.length < 4) continue
    const x = e[0]!, y = e[1]!
    const renamed = x === "R" || x === "C"
    const extra = renamed ? entries[++i] ?? "" : ""
    fileStatus.push({
      name: e.slice(3),
      staging: STATUS[x] ?? "Unmodified",
      worktree: STATUS[y] ?? "Unmodified",
      extra
    })
  }
  return { currentBranch, fileStatus, ahead, behind, branchPublished: upstream !== "", detached, upstream }
}

/** `git log --format=%H%x00%an%x00%ae%x00%aI%x00%B%x1e` as `GitCommitInfo`s. */
export const parseLog = (text: string): Array<Record<string, string>> =>
  text.split("\x1e").map((r) => r.replace(/^\n/, "")).filter((r) => r !== "").map((r) => {
    const [hash, author, email, timestamp, message] = r.split("\0")
    return { hash: hash!, author: author!, email: email!, timestamp: timestamp!, message: (message ?? "").trimEnd() }
  })
