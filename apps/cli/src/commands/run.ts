/**
 * `sandbox-cli run [--profile P] [--workspace DIR] [--keep] -- CMD…`: the one-shot path. Prepare, sync, set up,
 * run CMD with its output streamed, sync back, apply persistence, exit with CMD's exit code.
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as ConfigFile from "@org/sandbox-core/ConfigFile"
import { makeSessionId } from "@org/sandbox-core/Ids"
import { UsageError } from "@org/sandbox-core/SandboxError"
import { Label } from "@org/sandbox-core/SandboxProvider"
import * as SessionLifecycle from "@org/sandbox-core/SessionLifecycle"
import * as Supervision from "@org/sandbox-core/Supervision"
import { Effect, Layer, Option, Schema } from "effect"
import * as AppConfig from "../AppConfig.js"
import { common } from "../CommonOptions.js"
import * as ConfigHooks from "../ConfigHooks.js"
import { ExitWith } from "../Failure.js"
import * as Render from "../Render.js"
import * as Sessions from "../Sessions.js"
import * as Stopping from "../Stopping.js"
import * as StopSignal from "../StopSignal.js"
import * as Terminal from "../Terminal.js"

const RunResult = Schema.Struct({
  session_id: Schema.String,
  state: Schema.String,
  exit_code: Schema.NullOr(Schema.Number),
  reason: Schema.NullOr(Schema.String),
  conflicts: Schema.Array(Schema.String),
  /** What the syncs transferred with a loss of form (a sparse file written in full, a hard link split). */
  notices: Schema.Array(Schema.Struct({ path: Schema.String, reason: Schema.String }))
})

export const command = Command.make(
  "run",
  {
    ...common,
    profile: Options.text("profile").pipe(
      Options.withAlias("p"),
      Options.optional,
      Options.withDescription("Profile to use (default: the workspace's, then [defaults] sandbox, then local)")
    ),
    workspace: Options.directory("workspace", { exists: "yes" }).pipe(
      Options.optional,
      Options.withDescription("Workspace directory (default: the current directory)")
    ),
    keep: Options.boolean("keep").pipe(
      Options.withDescription("Keep the sandbox at the end whatever the profile's persistence says")
    ),
    force: Options.boolean("force").pipe(
      Options.withDescription(
        "Allow a sync-back that would delete most of the host tree; past a wiped runtime, end with the host intact"
      )
    ),
    trustHooks: ConfigHooks.trustHooksOption,
    acceptHeld: ConfigHooks.acceptHeldOption,
    grace: Stopping.graceOption,
    noTty: Options.boolean("no-tty").pipe(
      Options.withDescription("Do not give the command a terminal even when standard input is one (nor read it)")
    ),
    cmd: Args.text({ name: "CMD" }).pipe(Args.repeated, Args.withDescription("The command to run, after --"))
  },
  (
    {
      acceptHeld,
      cmd,
      config,
      force,
      grace: graceFlag,
      keep,
      noTty,
      output,
      profile: profileFlag,
      trustHooks,
      workspace: dir
    }
  ) =>
    Effect.gen(function*() {
      if (cmd.length === 0) return yield* new UsageError({ detail: "nothing to run: sandbox-cli run -- CMD [ARGS…]" })
      const grace = yield* Stopping.parseGrace(graceFlag)
      const workspace = yield* Sessions.workspaceForDir(Option.getOrElse(dir, () => process.cwd()))
      const loaded = yield* AppConfig.load(config, workspace.path)
      const profile = yield* ConfigFile.selectProfile(loaded.config, {
        flag: Option.getOrUndefined(profileFlag),
        workspace: workspace.sandbox
      })
      const provider = yield* Sessions.providerFor(loaded.registry, profile)
      const hooks = yield* ConfigHooks.fromConfig(loaded.config.hooks, workspace.path, trustHooks)
      const paths = yield* Sessions.supervisorPaths("run")
      // Hold the session's lock like a supervisor does, so that other commands do not take it for crashed.
      const sessionId = makeSessionId()
      yield* Effect.flatMap(Supervision.Supervision, (s) => s.hold(sessionId, { workspace_path: workspace.path }))
      const toStdout = output === "text"
      // Standard input goes to the command; a terminal comes with a pseudo-terminal, unless --no-tty. A backend
      // that cannot stream stdin while the command runs gets it whole before the start, so only when it is a file:
      // a terminal or a pipe may never end.
      const terminal = process.stdin.isTTY === true
      const interactive = provider.execInteractive !== undefined
      const pty = terminal && !noTty && toStdout && interactive
      const passStdin = interactive ? !(terminal && !pty) : Terminal.stdinIsFile()
      if (pty) yield* Terminal.raw
      const outcome = yield* SessionLifecycle.run({
        sessionId,
        workspace,
        profile,
        provider,
        agent: null,
        command: pty ? Terminal.underPty(cmd) : cmd,
        ...(passStdin ? { stdin: Terminal.stdin } : {}),
        owner: Sessions.owner(),
        labels: { [Label.stateDir]: yield* Sessions.stateDirLabel },
        hooks,
        syncStateDir: paths.syncState,
        keep,
        force,
        acceptHeld,
        protectedPaths: ConfigHooks.protectedPaths(loaded.config.hooks, workspace.path),
        // Interrupted by Ctrl-C, the command gets SIGINT (as it would outside a sandbox), else SIGTERM.
        stop: Effect.sync(() => ({
          signal: StopSignal.signal(),
          ...(Option.isSome(grace) ? { grace: grace.value } : {})
        })),
        onOutput: (stream, data) =>
          Effect.sync(() => {
            ;(stream === "stdout" && toStdout ? process.stdout : process.stderr).write(data)
          })
      })
      const s = outcome.session
      if (output === "json") {
        yield* Render.json(RunResult, {
          session_id: s.id,
          state: s.state,
          exit_code: s.exit_code,
          reason: s.reason,
          conflicts: s.sandbox.sync.conflicts,
          notices: outcome.notices
        })
      } else yield* Render.notices(outcome.notices)
      for (const path of s.sandbox.sync.conflicts) {
        yield* Render.warn(
          `conflict: ${path} changed on both sides; the host file was kept, the sandbox's version is beside it`
        )
      }
      for (const line of outcome.left_behind) yield* Render.warn(line)
      if (s.state === "failed" && s.reason) process.stderr.write(`error: ${s.reason}\n`)
      if (outcome.exit_code !== 0) return yield* new ExitWith({ code: outcome.exit_code })
    }).pipe(Effect.scoped, Effect.provide(Layer.merge(Sessions.runtimeLayer, Sessions.supervisionLayer)))
).pipe(Command.withDescription("Run a command in a sandbox of this directory and bring its changes home"))
