/**
 * Socket.IO at `/api/socket.io/`. The SDK opens it on construction; if nothing answers, its reconnect timers keep
 * a finished Node process alive for minutes (daytona-api.md §6). Serving it makes processes exit promptly, and
 * lets the emulator push `sandbox.state.updated` like the real API.
 */
import type { Server as HttpServer } from "node:http"
import { Server } from "socket.io"
import type { StatsCounter } from "./stats.js"

export interface EventHub {
  emit(event: string, payload: unknown): void
  close(): void
}

export const attachEvents = (
  httpServer: HttpServer,
  apiKey: string,
  organizationId: string,
  stats: StatsCounter,
  refuse: () => boolean = () => false
): EventHub => {
  const io = new Server(httpServer, {
    path: "/api/socket.io/",
    transports: ["websocket"],
    serveClient: false,
    // Other upgrades (toolbox log WebSockets) are ours; engine.io must not destroy them.
    destroyUpgrade: false
  })
  // The SDK authenticates in the handshake payload (`auth.token`), not with a header.
  io.use((socket, next) => {
    if (refuse()) {
      next(new Error("Service Unavailable"))
      return
    }
    const auth: unknown = socket.handshake.auth
    const token = typeof auth === "object" && auth !== null ? (auth as { token?: unknown }).token : undefined
    if (token === apiKey) next()
    else next(new Error("Unauthorized"))
  })
  io.on("connection", (socket) => {
    stats.socketIo()
    // The real server emits into a room named after the organization.
    void socket.join(organizationId)
  })
  return {
    emit: (event, payload) => {
      io.to(organizationId).emit(event, payload)
    },
    close: () => {
      io.local.disconnectSockets(true)
      io.engine.close()
    }
  }
}
