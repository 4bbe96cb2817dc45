/**
 * Lifecycle hooks. In the library a hook is an Effect; in config it is a command that gets the event as JSON
 * on stdin, and a non-zero exit denies. A hook may print JSON on stdout to add env (`sandbox.prepare`:
 * `{"env": {...}}`) or excludes (`sandbox.sync.before`: `{"exclude": [...]}`).
 *
 * @since 0.1.0
 */
import * as Command from "@effect/platform/Command"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import { Effect, Option, Schema, Stream } from "effect"
import type { Hooks as ConfigHooks } from "./ConfigFile.js"
import type { HookTrust } from "./HookTrust.js"
import type { Command as CommandSpec } from "./Profile.js"

/**
 * @since 0.1.0
 * @category models
 */
export type HookName =
  | "sandbox.prepare"
  | "sandbox.ready"
  | "sandbox.sync.before"
  | "sandbox.sync.after"
  | "sandbox.stop"

/**
 * What a hook may add.
 *
 * @since 0.1.0
 * @category models
 */
export interface HookResult {
  readonly env?: Readonly<Record<string, string>> | undefined
  readonly exclude?: ReadonlyArray<string> | undefined
}

/**
 * A hook refused to let the lifecycle continue.
 *
 * @since 0.1.0
 * @category errors
 */
export class HookDenied extends Schema.TaggedError<HookDenied>("@org/sandbox-core/HookDenied")("HookDenied", {
  hook: Schema.String,
  exit_code: Schema.Number,
  output: Schema.String,
  /** Set when the hook was not run at all (it changed since the user last ran it): why. */
  refused: Schema.optional(Schema.String)
}) {
  /**
   * @since 0.1.0
   */
  override get message(): string {
    if (this.refused !== undefined) return `hook ${this.hook} not run: ${this.refused}`
    const first = this.output.trim().split("\n")[0]
    return `hook ${this.hook} denied (exit ${this.exit_code})${first ? `: ${first}` : ""}`
  }
}

/**
 * A library hook: an Effect that receives the event and may deny by failing.
 *
 * @since 0.1.0
 * @category models
 */
export type Hook = (
  event: { readonly type: HookName; readonly [key: string]: unknown }
) => Effect.Effect<HookResult | void, HookDenied>

/**
 * Hooks by name, as the lifecycle runs them.
 *
 * @since 0.1.0
 * @category models
 */
export type HookSet = Partial<Record<HookName, Hook>>

const HookOutput = Schema.parseJson(Schema.Struct({
  env: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String })),
  exclude: Schema.optional(Schema.Array(Schema.String))
}))

const collect = (stream: Stream.Stream<Uint8Array, unknown>) =>
  stream.pipe(Stream.decodeText(), Stream.runFold("", (acc, s) => acc + s), Effect.orElseSucceed(() => ""))

/**
 * A hook that runs a config command on the host with the event JSON on stdin, once `trust` allows it (checked
 * right before every run: what it names may change while a session runs).
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromCommand = (name: HookName, spec: CommandSpec, cwd: string) =>
(
  executor: CommandExecutor.CommandExecutor,
  trust: HookTrust
): Hook =>
(event) =>
  Effect.gen(function*() {
    yield* trust.check(name, spec, cwd)
    const base = typeof spec === "string" ? Command.make("sh", "-c", spec) : Command.make(spec[0], ...spec.slice(1))
    const command = base.pipe(
      Command.workingDirectory(cwd),
      Command.feed(JSON.stringify(event))
    )
    const result = yield* Effect.scoped(Effect.gen(function*() {
      const proc = yield* executor.start(command)
      const [stdout, stderr, code] = yield* Effect.all([collect(proc.stdout), collect(proc.stderr), proc.exitCode], {
        concurrency: 3
      })
      return { stdout, stderr, code: Number(code) }
    })).pipe(
      Effect.catchAll((error) => Effect.succeed({ stdout: "", stderr: String(error.message ?? error), code: 127 }))
    )
    if (result.code !== 0) {
      return yield* new HookDenied({
        hook: name,
        exit_code: result.code,
        output: `${result.stderr}${result.stdout}`.slice(-2000)
      })
    }
    return Option.getOrUndefined(Schema.decodeOption(HookOutput)(result.stdout.trim())) ?? {}
  })

/**
 * The hooks configured under `[hooks]`, bound to an executor. Commands run in `cwd` (the workspace), each only
 * when `trust` allows it (see `HookTrust`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromConfig = (
  hooks: ConfigHooks,
  cwd: string,
  executor: CommandExecutor.CommandExecutor,
  trust: HookTrust
): HookSet => {
  const set: HookSet = {}
  const s = hooks.sandbox
  if (!s) return set
  const bind = (name: HookName, spec: CommandSpec) => fromCommand(name, spec, cwd)(executor, trust)
  if (s.prepare) set["sandbox.prepare"] = bind("sandbox.prepare", s.prepare)
  if (s.ready) set["sandbox.ready"] = bind("sandbox.ready", s.ready)
  if (s.sync?.before) set["sandbox.sync.before"] = bind("sandbox.sync.before", s.sync.before)
  if (s.sync?.after) set["sandbox.sync.after"] = bind("sandbox.sync.after", s.sync.after)
  if (s.stop) set["sandbox.stop"] = bind("sandbox.stop", s.stop)
  return set
}

/**
 * Run one hook if it is set.
 *
 * @since 0.1.0
 * @category combinators
 */
export const run = (
  hooks: HookSet,
  name: HookName,
  event: Record<string, unknown>
): Effect.Effect<HookResult, HookDenied> => {
  const hook = hooks[name]
  return hook ? Effect.map(hook({ ...event, type: name }), (r) => r ?? {}) : Effect.succeed({})
}
