/**
 * The `[hooks]` of the config as `run` and the supervisor run them: on the host, in the workspace, each only
 * while it is what the user last ran (`--trust-hooks` approves a changed one).
 */
import * as Options from "@effect/cli/Options"
import * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as Path from "@effect/platform/Path"
import type { Hooks as ConfigHooksTable } from "@org/sandbox-core/ConfigFile"
import * as Hooks from "@org/sandbox-core/Hooks"
import * as HookTrust from "@org/sandbox-core/HookTrust"
import * as Locations from "@org/sandbox-core/Locations"
import * as Conflicts from "@org/sandbox-sync/Conflicts"
import { Effect } from "effect"

/** `--trust-hooks`, on `run` and `session new`. */
export const trustHooksOption = Options.boolean(HookTrust.APPROVE_FLAG.slice(2)).pipe(
  Options.withDescription(
    "Run config hooks that changed since you last ran them (their command or a script they run), and trust them " +
      "as they are now"
  )
)

/**
 * `--accept-held`: the runtime's changes to the host's config (`.sandbox-cli.toml`) and to the hook scripts it
 * names are applied by this sync instead of held back beside them as `<name>.sandbox-held-<session>`.
 */
export const acceptHeldOption = Options.boolean("accept-held").pipe(
  Options.withDescription(
    "Apply the sandbox's changes to .sandbox-cli.toml and to the hook scripts it names (held back otherwise)"
  )
)

/** The hook set for a workspace, guarded by the trust store in `<stateDir>/trusted-hooks`. */
export const fromConfig = (hooks: ConfigHooksTable, workspacePath: string, approve: boolean) =>
  Effect.gen(function*() {
    const path = yield* Path.Path
    const executor = yield* CommandExecutor.CommandExecutor
    const trust = yield* HookTrust.make({ dir: path.join(yield* Locations.stateDir, "trusted-hooks"), approve })
    return Hooks.fromConfig(hooks, workspacePath, executor, trust)
  })

/**
 * The workspace paths whose changes from the sandbox every sync holds back: the scripts the hooks of the config
 * in force name (that config may sit above the workspace, or be the user's), as workspace-relative paths. The
 * engine adds those named by the workspace's own `.sandbox-cli.toml` itself.
 */
export const protectedPaths = (hooks: ConfigHooksTable, workspacePath: string): ReadonlyArray<string> =>
  Conflicts.hookFiles(workspacePath, hooks)
