/**
 * Preview links, signed preview links and SSH access (daytona-api.md §11, §16 item 7). Preview URLs point at the
 * emulator's own `/preview/...` proxy (see preview.ts), which forwards to the port on 127.0.0.1, since sandbox
 * processes are host processes.
 */
import { randomBytes, randomUUID } from "node:crypto"
import type { App } from "../app.js"
import type { Handler, HttpMethod, RequestContext } from "../http.js"
import { HttpError, intParam, sendJson } from "../http.js"
import type { SandboxRecord } from "../state.js"

const SB = "/api/sandbox/{sandboxIdOrName}"

export interface SignedPreview {
  readonly sandboxId: string
  readonly port: number
  readonly expiresAt: number
}

interface SshAccess {
  readonly id: string
  readonly sandboxId: string
  readonly token: string
  readonly expiresAt: number
  readonly createdAt: string
}

/** Tokens live as long as the emulator; shared with the preview proxy. */
export class AccessTokens {
  readonly signed = new Map<string, SignedPreview>()
  readonly ssh = new Map<string, SshAccess>()
}

const portOf = (ctx: RequestContext): number => {
  const port = intParam(ctx.params["port"], "port")!
  if (port < 1 || port > 65535) throw new HttpError(400, "Invalid port: must be between 1 and 65535")
  return port
}

const lowerAlnum = (length: number): string => {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
  const bytes = randomBytes(length)
  let out = ""
  for (const b of bytes) out += alphabet[b % alphabet.length]
  return out
}

export const accessRoutes = (app: App, tokens: AccessTokens): ReadonlyArray<readonly [HttpMethod, string, Handler]> => {
  const sandboxOf = (ctx: RequestContext): SandboxRecord => app.store.resolve(ctx.params["sandboxIdOrName"]!)
  return [
    ["GET", `${SB}/ports/{port}/preview-url`, (ctx) => {
      const sb = sandboxOf(ctx)
      const port = portOf(ctx)
      sendJson(ctx.res, 200, { sandboxId: sb.id, url: `${app.origin()}/preview/${sb.id}/${port}`, token: sb.authToken })
    }],
    ["GET", `${SB}/ports/{port}/signed-preview-url`, (ctx) => {
      const sb = sandboxOf(ctx)
      const port = portOf(ctx)
      const expires = intParam(ctx.query.get("expiresInSeconds"), "expiresInSeconds") ?? 60
      if (expires < 1 || expires > 86400) throw new HttpError(400, "expiresInSeconds must be between 1 and 86400")
      const token = lowerAlnum(16)
      tokens.signed.set(token, { sandboxId: sb.id, port, expiresAt: Date.now() + expires * 1000 })
      sendJson(ctx.res, 200, { sandboxId: sb.id, port, token, url: `${app.origin()}/preview/signed/${token}` })
    }],
    ["POST", `${SB}/ports/{port}/signed-preview-url/{token}/expire`, (ctx) => {
      sandboxOf(ctx)
      tokens.signed.delete(ctx.params["token"]!)
      sendJson(ctx.res, 200, {})
    }],
    ["POST", `${SB}/ssh-access`, (ctx) => {
      const sb = sandboxOf(ctx)
      const minutes = intParam(ctx.query.get("expiresInMinutes"), "expiresInMinutes") ?? 60
      if (minutes < 1) throw new HttpError(400, "expiresInMinutes must be positive")
      const now = new Date()
      const access: SshAccess = {
        id: randomUUID(),
        sandboxId: sb.id,
        token: lowerAlnum(32),
        expiresAt: now.getTime() + minutes * 60_000,
        createdAt: now.toISOString()
      }
      tokens.ssh.set(access.token, access)
      const port = new URL(app.origin()).port
      sendJson(ctx.res, 200, {
        id: access.id,
        sandboxId: sb.id,
        token: access.token,
        expiresAt: new Date(access.expiresAt).toISOString(),
        createdAt: access.createdAt,
        updatedAt: access.createdAt,
        // Nothing listens for SSH here; the command only has the real shape.
        sshCommand: `ssh -p ${port} ${access.token}@127.0.0.1`
      })
    }],
    ["DELETE", `${SB}/ssh-access`, (ctx) => {
      const sb = sandboxOf(ctx)
      const token = ctx.query.get("token")
      for (const [t, a] of tokens.ssh) if (a.sandboxId === sb.id && (!token || t === token)) tokens.ssh.delete(t)
      sendJson(ctx.res, 200, app.store.dto(sb))
    }],
    ["GET", "/api/sandbox/ssh-access/validate", (ctx) => {
      const token = ctx.query.get("token") ?? ""
      const access = tokens.ssh.get(token)
      const valid = access !== undefined && access.expiresAt > Date.now() &&
        app.store.findLive(access.sandboxId) !== undefined
      sendJson(ctx.res, 200, { valid, sandboxId: access?.sandboxId ?? "" })
    }]
  ]
}
