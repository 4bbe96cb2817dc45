/**
 * `GET /system/metrics` (`SystemMetrics`): the sandbox's limits (its CPU count, memory and disk from create or
 * resize), the memory its processes use (their resident sets in `/proc`) and the bytes its directory holds. CPU
 * usage is not sampled: it stays 0, as the daemon reports it before its first sample.
 */
import { promises as fsp } from "node:fs"
import * as nodePath from "node:path"
import type { App } from "../app.js"
import type { Handler, HttpMethod } from "../http.js"
import { sendJson } from "../http.js"
import { descendants } from "./ports.js"
import { TB, toolboxSandbox } from "./toolbox.js"

const GIB = 1024 ** 3
const PAGE = 4096

/** Bytes of the regular files under `dir`, links not followed. */
const usage = async (dir: string): Promise<number> => {
  let total = 0
  const entries = await fsp.readdir(dir, { withFileTypes: true }).catch(() => [])
  for (const e of entries) {
    const p = nodePath.join(dir, e.name)
    if (e.isDirectory()) total += await usage(p)
    else if (e.isFile()) total += await fsp.stat(p).then((s) => s.size, () => 0)
  }
  return total
}

const resident = async (pids: Iterable<number>): Promise<number> => {
  let total = 0
  for (const pid of pids) {
    const statm = await fsp.readFile(`/proc/${pid}/statm`, "utf8").catch(() => "")
    total += (Number(statm.split(" ")[1]) || 0) * PAGE
  }
  return total
}

export const metricsRoutes = (app: App): ReadonlyArray<readonly [HttpMethod, string, Handler]> => [
  ["GET", `${TB}/system/metrics`, async (ctx) => {
    const sb = toolboxSandbox(app, ctx)
    const diskTotal = sb.disk * GIB
    const diskUsed = await usage(sb.paths.root)
    const now = new Date()
    sendJson(ctx.res, 200, {
      cpuCount: sb.cpu,
      cpuUsedPct: 0,
      memTotal: sb.memory * GIB,
      memUsed: await resident(await descendants(app.processes.roots(sb.id))),
      memCache: 0,
      diskTotal,
      diskUsed,
      diskFree: Math.max(0, diskTotal - diskUsed),
      timestamp: now.toISOString(),
      timestampUnix: Math.floor(now.getTime() / 1000)
    })
  }]
]
