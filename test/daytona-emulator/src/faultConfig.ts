/**
 * Fault configuration as JSON, shared by the admin endpoint (`POST /_emulator/faults`) and the bin's flags and
 * environment variables, so an out-of-process test configures faults exactly as an in-process one does.
 *
 * A JSON rule names its route either exactly (`"route": "GET /api/sandbox"`, or a template such as
 * `"POST /toolbox/{sandboxId}/process/execute"`) or by a regular expression source (`"match": "^GET /api/"`).
 */
import { validateRandomFailures } from "./faults.js"
import { isObject } from "./http.js"
import { SANDBOX_STATES } from "./state.js"
import type { FaultKind, FaultRule, RandomFailureKind, RandomFailures, SandboxState, StuckRule } from "./types.js"

const FAULT_KINDS: ReadonlyArray<FaultKind> = ["429", "500", "502", "503", "slow", "drop", "drop-after"]
const RANDOM_KINDS: ReadonlyArray<RandomFailureKind> = ["429", "500", "502", "503", "drop", "drop-after"]

const fail = (message: string): never => {
  throw new TypeError(message)
}

const optNum = (obj: Record<string, unknown>, key: string, where: string): number | undefined => {
  const v = obj[key]
  if (v === undefined || v === null) return undefined
  if (typeof v !== "number" || !Number.isFinite(v)) return fail(`${where}.${key} must be a number`)
  return v
}

const routeOf = (obj: Record<string, unknown>, where: string, required: boolean): RegExp | string | undefined => {
  const route = obj["route"]
  const match = obj["match"]
  if (typeof route === "string" && match === undefined) return route
  if (typeof match === "string" && route === undefined) {
    try {
      return new RegExp(match)
    } catch (e) {
      return fail(`${where}.match is not a valid regular expression: ${(e as Error).message}`)
    }
  }
  if (!required && route === undefined && match === undefined) return undefined
  return fail(`${where} needs exactly one of "route" (exact string) or "match" (regular expression source)`)
}

/** Decodes one rule from JSON; throws a `TypeError` naming the bad field. */
export const parseFaultRule = (value: unknown, where = "rule"): FaultRule => {
  if (!isObject(value)) return fail(`${where} must be an object`)
  const obj = value as Record<string, unknown>
  const kind = String(obj["kind"])
  if (!FAULT_KINDS.includes(kind as FaultKind)) return fail(`${where}.kind must be one of ${FAULT_KINDS.join(", ")}`)
  const rate = optNum(obj, "rate", where)
  const retryAfterSeconds = optNum(obj, "retryAfterSeconds", where)
  const delayMs = optNum(obj, "delayMs", where)
  const times = optNum(obj, "times", where)
  const after = optNum(obj, "after", where)
  const header = obj["retryAfterHeader"]
  if (header !== undefined && (typeof header !== "string" || !/^retry-after(-[\w-]+)?$/i.test(header))) {
    return fail(`${where}.retryAfterHeader must be Retry-After or Retry-After-<limiter>`)
  }
  const date = obj["retryAfterDate"]
  if (date !== undefined && typeof date !== "boolean") return fail(`${where}.retryAfterDate must be a boolean`)
  return {
    route: routeOf(obj, where, true)!,
    kind: kind as FaultKind,
    ...(rate !== undefined ? { rate } : {}),
    ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
    ...(delayMs !== undefined ? { delayMs } : {}),
    ...(times !== undefined ? { times } : {}),
    ...(after !== undefined ? { after } : {}),
    ...(typeof header === "string" ? { retryAfterHeader: header } : {}),
    ...(date === true ? { retryAfterDate: true } : {})
  }
}

export const parseFaultRules = (value: unknown, where = "faults"): ReadonlyArray<FaultRule> => {
  if (!Array.isArray(value)) return fail(`${where} must be an array of rules`)
  return value.map((v, i) => parseFaultRule(v, `${where}[${i}]`))
}

