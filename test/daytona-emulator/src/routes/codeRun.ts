/**
 * `POST /process/code-run` (`CodeRunRequest` → `CodeRunResponse`): Python, JavaScript or TypeScript code run in the
 * sandbox's work dir as a script file with `argv` after it, output combined as `/process/execute` gives it, the
 * same timeout (408). TypeScript is transpiled first (as a sandbox image's ts-node would), then run by node. No
 * chart artifacts are produced.
 */
import { randomUUID } from "node:crypto"
import { promises as fsp } from "node:fs"
import * as nodePath from "node:path"
import type { App } from "../app.js"
import type { Handler, HttpMethod } from "../http.js"
import { HttpError, optNumber, optString, optStringRecord, readJsonObject, sendJson } from "../http.js"
import { hostPath } from "../sandboxFs.js"
import { runToEnd } from "./process.js"
import { TB, toolboxSandbox } from "./toolbox.js"

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`

const transpile = async (code: string): Promise<string> => {
  const ts = await import("typescript").catch(() => undefined)
  if (ts === undefined) throw new HttpError(400, "typescript is not available in this sandbox", "BAD_REQUEST")
  const api = (ts as { default?: typeof import("typescript") }).default ?? ts
  return api.transpileModule(code, {
    compilerOptions: { module: api.ModuleKind.CommonJS, target: api.ScriptTarget.ES2022 }
  })
    .outputText
}

export const codeRunRoutes = (app: App): ReadonlyArray<readonly [HttpMethod, string, Handler]> => [
  ["POST", `${TB}/process/code-run`, async (ctx) => {
    const sb = toolboxSandbox(app, ctx)
    const body = await readJsonObject(ctx)
    const code = optString(body, "code")
    const language = optString(body, "language")
    if (code === undefined) throw new HttpError(400, "code is required", "BAD_REQUEST")
    if (language !== "python" && language !== "javascript" && language !== "typescript") {
      throw new HttpError(400, "language must be one of python, javascript, typescript", "BAD_REQUEST")
    }
    const rawArgv = body["argv"]
    const argv = rawArgv === undefined || rawArgv === null ? [] : rawArgv
    if (!Array.isArray(argv) || !argv.every((a) => typeof a === "string")) {
      throw new HttpError(400, "argv must be an array of strings", "BAD_REQUEST")
    }
    const asked = optNumber(body, "timeout")
    const timeout = asked !== undefined && asked > 0 ? asked : app.executeDefaultTimeoutSeconds
    const script = language === "typescript" ? await transpile(code) : code
    const tmp = nodePath.join(sb.paths.root, "tmp")
    await fsp.mkdir(tmp, { recursive: true })
    const file = nodePath.join(tmp, `code-run-${randomUUID()}.${language === "python" ? "py" : "cjs"}`)
    await fsp.writeFile(file, script)
    try {
      const visible = app.processes.visiblePath(sb.paths, file)
      const command = [language === "python" ? "python3 -u" : "node", quote(visible), ...argv.map(quote)].join(" ")
      const cwd = hostPath(sb.paths, sb.paths.workDir)
      sendJson(ctx.res, 200, {
        ...(await runToEnd(app, sb, command, cwd, optStringRecord(body, "envs"), timeout, ctx.res)),
        artifacts: { charts: [] }
      })
    } finally {
      await fsp.rm(file, { force: true })
    }
  }]
]
