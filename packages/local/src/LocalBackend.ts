/**
 * The local backend as the provider registry loads it.
 *
 * @since 0.1.0
 */
import type { BackendDefinition } from "@org/sandbox-core/ProviderRegistry"
import { ConfigError } from "@org/sandbox-core/SandboxError"
import { CONTRACT_VERSION } from "@org/sandbox-core/SandboxProvider"
import { Effect } from "effect"
import { checkProfile, LocalConfig, profileKeys } from "./LocalConfig.js"
import * as LocalProvider from "./LocalProvider.js"

/**
 * @since 0.1.0
 * @category backend
 */
export const definition: BackendDefinition = {
  name: "local",
  contract_version: CONTRACT_VERSION,
  configSchema: LocalConfig,
  profileKeys,
  checkProfile,
  make: ({ profile }) => {
    // A profile built in code never went through config resolution: the same rule, the same error.
    const issue = checkProfile(profile)
    return issue === undefined
      ? LocalProvider.make({ profile })
      : Effect.fail(
        new ConfigError({
          file: profile.source,
          key_path: `sandboxes.${profile.name}.${issue.key}`,
          expected: issue.expected,
          got: issue.got,
          ...(issue.hint !== undefined ? { hint: issue.hint } : {})
        })
      )
  }
}
