/**
 * The daytona backend as the provider registry loads it.
 *
 * @since 0.1.0
 */
import type { BackendDefinition } from "@org/sandbox-core/ProviderRegistry"
import { CONTRACT_VERSION } from "@org/sandbox-core/SandboxProvider"
import { DaytonaConfig } from "./DaytonaConfig.js"
import * as DaytonaProvider from "./DaytonaProvider.js"

/**
 * @since 0.1.0
 * @category backend
 */
export const definition: BackendDefinition = {
  name: "daytona",
  contract_version: CONTRACT_VERSION,
  configSchema: DaytonaConfig,
  make: ({ profile }) => DaytonaProvider.makeConfig({ profile })
}
