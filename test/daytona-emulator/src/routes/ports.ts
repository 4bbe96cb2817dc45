/**
 * What the daemon reports of the sandbox's own processes: `GET /port` and `GET /port/{port}/in-use`, the TCP ports the sandbox's processes listen on, as the daemon's port
 * detector reports them. Sandboxes share the host's network here, so a sandbox's ports are found through its
 * processes (their descendants' listening sockets in `/proc`); where `/proc` cannot tell, a port is in use when
 * something answers on it.
 */
import { promises as fsp } from "node:fs"
import * as net from "node:net"
import type { App } from "../app.js"
import type { Handler, HttpMethod } from "../http.js"
import { HttpError, sendJson } from "../http.js"
import { TB, toolboxSandbox } from "./toolbox.js"

const LISTEN = "0A"

/** Listening TCP sockets by inode, with their ports. */
const listeningSockets = async (): Promise<Map<string, number>> => {
  const out = new Map<string, number>()
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    const text = await fsp.readFile(file, "utf8").catch(() => "")
    for (const line of text.split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/)
      if (cols.length < 10 || cols[3] !== LISTEN) continue
      out.set(cols[9]!, parseInt(cols[1]!.split(":")[1]!, 16))
    }
  }
  return out
}

/** Every process descending from `roots` (the roots included). */
export const descendants = async (roots: ReadonlyArray<number>): Promise<Set<number>> => {
  const parent = new Map<number, number>()
  for (const name of await fsp.readdir("/proc").catch(() => [] as Array<string>)) {
    if (!/^\d+$/.test(name)) continue
    const stat = await fsp.readFile(`/proc/${name}/stat`, "utf8").catch(() => "")
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
    if (Number.isInteger(ppid)) parent.set(Number(name), ppid)
  }
  const found = new Set(roots)
  for (const pid of parent.keys()) {
    const chain: Array<number> = []
    let p: number | undefined = pid
    while (p !== undefined && p > 1 && !found.has(p)) {
      chain.push(p)
      p = parent.get(p)
    }
    if (p !== undefined && found.has(p)) { for (const c of chain) found.add(c) }
  }
  return found
}

export const sandboxPorts = async (app: App, sandboxId: string): Promise<Array<number>> => {
  const sockets = await listeningSockets()
  const ports = new Set<number>()
  for (const pid of await descendants(app.processes.roots(sandboxId))) {
    const fds = await fsp.readdir(`/proc/${pid}/fd`).catch(() => [] as Array<string>)
    for (const fd of fds) {
      const link = await fsp.readlink(`/proc/${pid}/fd/${fd}`).catch(() => "")
      const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1]
      const port = inode === undefined ? undefined : sockets.get(inode)
      if (port !== undefined) ports.add(port)
    }
  }
  return [...ports].sort((a, b) => a - b)
}

const answers = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port })
    const done = (v: boolean) => {
      socket.destroy()
      resolve(v)
    }
    socket.setTimeout(500, () => done(false))
    socket.once("connect", () => done(true))
    socket.once("error", () => done(false))
  })

export const portRoutes = (app: App): ReadonlyArray<readonly [HttpMethod, string, Handler]> => [
  ["GET", `${TB}/port`, async (ctx) => {
    const sb = toolboxSandbox(app, ctx)
    sendJson(ctx.res, 200, { ports: await sandboxPorts(app, sb.id) })
  }],
  ["GET", `${TB}/port/{port}/in-use`, async (ctx) => {
    const sb = toolboxSandbox(app, ctx)
    const port = Number(ctx.params["port"])
    if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new HttpError(400, "invalid port", "BAD_REQUEST")
    const isInUse = (await sandboxPorts(app, sb.id)).includes(port) || await answers(port)
    sendJson(ctx.res, 200, { isInUse })
  }]
]
