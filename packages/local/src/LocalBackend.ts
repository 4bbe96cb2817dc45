/**
 * The local backend as the provider registry loads it.
 *
 * @since 0.1.0
 */
import type { BackendDefinition } from "@org/sandbox-core/ProviderRegistry"
import { ConfigError } from "@org/sandbox-core/SandboxError"
import { CONTRACT_VERSION } from "@org/sandbox-core/SandboxProvider"
import { Effect, Schema } from "effect"
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
  make: ({ profile }) =>
    Effect.gen(function*() {
      const fail = (key: string, expected: string, got: string, hint?: string) =>
        new ConfigError({
          file: profile.source,
          key_path: `sandboxes.${profile.name}.${key}`,
          expected,
          got,
          ...(hint !== undefined ? { hint } : {})
        })
      // A profile built in code never went through config resolution: the same rules, the same errors.
      yield* Schema.decodeUnknown(LocalConfig)(profile.backend_config).pipe(
        Effect.mapError((e) => fail("local", "a table the local backend accepts", e.message.split("\n")[0]!))
      )
      const issue = checkProfile(profile)
      if (issue !== undefined) return yield* fail(issue.key, issue.expected, issue.got, issue.hint)
      return yield* LocalProvider.make({ profile })
    })
}
