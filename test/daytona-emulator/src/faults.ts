/**
 * Seeded fault injection. A deterministic PRNG (mulberry32) decides probabilistic rules, so a test that sends the
 * same requests in the same order sees the same faults on every run.
 */
import type { FaultKind, FaultRule, RandomFailureKind, RandomFailures } from "./types.js"

/** mulberry32: tiny, fast and good enough to spread `rate` decisions; determinism is what matters here. */
export const mulberry32 = (seed: number): () => number => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export interface FaultDecision {
  readonly kind: FaultKind | RandomFailureKind
  readonly retryAfterSeconds: number | undefined
  readonly retryAfterHeader: string
  readonly retryAfterDate: boolean
  readonly delayMs: number
}

/** The headers that carry a decision's wait, if it has one. */
export const retryAfterHeaders = (fault: FaultDecision): Record<string, string> =>
  fault.retryAfterSeconds === undefined ? {} : {
    [fault.retryAfterHeader]: fault.retryAfterDate
      ? new Date(Math.ceil(Date.now() / 1000) * 1000 + fault.retryAfterSeconds * 1000).toUTCString()
      : String(fault.retryAfterSeconds)
  }

interface ActiveRule {
  readonly rule: FaultRule
  fired: number
  /** Matching requests seen, for `after`. */
  seen: number
}

const matches = (pattern: RegExp | string, candidates: ReadonlyArray<string>): boolean =>
  candidates.some((c) => {
    if (typeof pattern === "string") return pattern === c
    // A global/sticky RegExp keeps lastIndex between calls; reset it so matching stays stateless.
    pattern.lastIndex = 0
    return pattern.test(c)
  })

const DEFAULT_RANDOM_KINDS: ReadonlyArray<RandomFailureKind> = ["429", "503"]

const checkRate = (rate: number, what: string): void => {
  if (!(rate >= 0 && rate <= 1)) throw new RangeError(`${what} must be within 0..1, got ${rate}`)
}

export const validateRandomFailures = (random: RandomFailures): void => {
  checkRate(random.rate, "random failure rate")
  const kinds = random.kinds ?? DEFAULT_RANDOM_KINDS
  if (kinds.length === 0) throw new RangeError("random failure kinds must not be empty")
  for (const k of kinds) {
    if (!["429", "500", "502", "503", "drop", "drop-after"].includes(k)) {
      throw new RangeError(`unknown random failure kind ${String(k)}`)
    }
  }
}

export class FaultInjector {
  private random: () => number
  private rules: Array<ActiveRule> = []
  private chaos: RandomFailures | undefined

  constructor(private seedValue: number, rules: ReadonlyArray<FaultRule>, random?: RandomFailures) {
    this.random = mulberry32(seedValue)
    this.set(rules)
    this.setRandom(random)
  }

  get seed(): number {
    return this.seedValue
  }

  reseed(seed: number): void {
    this.seedValue = seed
    this.random = mulberry32(seed)
  }

  set(rules: ReadonlyArray<FaultRule>): void {
    for (const r of rules) checkRate(r.rate ?? 1, "fault rate")
    this.rules = rules.map((rule) => ({ rule, fired: 0, seen: 0 }))
  }

  setRandom(random: RandomFailures | undefined): void {
    if (random) validateRandomFailures(random)
    this.chaos = random
  }

  currentRules(): ReadonlyArray<FaultRule> {
    return this.rules.map((r) => r.rule)
  }

  currentRandom(): RandomFailures | undefined {
    return this.chaos
  }

  /**
   * The first matching rule that fires wins; then the random-failure mode gets its draw. Each matching, non-spent
   * rule draws one number, which keeps the sequence of draws a function of the request sequence alone.
   */
  decide(actualKey: string, templateKey: string, random = true): FaultDecision | undefined {
    for (const active of this.rules) {
      const { rule } = active
      if (rule.times !== undefined && active.fired >= rule.times) continue
      if (!matches(rule.route, [actualKey, templateKey])) continue
      if (active.seen++ < (rule.after ?? 0)) continue
      const rate = rule.rate ?? 1
      if (this.random() >= rate) continue
      active.fired++
      return {
        kind: rule.kind,
        retryAfterSeconds: rule.retryAfterSeconds ?? (rule.kind === "429" ? 1 : undefined),
        retryAfterHeader: rule.retryAfterHeader ?? "Retry-After",
        retryAfterDate: rule.retryAfterDate ?? false,
        delayMs: rule.delayMs ?? 1000
      }
    }
    const chaos = random ? this.chaos : undefined
    if (chaos === undefined || chaos.rate <= 0) return undefined
    if (chaos.route !== undefined && !matches(chaos.route, [actualKey, templateKey])) return undefined
    if (this.random() >= chaos.rate) return undefined
    const kinds = chaos.kinds ?? DEFAULT_RANDOM_KINDS
    const kind = kinds[Math.floor(this.random() * kinds.length)] ?? "503"
    return {
      kind,
      retryAfterSeconds: chaos.retryAfterSeconds ?? 1,
      retryAfterHeader: "Retry-After",
      retryAfterDate: false,
      delayMs: 0
    }
  }
}
