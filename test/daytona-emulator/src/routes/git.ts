/**
 * The toolbox's git routes the SDK's `sandbox.git` calls (init, clone, add, commit, status, history, branches,
 * checkout, remotes, config, reset, restore), over the sandbox's directory. Pull, push and credentials need a
 * network the emulator does not offer and are not served.
 */
import type { App } from "../app.js"
import { git, parseLog, parseStatus, repoPath, runGit } from "../git.js"
import type { Handler, HttpMethod, JsonObject, RequestContext } from "../http.js"
import { HttpError, optBoolean, optNumber, optString, readJsonObject, sendEmpty, sendJson } from "../http.js"
import { resolveSandboxPath } from "../sandboxFs.js"
import type { SandboxRecord } from "../state.js"
import { TB, toolboxSandbox } from "./toolbox.js"

const strings = (body: JsonObject, key: string): Array<string> => {
  const v = body[key]
  if (v === undefined || v === null) return []
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) {
    throw new HttpError(400, `${key} must be an array of strings`, "BAD_REQUEST")
  }
  return v
}

const need = (body: JsonObject, key: string): string => {
  const v = optString(body, key)
  if (v === undefined || v === "") throw new HttpError(400, `${key} is required`, "BAD_REQUEST")
  return v
}

const scopeFlag = (body: JsonObject | URLSearchParams): string => {
  const scope = (body instanceof URLSearchParams ? body.get("scope") : optString(body, "scope")) ?? "global"
  if (!["global", "local", "system"].includes(scope)) {
    throw new HttpError(400, "scope must be one of global, local or system", "BAD_REQUEST")
  }
  return `--${scope}`
}

/** A JSON-body route on a repository: the sandbox, the body and the repository's paths. */
const onRepo = (
  app: App,
  f: (
    sb: SandboxRecord,
    body: JsonObject,
    repo: Awaited<ReturnType<typeof repoPath>>,
    ctx: RequestContext
  ) => Promise<void>
): Handler =>
async (ctx) => {
  const sb = toolboxSandbox(app, ctx)
  const body = await readJsonObject(ctx)
  await f(sb, body, await repoPath(app, sb, body["path"]), ctx)
}

/** A query route on a repository (`?path=`). */
const onRepoQuery = (
  app: App,
  f: (sb: SandboxRecord, repo: Awaited<ReturnType<typeof repoPath>>, ctx: RequestContext) => Promise<void>
): Handler =>
async (ctx) => {
  const sb = toolboxSandbox(app, ctx)
  await f(sb, await repoPath(app, sb, ctx.query.get("path")), ctx)
}

/**
 * A repository URL as the sandbox gives it, as git (contained) reaches it: a repository on the sandbox's own disk
 * is named by its path there (or a file:// URL), any other URL is passed on.
 */
const repositoryUrl = async (app: App, sb: SandboxRecord, asked: string): Promise<string> => {
  const local = asked.startsWith("/")
    ? asked
    : asked.startsWith("file:///")
    ? asked.slice("file://".length)
    : undefined
  return local === undefined
    ? asked
    : app.processes.visiblePath(sb.paths, (await resolveSandboxPath(sb.paths, local)).host)
}

