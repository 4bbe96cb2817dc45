/**
 * The `[sandboxes.<name>.local]` table, and the profile keys only the local backend honours.
 *
 * @since 0.1.0
 */
import type { Profile } from "@org/sandbox-core/Profile"
import type { ProfileIssue } from "@org/sandbox-core/ProviderRegistry"
import { Schema } from "effect"

/**
 * The local backend takes no keys of its own yet; `isolation` and `network` sit on the profile itself.
 *
 * @since 0.1.0
 * @category schemas
 */
export const LocalConfig = Schema.Struct({})

/**
 * Profile keys only the local backend honours.
 *
 * @since 0.1.0
 * @category constants
 */
export const profileKeys: ReadonlyArray<string> = ["isolation", "network"]

/**
 * What the local backend cannot honour, so it is refused rather than silently ignored: taking the network
 * away without bubblewrap, and any resource limit (nothing here enforces one).
 *
 * @since 0.1.0
 * @category validation
 */
export const checkProfile = (profile: Profile): ProfileIssue | undefined => {
  if (!profile.network && profile.isolation === "none") {
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
