/**
 * The bin's command line: flags first, then `DAYTONA_EMULATOR_*` environment variables, then defaults. Kept apart
 * from `bin.ts` so tests can check the parsing without spawning a process.
 */
import { parseArgs } from "node:util"
import { parseFaultRules, parseKindList, parseStuckRules } from "./faultConfig.js"
import type { EmulatorOptions, RandomFailures } from "./types.js"

export const USAGE = `usage: daytona-emulator [options]

  --port N             port on 127.0.0.1 (0 = any free port)        env DAYTONA_EMULATOR_PORT       default 0
  --api-key KEY        the only bearer token accepted               env DAYTONA_EMULATOR_API_KEY,
                                                                        then DAYTONA_API_KEY         default emulator-key
  --root DIR           directory holding the sandboxes              env DAYTONA_EMULATOR_ROOT       default a temp dir
  --seed N             seed of the fault PRNG                       env DAYTONA_EMULATOR_SEED       default 1
  --create-state S     started | creating                           env DAYTONA_EMULATOR_CREATE_STATE
  --fail-rate R        fail this fraction of requests at random,    env DAYTONA_EMULATOR_FAIL_RATE
                       0..1 or a percentage ("0.3", "30%")
  --fail-kinds K,...   replies random failures pick from            env DAYTONA_EMULATOR_FAIL_KINDS default 429,503
                       (429, 500, 502, 503, drop, drop-after)
  --retry-after S      Retry-After of random 429/503 replies        env DAYTONA_EMULATOR_RETRY_AFTER default 1
  --faults JSON        per-route fault rules, e.g.                  env DAYTONA_EMULATOR_FAULTS
                       '[{"route":"POST /api/sandbox","kind":"429","times":1}]'
  --stuck JSON         stuck-state rules, e.g.                      env DAYTONA_EMULATOR_STUCK
                       '[{"labels":{"slow":"yes"},"state":"starting","requests":3}]'
  --no-isolate         run commands as plain host processes (they then  env DAYTONA_EMULATOR_NO_ISOLATE
                       see host paths and can write anywhere); by default they run under bubblewrap
                       where it works: read-only system, writable sandbox, uid 1000
  --shell S            sh, bash or zsh, as the daemon picks one         env DAYTONA_EMULATOR_SHELL default sh
  --auto-stop-minute MS  length of an auto-stop "minute"             env DAYTONA_EMULATOR_AUTO_STOP_MINUTE_MS
  --delete-linger MS   a deleted sandbox keeps its state, then shows   env DAYTONA_EMULATOR_DELETE_LINGER_MS
                       destroying, for MS each (default 0)
  -h, --help

Prints "listening on http://127.0.0.1:N/api" once it serves. Admin endpoints (same bearer key):
GET|DELETE /_emulator/stats, GET|POST|DELETE /_emulator/faults, GET /_emulator/sandboxes,
POST /_emulator/sandboxes/{idOrName}/stick {"state","requests"?}, POST /_emulator/sandboxes/{idOrName}/unstick.`

export type CliResult =
  | { readonly _tag: "Run"; readonly options: EmulatorOptions }
  | { readonly _tag: "Help" }
  | { readonly _tag: "Usage"; readonly message: string }

type Env = Readonly<Record<string, string | undefined>>

const nonEmpty = (v: string | undefined): string | undefined => (v === undefined || v === "" ? undefined : v)

class UsageError extends Error {}

