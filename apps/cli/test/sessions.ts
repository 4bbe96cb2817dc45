/**
 * Starting a session as the CLI's tests start most of theirs: a shell command in a registered workspace.
 */
import { Effect } from "effect"
import type { Fixture } from "./helpers.js"
import { json } from "./helpers.js"

/** `session new --workspace WORKSPACE -o json -- sh -c SCRIPT`; the new session's id. */
export const shellSession = (
  cli: Fixture,
  workspace: string,
  script: string,
  env?: Readonly<Record<string, string>>
) =>
  Effect.map(
    cli.run(
      ["session", "new", "--workspace", workspace, "-o", "json", "--", "sh", "-c", script],
      env === undefined ? undefined : { env }
    ),
    (r) => json<{ readonly id: string }>(r).id
  )