/** Decodes the random-failure mode; `null` means off. */
export const parseRandomFailures = (value: unknown, where = "random"): RandomFailures | undefined => {
  if (value === null || value === undefined) return undefined
  if (!isObject(value)) return fail(`${where} must be an object or null`)
  const obj = value as Record<string, unknown>
  const rate = optNum(obj, "rate", where)
  if (rate === undefined) return fail(`${where}.rate is required`)
  const rawKinds = obj["kinds"]
  let kinds: Array<RandomFailureKind> | undefined
  if (rawKinds !== undefined) {
    if (!Array.isArray(rawKinds) || rawKinds.some((k) => !RANDOM_KINDS.includes(String(k) as RandomFailureKind))) {
      return fail(`${where}.kinds must be an array of ${RANDOM_KINDS.join(", ")}`)
    }
    kinds = rawKinds.map((k) => String(k) as RandomFailureKind)
  }
  const retryAfterSeconds = optNum(obj, "retryAfterSeconds", where)
  const route = routeOf(obj, where, false)
  const random: RandomFailures = {
    rate,
    ...(kinds !== undefined ? { kinds } : {}),
    ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
    ...(route !== undefined ? { route } : {})
  }
  try {
    validateRandomFailures(random)
  } catch (e) {
    return fail(`${where}: ${(e as Error).message}`)
  }
  return random
}

/** `"429,503"` → `["429", "503"]`, as the bin's `--fail-kinds` takes them. */
export const parseKindList = (text: string): ReadonlyArray<RandomFailureKind> => {
  const kinds = text.split(",").map((k) => k.trim()).filter((k) => k !== "")
  for (const k of kinds) {
    if (!RANDOM_KINDS.includes(k as RandomFailureKind)) {
      fail(`unknown failure kind ${k} (use ${RANDOM_KINDS.join(", ")})`)
    }
  }
  return kinds as Array<RandomFailureKind>
}

export const parseStuckRules = (value: unknown, where = "stuck"): ReadonlyArray<StuckRule> => {
  if (!Array.isArray(value)) return fail(`${where} must be an array`)
  return value.map((v, i): StuckRule => {
    const w = `${where}[${i}]`
    if (!isObject(v)) return fail(`${w} must be an object`)
    const obj = v as Record<string, unknown>
    if (typeof obj["state"] !== "string" || !SANDBOX_STATES.includes(obj["state"] as SandboxState)) {
      return fail(`${w}.state must be a sandbox state`)
    }
    const sandbox = obj["sandbox"]
    const labels = obj["labels"]
    if (sandbox !== undefined && typeof sandbox !== "string") return fail(`${w}.sandbox must be a string`)
    if (labels !== undefined && (!isObject(labels) || Object.values(labels).some((x) => typeof x !== "string"))) {
      return fail(`${w}.labels must be an object of strings`)
    }
    if (sandbox === undefined && labels === undefined) return fail(`${w} needs "sandbox" or "labels"`)
    const requests = optNum(obj, "requests", w)
    return {
      state: obj["state"] as SandboxState,
      ...(sandbox !== undefined ? { sandbox } : {}),
      ...(labels !== undefined ? { labels: labels as Record<string, string> } : {}),
      ...(requests !== undefined ? { requests } : {})
    }
  })
}

const routeJson = (route: RegExp | string): Record<string, string> =>
  typeof route === "string" ? { route } : { match: route.source }

/** The JSON form of a rule (a RegExp route becomes `match`), the inverse of `parseFaultRule`. */
export const faultRuleJson = (rule: FaultRule): Record<string, unknown> => {
  const { route, ...rest } = rule
  return { ...routeJson(route), ...rest }
}

export const randomFailuresJson = (random: RandomFailures | undefined): Record<string, unknown> | null => {
  if (random === undefined) return null
  const { route, ...rest } = random
  return { ...rest, ...(route !== undefined ? routeJson(route) : {}) }
}