export const gitRoutes = (app: App): ReadonlyArray<readonly [HttpMethod, string, Handler]> => [
  ["POST", `${TB}/git/init`, async (ctx) => {
    const sb = toolboxSandbox(app, ctx)
    const body = await readJsonObject(ctx)
    const repo = await repoPath(app, sb, body["path"], true)
    const branch = optString(body, "initial_branch")
    await git(app, sb, repo.host, [
      "init",
      ...(optBoolean(body, "bare") === true ? ["--bare"] : []),
      ...(branch !== undefined && branch !== "" ? ["--initial-branch", branch] : [])
    ])
    sendEmpty(ctx.res, 201)
  }],
  ["POST", `${TB}/git/clone`, async (ctx) => {
    const sb = toolboxSandbox(app, ctx)
    const body = await readJsonObject(ctx)
    const url = await repositoryUrl(app, sb, need(body, "url"))
    const { host } = await resolveSandboxPath(sb.paths, need(body, "path"))
    const parent = await repoPath(app, sb, "/", false)
    const branch = optString(body, "branch")
    const depth = optNumber(body, "depth")
    await git(app, sb, parent.host, [
      "clone",
      ...(branch ? ["--branch", branch] : []),
      ...(depth !== undefined && depth > 0 ? ["--depth", String(depth)] : []),
      "--",
      url,
      app.processes.visiblePath(sb.paths, host)
    ])
    const commit = optString(body, "commit_id")
    if (commit) await git(app, sb, host, ["checkout", "--detach", commit])
    sendEmpty(ctx.res, 200)
  }],
  [
    "POST",
    `${TB}/git/add`,
    onRepo(app, async (sb, body, repo, ctx) => {
      const files = strings(body, "files")
      if (files.length === 0) throw new HttpError(400, "files is required", "BAD_REQUEST")
      await git(app, sb, repo.host, ["add", "--", ...files])
      sendEmpty(ctx.res, 200)
    })
  ],
  [
    "POST",
    `${TB}/git/commit`,
    onRepo(app, async (sb, body, repo, ctx) => {
      const author = need(body, "author")
      const email = need(body, "email")
      const args = [
        "-c",
        `user.name=${author}`,
        "-c",
        `user.email=${email}`,
        "commit",
        "-q",
        "-m",
        need(body, "message")
      ]
      const run = await runGit(app, sb, repo.host, [
        ...args,
        ...(optBoolean(body, "allow_empty") ? ["--allow-empty"] : [])
      ])
      if (run.code !== 0) {
        if (/nothing (added )?to commit|no changes added/.test(run.stdout + run.stderr)) {
          throw new HttpError(400, "cannot create empty commit: clean working tree", "BAD_REQUEST")
        }
        throw new HttpError(400, (run.stderr || run.stdout).trim().split("\n")[0]!, "BAD_REQUEST")
      }
      sendJson(ctx.res, 200, { hash: (await git(app, sb, repo.host, ["rev-parse", "HEAD"])).trim() })
    })
  ],
  [
    "GET",
    `${TB}/git/status`,
    onRepoQuery(app, async (sb, repo, ctx) => {
      sendJson(ctx.res, 200, parseStatus(await git(app, sb, repo.host, ["status", "--porcelain=v1", "-b", "-z"])))
    })
  ],
  [
    "GET",
    `${TB}/git/history`,
    onRepoQuery(app, async (sb, repo, ctx) => {
      const run = await runGit(app, sb, repo.host, ["log", "--format=%H%x00%an%x00%ae%x00%aI%x00%B%x1e"])
      // A repository without commits has no history, not an error.
      if (run.code !== 0 && /does not have any commits/.test(run.stderr)) return sendJson(ctx.res, 200, [])
      if (run.code !== 0) throw new HttpError(404, run.stderr.trim().split("\n")[0]!, "GIT_REPO_NOT_FOUND")
      sendJson(ctx.res, 200, parseLog(run.stdout))
    })
  ],
  [
    "GET",
    `${TB}/git/branches`,
    onRepoQuery(app, async (sb, repo, ctx) => {
      const branches = (await git(app, sb, repo.host, ["for-each-ref", "--format=%(refname:short)", "refs/heads"]))
        .split("\n").filter((b) => b !== "")
      const current = (await runGit(app, sb, repo.host, ["symbolic-ref", "--short", "-q", "HEAD"])).stdout.trim()
      sendJson(ctx.res, 200, { branches, current })
    })
  ],
  [
    "POST",
    `${TB}/git/branches`,
    onRepo(app, async (sb, body, repo, ctx) => {
      await git(app, sb, repo.host, ["branch", "--", need(body, "name")])
      sendEmpty(ctx.res, 201)
    })
  ],
  [
    "DELETE",
    `${TB}/git/branches`,
    onRepo(app, async (sb, body, repo, ctx) => {
      const name = need(body, "name")
      const exists = await runGit(app, sb, repo.host, ["rev-parse", "--verify", "-q", `refs/heads/${name}`])
      if (exists.code !== 0) throw new HttpError(404, `branch ${name} not found`, "GIT_BRANCH_NOT_FOUND")
      await git(app, sb, repo.host, ["branch", "-D", "--", name])
      sendEmpty(ctx.res, 204)
    })
  ],
  [
    "POST",
    `${TB}/git/checkout`,
    onRepo(app, async (sb, body, repo, ctx) => {
      await git(app, sb, repo.host, ["checkout", "-q", need(body, "branch")])
      sendEmpty(ctx.res, 200)
    })
  ],
  [
    "GET",
    `${TB}/git/remotes`,
    onRepoQuery(app, async (sb, repo, ctx) => {
      const remotes = (await git(app, sb, repo.host, ["remote", "-v"])).split("\n")
        .map((l) => /^(\S+)\t(\S+) \(fetch\)$/.exec(l))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => ({ name: m[1]!, url: m[2]! }))
      sendJson(ctx.res, 200, { remotes })
    })
  ],
  [
    "POST",
    `${TB}/git/remotes`,
    onRepo(app, async (sb, body, repo, ctx) => {
      const name = need(body, "name")
      const url = await repositoryUrl(app, sb, need(body, "url"))
      const exists = (await runGit(app, sb, repo.host, ["remote", "get-url", name])).code === 0
      if (exists && optBoolean(body, "overwrite") !== true) {
        throw new HttpError(409, `remote ${name} already exists`, "BAD_REQUEST")
      }
      await git(app, sb, repo.host, exists ? ["remote", "set-url", name, url] : ["remote", "add", name, url])
      if (optBoolean(body, "fetch") === true) await git(app, sb, repo.host, ["fetch", "-q", name])
      sendEmpty(ctx.res, 201)
    })
  ],
  ["GET", `${TB}/git/config`, async (ctx) => {
    const sb = toolboxSandbox(app, ctx)
    const key = ctx.query.get("key")
    if (!key) throw new HttpError(400, "key is required", "BAD_REQUEST")
    const flag = scopeFlag(ctx.query)
    const cwd = flag === "--local"
      ? (await repoPath(app, sb, ctx.query.get("path"))).host
      : (await repoPath(app, sb, "/")).host
    const run = await runGit(app, sb, cwd, ["config", flag, "--get", key])
    sendJson(ctx.res, 200, { value: run.code === 0 ? run.stdout.replace(/\n$/, "") : null })
  }],
  ["POST", `${TB}/git/config`, async (ctx) => {
    const sb = toolboxSandbox(app, ctx)
    const body = await readJsonObject(ctx)
    const flag = scopeFlag(body)
    const cwd = (await repoPath(app, sb, flag === "--local" ? body["path"] : "/")).host
    await git(app, sb, cwd, ["config", flag, need(body, "key"), optString(body, "value") ?? ""])
    sendEmpty(ctx.res, 200)
  }],
  ["POST", `${TB}/git/config/user`, async (ctx) => {
    const sb = toolboxSandbox(app, ctx)
    const body = await readJsonObject(ctx)
    const flag = scopeFlag(body)
    const cwd = (await repoPath(app, sb, flag === "--local" ? body["path"] : "/")).host
    await git(app, sb, cwd, ["config", flag, "user.name", need(body, "name")])
    await git(app, sb, cwd, ["config", flag, "user.email", need(body, "email")])
    sendEmpty(ctx.res, 200)
  }],
  [
    "POST",
    `${TB}/git/reset`,
    onRepo(app, async (sb, body, repo, ctx) => {
      const mode = optString(body, "mode") ?? "mixed"
      if (!["soft", "mixed", "hard", "merge", "keep"].includes(mode)) {
        throw new HttpError(400, "mode must be one of soft, mixed, hard, merge or keep", "BAD_REQUEST")
      }
      const files = strings(body, "files")
      const target = optString(body, "target") || "HEAD"
      await git(
        app,
        sb,
        repo.host,
        files.length > 0 ? ["reset", "-q", target, "--", ...files] : [
          "reset",
          "-q",
          `--${mode}`,
          target
        ]
      )
      sendEmpty(ctx.res, 200)
    })
  ],
  [
    "POST",
    `${TB}/git/restore`,
    onRepo(app, async (sb, body, repo, ctx) => {
      const files = strings(body, "files")
      if (files.length === 0) throw new HttpError(400, "files is required", "BAD_REQUEST")
      const staged = optBoolean(body, "staged") === true
      // As git restore: the working tree unless only the index is asked for.
      const worktree = optBoolean(body, "worktree") === true || !staged
      const source = optString(body, "source")
      await git(app, sb, repo.host, [
        "restore",
        ...(staged ? ["--staged"] : []),
        ...(worktree ? ["--worktree"] : []),
        ...(source ? [`--source=${source}`] : []),
        "--",
        ...files
      ])
      sendEmpty(ctx.res, 200)
    })
  ]
]
