/**
 * The local backend as the provider registry loads it.
 *
 * @since 0.1.0
 */
import type { BackendDefinition } from "@org/sandbox-core/ProviderRegistry"
import { CONTRACT_VERSION } from "@org/sandbox-core/SandboxProvider"
import { LocalConfig, profileKeys } from "./LocalConfig.js"
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
  make: ({ profile }) => LocalProvider.make({ profile })
}
