/**
 * Permission policy: how the tool host answers an agent's `session/request_permission`.
 *
 * @since 0.1.0
 */
import * as Profile from "@org/sandbox-core/Profile"
import { Effect, Option } from "effect"

/**
 * A profile's `permissions`:
 *
 * - `allow-in-sandbox`: allow; every tool runs inside the sandbox anyway, and changes come home only
 *   through sync.
 * - `deny`: reject every request.
 * - `ask`: ask the person at the terminal; only possible with a terminal attached.
 *
 * @since 0.1.0
 * @category models
 */
export const PermissionPolicy = Profile.Permissions
/**
 * @since 0.1.0
 * @category models
 */
export type PermissionPolicy = typeof PermissionPolicy.Type

/**
 * The policy when a profile says nothing.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultPolicy: PermissionPolicy = "allow-in-sandbox"

/**
 * One choice the agent offers.
 *
 * @since 0.1.0
 * @category models
 */
export interface PermissionOption {
  readonly option_id: string
  readonly name: string
  readonly kind: "allow_once" | "allow_always" | "reject_once" | "reject_always"
}

/**
 * What the agent asks permission for.
 *
 * @since 0.1.0
 * @category models
 */
export interface PermissionRequest {
  readonly tool_call_id: string
  readonly title: string
  readonly kind: string | null
  readonly input: unknown
  readonly options: ReadonlyArray<PermissionOption>
}

/**
 * The answer: an option the agent offered, or `cancelled`. `by` says who decided.
 *
 * @since 0.1.0
 * @category models
 */
export type Decision =
  | {
    readonly outcome: "selected"
    readonly option_id: string
    readonly option_kind: PermissionOption["kind"]
    readonly by: "policy" | "user"
  }
  | { readonly outcome: "cancelled"; readonly by: "policy" | "user"; readonly note: string }

/**
 * Asks a person. `None` means they declined to answer (the request is cancelled).
 *
 * @since 0.1.0
 * @category models
 */
export type Asker = (request: PermissionRequest) => Effect.Effect<Option.Option<string>>

const pick = (
  request: PermissionRequest,
  kinds: ReadonlyArray<PermissionOption["kind"]>
): Option.Option<PermissionOption> =>
  Option.fromNullable(
    kinds.map((kind) => request.options.find((o) => o.kind === kind)).find((o) => o !== undefined)
  )

const selected = (option: PermissionOption, by: "policy" | "user"): Decision => ({
  outcome: "selected",
  option_id: option.option_id,
  option_kind: option.kind,
  by
})

/**
 * Decide a request by policy. `allow-in-sandbox` prefers a one-time allow over a permanent one (the policy,
 * not the agent, stays in charge); `deny` prefers a one-time reject. With `ask` and no asker (no terminal),
 * the request is cancelled.
 *
 * @since 0.1.0
 * @category decisions
 */
export const decide = (
  policy: PermissionPolicy,
  request: PermissionRequest,
  ask?: Asker
): Effect.Effect<Decision> => {
  switch (policy) {
    case "allow-in-sandbox":
      return Effect.succeed(Option.match(pick(request, ["allow_once", "allow_always"]), {
        onNone: () => ({ outcome: "cancelled", by: "policy", note: "the agent offered no allow option" }),
        onSome: (o) => selected(o, "policy")
      }))
    case "deny":
      return Effect.succeed(Option.match(pick(request, ["reject_once", "reject_always"]), {
        onNone: () => ({ outcome: "cancelled", by: "policy", note: "denied by policy" }),
        onSome: (o) => selected(o, "policy")
      }))
    case "ask":
      if (ask === undefined) {
        return Effect.succeed({ outcome: "cancelled", by: "policy", note: "no terminal attached to ask" })
      }
      return Effect.map(ask(request), (answer) => {
        const option = Option.flatMap(
          answer,
          (id) => Option.fromNullable(request.options.find((o) => o.option_id === id))
        )
        return Option.match(option, {
          onNone: (): Decision => ({ outcome: "cancelled", by: "user", note: "no option chosen" }),
          onSome: (o) => selected(o, "user")
        })
      })
  }
}