const integer = (text: string, name: string, min: number, max: number): number => {
  const n = Number(text)
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${name} must be an integer in ${min}..${max}`)
  return n
}

/** `"0.3"`, `"30%"` → 0.3. */
export const parseRate = (text: string): number => {
  const trimmed = text.trim()
  const n = trimmed.endsWith("%") ? Number(trimmed.slice(0, -1)) / 100 : Number(trimmed)
  if (trimmed === "" || !Number.isFinite(n) || n < 0 || n > 1) {
    throw new UsageError(`--fail-rate must be within 0..1 or 0%..100%, got ${text}`)
  }
  return n
}

const json = (text: string, name: string): unknown => {
  try {
    return JSON.parse(text)
  } catch (e) {
    throw new UsageError(`${name} is not valid JSON: ${(e as Error).message}`)
  }
}

const typed = <A>(f: () => A): A => {
  try {
    return f()
  } catch (e) {
    if (e instanceof UsageError) throw e
    throw new UsageError((e as Error).message)
  }
}

export const parseCli = (argv: ReadonlyArray<string>, env: Env): CliResult => {
  try {
    const { values } = typed(() =>
      parseArgs({
        args: [...argv],
        options: {
          port: { type: "string" },
          "api-key": { type: "string" },
          root: { type: "string" },
          seed: { type: "string" },
          "create-state": { type: "string" },
          "fail-rate": { type: "string" },
          "fail-kinds": { type: "string" },
          "retry-after": { type: "string" },
          faults: { type: "string" },
          stuck: { type: "string" },
          "no-isolate": { type: "boolean" },
          shell: { type: "string" },
          "auto-stop-minute": { type: "string" },
          "delete-linger": { type: "string" },
          help: { type: "boolean", short: "h" }
        },
        strict: true,
        allowPositionals: false
      })
    )
    if (values.help) return { _tag: "Help" }
    const pick = (flag: string | undefined, variable: string): string | undefined => flag ?? nonEmpty(env[variable])

    const portText = pick(values.port, "DAYTONA_EMULATOR_PORT")
    const port = portText === undefined ? 0 : integer(portText, "--port", 0, 65535)
    const apiKey = pick(values["api-key"], "DAYTONA_EMULATOR_API_KEY") ?? nonEmpty(env["DAYTONA_API_KEY"]) ??
      "emulator-key"
    const root = pick(values.root, "DAYTONA_EMULATOR_ROOT")
    const seedText = pick(values.seed, "DAYTONA_EMULATOR_SEED")
    const seed = seedText === undefined ? undefined : integer(seedText, "--seed", 0, 2 ** 32 - 1)
    const createState = pick(values["create-state"], "DAYTONA_EMULATOR_CREATE_STATE") ?? "started"
    if (createState !== "started" && createState !== "creating") {
      throw new UsageError("--create-state must be started or creating")
    }

    const rateText = pick(values["fail-rate"], "DAYTONA_EMULATOR_FAIL_RATE")
    const kindsText = pick(values["fail-kinds"], "DAYTONA_EMULATOR_FAIL_KINDS")
    const retryText = pick(values["retry-after"], "DAYTONA_EMULATOR_RETRY_AFTER")
    let randomFailures: RandomFailures | undefined
    if (rateText !== undefined) {
      const kinds = kindsText === undefined ? undefined : typed(() => parseKindList(kindsText))
      if (kinds !== undefined && kinds.length === 0) throw new UsageError("--fail-kinds must name at least one kind")
      const retryAfterSeconds = retryText === undefined ? undefined : integer(retryText, "--retry-after", 0, 86400)
      randomFailures = {
        rate: parseRate(rateText),
        ...(kinds !== undefined ? { kinds } : {}),
        ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {})
      }
    } else if (kindsText !== undefined || retryText !== undefined) {
      throw new UsageError("--fail-kinds and --retry-after need --fail-rate")
    }

    const faultsText = pick(values.faults, "DAYTONA_EMULATOR_FAULTS")
    const faults = faultsText === undefined ? undefined : typed(() => parseFaultRules(json(faultsText, "--faults")))
    const stuckText = pick(values.stuck, "DAYTONA_EMULATOR_STUCK")
    const stuck = stuckText === undefined ? undefined : typed(() => parseStuckRules(json(stuckText, "--stuck")))

    const shell = pick(values.shell, "DAYTONA_EMULATOR_SHELL")
    if (shell !== undefined && shell !== "sh" && shell !== "bash" && shell !== "zsh") {
      throw new UsageError("--shell must be sh, bash or zsh")
    }
    const minuteText = pick(values["auto-stop-minute"], "DAYTONA_EMULATOR_AUTO_STOP_MINUTE_MS")
    const autoStopMinuteMs = minuteText === undefined
      ? undefined
      : integer(minuteText, "--auto-stop-minute", 10, 3_600_000)
    const lingerText = pick(values["delete-linger"], "DAYTONA_EMULATOR_DELETE_LINGER_MS")
    const lingerMs = lingerText === undefined ? undefined : integer(lingerText, "--delete-linger", 0, 600_000)

    return {
      _tag: "Run",
      options: {
        ...(shell !== undefined ? { shell } : {}),
        ...(autoStopMinuteMs !== undefined ? { autoStopMinuteMs } : {}),
        ...(lingerMs !== undefined ? { deleteLinger: { unchangedMs: lingerMs, destroyingMs: lingerMs } } : {}),
        port,
        apiKey,
        createState,
        // Commands see the sandbox's own paths (/home/daytona/...) as in a real sandbox, where bubblewrap runs.
        isolateProcesses: !(values["no-isolate"] ?? nonEmpty(env["DAYTONA_EMULATOR_NO_ISOLATE"]) !== undefined),
        ...(root !== undefined ? { root } : {}),
        ...(seed !== undefined ? { seed } : {}),
        ...(randomFailures !== undefined ? { randomFailures } : {}),
        ...(faults !== undefined ? { faults } : {}),
        ...(stuck !== undefined ? { stuck } : {})
      }
    }
  } catch (e) {
    if (e instanceof UsageError) return { _tag: "Usage", message: e.message }
    throw e
  }
}
