/**
 * Admin endpoints under `/_emulator/`, for tests that run the emulator in another process (the bin): read and
 * reset the counters, read and replace the fault configuration, list sandboxes and hold one in a state. They need
 * the same bearer key, are never counted and never fault.
 */
import { faultRuleJson, parseFaultRules, parseRandomFailures, randomFailuresJson } from "../faultConfig.js"
import type { Handler, HttpMethod } from "../http.js"
import { HttpError, intParam, readJsonObject, sendEmpty, sendJson } from "../http.js"
import { SANDBOX_STATES } from "../state.js"
import type { Emulator, SandboxState } from "../types.js"

export const ADMIN_PREFIX = "/_emulator/"

const faultsJson = (emu: Emulator): Record<string, unknown> => {
  const f = emu.faults()
  return { seed: f.seed, rules: f.rules.map(faultRuleJson), random: randomFailuresJson(f.randomFailures) }
}

const asTypeError = <A>(f: () => A): A => {
  try {
    return f()
  } catch (e) {
    if (e instanceof TypeError || e instanceof RangeError) throw new HttpError(400, e.message)
    throw e
  }
}

export const adminRoutes = (emu: () => Emulator): ReadonlyArray<readonly [HttpMethod, string, Handler]> => [
  ["GET", "/_emulator/stats", (ctx) => sendJson(ctx.res, 200, emu().stats())],
  ["DELETE", "/_emulator/stats", (ctx) => {
    emu().resetStats()
    sendEmpty(ctx.res, 204)
  }],
  ["POST", "/_emulator/stats/reset", (ctx) => {
    emu().resetStats()
    sendEmpty(ctx.res, 204)
  }],
  ["GET", "/_emulator/faults", (ctx) => sendJson(ctx.res, 200, faultsJson(emu()))],
  // Replaces what the body names: `rules` (array), `random` (object, or null for off), `seed` (restarts the PRNG).
  ["POST", "/_emulator/faults", async (ctx) => {
    const body = await readJsonObject(ctx)
    const e = emu()
    const rules = "rules" in body ? asTypeError(() => parseFaultRules(body["rules"], "rules")) : undefined
    const random = "random" in body ? asTypeError(() => parseRandomFailures(body["random"], "random")) : undefined
    const seed = intParam(body["seed"] === undefined ? undefined : String(body["seed"]), "seed")
    if (rules !== undefined) e.setFaults(rules)
    if ("random" in body) e.setRandomFailures(random)
    if (seed !== undefined) e.reseed(seed)
    sendJson(ctx.res, 200, faultsJson(e))
  }],
  ["DELETE", "/_emulator/faults", (ctx) => {
    emu().setFaults([])
    emu().setRandomFailures(undefined)
    sendEmpty(ctx.res, 204)
  }],
  ["GET", "/_emulator/sandboxes", (ctx) => sendJson(ctx.res, 200, emu().sandboxes())],
  ["POST", "/_emulator/sandboxes/{idOrName}/stick", async (ctx) => {
    const body = await readJsonObject(ctx)
    const state = body["state"]
    if (typeof state !== "string" || !SANDBOX_STATES.includes(state as SandboxState)) {
      throw new HttpError(400, `state must be one of ${SANDBOX_STATES.join(", ")}`)
    }
    const requests = body["requests"]
    if (requests !== undefined && (typeof requests !== "number" || !Number.isInteger(requests) || requests < 0)) {
      throw new HttpError(400, "requests must be a non-negative integer")
    }
    try {
      emu().stick(ctx.params["idOrName"]!, state as SandboxState, requests)
    } catch (e) {
      throw new HttpError(404, (e as Error).message)
    }
    sendEmpty(ctx.res, 204)
  }],
  ["POST", "/_emulator/sandboxes/{idOrName}/unstick", (ctx) => {
    emu().unstick(ctx.params["idOrName"]!)
    sendEmpty(ctx.res, 204)
  }]
]
