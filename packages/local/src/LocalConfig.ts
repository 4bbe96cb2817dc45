/**
 * The `[sandboxes.<name>.local]` table: `isolation` and `network`, which may also be written on the profile table
 * itself (`[sandboxes.<name>] isolation = "bubblewrap"`), as any backend may let its keys be.
 *
 * @since 0.1.0
 */
import type { Profile } from "@org/sandbox-core/Profile"
import type { ProfileIssue } from "@org/sandbox-core/ProviderRegistry"
import { Schema } from "effect"

/**
 * How commands are confined: not at all (`none`), or under bubblewrap.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Isolation = Schema.Literal("none", "bubblewrap")

/**
 * The local backend's settings as written: every key optional.
 *
 * @since 0.1.0
 * @category schemas
 */
export const LocalConfigInput = Schema.Struct({
  isolation: Schema.optional(Isolation),
  network: Schema.optional(Schema.Boolean)
})

/**
 * The local backend's settings with their defaults: no isolation; the network the host has without isolation
 * (anything else would be a lie), none under bubblewrap unless asked for. Encoding keeps every key, so a resolved
 * profile shows what the backend will do.
 *
 * @since 0.1.0
 * @category schemas
 */
export const LocalConfig = Schema.transform(
  LocalConfigInput,
  Schema.Struct({ isolation: Isolation, network: Schema.Boolean }),
  {
    strict: true,
    decode: (input) => {
      const isolation = input.isolation ?? "none"
      return { isolation, network: input.network ?? isolation === "none" }
    },
    encode: (settings) => settings
  }
)

/**
 * @since 0.1.0
 * @category models
 */
export type LocalConfig = typeof LocalConfig.Type

/**
 * Keys of the local table that may sit on the profile table.
 *
 * @since 0.1.0
 * @category constants
 */
export const profileKeys: ReadonlyArray<string> = ["isolation", "network"]

/**
 * The local settings of a profile (its `backend_config`), defaults filled in.
 *
 * @since 0.1.0
 * @category accessors
 */
export const settingsOf = (profile: Profile): LocalConfig =>
  Schema.decodeUnknownSync(LocalConfig)(profile.backend_config)

/**
 * What the local backend cannot honour, so it is refused rather than silently ignored: taking the network
 * away without bubblewrap, and any resource limit (nothing here enforces one).
 *
 * @since 0.1.0
 * @category validation
 */
export const checkProfile = (profile: Profile): ProfileIssue | undefined => {
  const settings = settingsOf(profile)
  if (!settings.network && settings.isolation === "none") {
    return {
      key: "network",
      expected: "network = true with isolation = \"none\"",
      got: "false",
      hint: "only isolation = \"bubblewrap\" can take the network away"
    }
  }
  const resources = Object.entries(profile.resources)
  if (resources.length > 0) {
    return {
      key: "resources",
      expected: "no resources for backend local",
      got: resources.map(([k, v]) => `${k}=${v}`).join(", "),
      hint: "the local backend cannot limit cpu, memory, disk or gpu"
    }
  }
  return undefined
}
