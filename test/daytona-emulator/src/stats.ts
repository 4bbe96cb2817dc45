/**
 * Request counters. Tests use them to assert how chatty a client is (requests per route) and how much data
 * crossed the wire (body bytes, both directions, in total and per route).
 */
import type { EmulatorStats, RouteStats } from "./types.js"

interface MutableRouteStats {
  requests: number
  bytesIn: number
  bytesOut: number
  faultsInjected: number
  statuses: Map<string, number>
}

const bump = (map: Map<string, number>, key: string, by = 1): void => {
  map.set(key, (map.get(key) ?? 0) + by)
}

export class StatsCounter {
  private requests = 0
  private routes = new Map<string, MutableRouteStats>()
  private statuses = new Map<string, number>()
  private bytesIn = 0
  private bytesOut = 0
  private faultsInjected = 0
  private webSockets = 0
  private socketIoConnections = 0

  private route(key: string): MutableRouteStats {
    let r = this.routes.get(key)
    if (!r) {
      r = { requests: 0, bytesIn: 0, bytesOut: 0, faultsInjected: 0, statuses: new Map() }
      this.routes.set(key, r)
    }
    return r
  }

  request(routeKey: string): void {
    this.requests++
    this.route(routeKey).requests++
  }

  status(code: number, routeKey?: string): void {
    const key = String(code)
    bump(this.statuses, key)
    if (routeKey !== undefined) bump(this.route(routeKey).statuses, key)
  }

  in(bytes: number, routeKey?: string): void {
    this.bytesIn += bytes
    if (routeKey !== undefined) this.route(routeKey).bytesIn += bytes
  }

  out(bytes: number, routeKey?: string): void {
    this.bytesOut += bytes
    if (routeKey !== undefined) this.route(routeKey).bytesOut += bytes
  }

  fault(routeKey?: string): void {
    this.faultsInjected++
    if (routeKey !== undefined) this.route(routeKey).faultsInjected++
  }

  webSocket(): void {
    this.webSockets++
  }

  socketIo(): void {
    this.socketIoConnections++
  }

  snapshot(): EmulatorStats {
    const perRoute: Record<string, RouteStats> = {}
    const routes: Record<string, number> = {}
    for (const [key, r] of this.routes) {
      // A route known only through bytes of an uncounted request (none today) would show 0; keep `routes` to counted.
      if (r.requests > 0) routes[key] = r.requests
      perRoute[key] = {
        requests: r.requests,
        bytesIn: r.bytesIn,
        bytesOut: r.bytesOut,
        faultsInjected: r.faultsInjected,
        statuses: Object.fromEntries(r.statuses)
      }
    }
    return {
      requests: this.requests,
      routes,
      statuses: Object.fromEntries(this.statuses),
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      faultsInjected: this.faultsInjected,
      webSockets: this.webSockets,
      socketIoConnections: this.socketIoConnections,
      perRoute
    }
  }

  reset(): void {
    this.requests = 0
    this.routes = new Map()
    this.statuses = new Map()
    this.bytesIn = 0
    this.bytesOut = 0
    this.faultsInjected = 0
    this.webSockets = 0
    this.socketIoConnections = 0
  }
}
