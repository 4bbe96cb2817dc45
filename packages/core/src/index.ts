/**
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export * as Agent from "./Agent.js"
/**
 * @since 0.1.0
 */
export * as Capabilities from "./Capabilities.js"
/**
 * @since 0.1.0
 */
export * as ConfigFile from "./ConfigFile.js"
/**
 * @since 0.1.0
 */
export * as Event from "./Event.js"
/**
 * @since 0.1.0
 */
export * as HookTrust from "./HookTrust.js"
/**
 * @since 0.1.0
 */
export * as Ids from "./Ids.js"
/**
 * @since 0.1.0
 */
export * as Locations from "./Locations.js"
/**
 * @since 0.1.0
 */
export * as Profile from "./Profile.js"
/**
 * @since 0.1.0
 */
export * as Progress from "./Progress.js"
/**
 * @since 0.1.0
 */
export * as PromiseProvider from "./PromiseProvider.js"
/**
 * @since 0.1.0
 */
export * as PromiseAdapter from "./PromiseAdapter.js"
/**
 * @since 0.1.0
 */
export * as ProviderRegistry from "./ProviderRegistry.js"
/**
 * @since 0.1.0
 */
export * as Redaction from "./Redaction.js"
/**
 * @since 0.1.0
 */
export * as Retry from "./Retry.js"
/**
 * @since 0.1.0
 */
export * as SandboxError from "./SandboxError.js"
/**
 * @since 0.1.0
 */
export * as SandboxProvider from "./SandboxProvider.js"
/**
 * @since 0.1.0
 */
export * as Session from "./Session.js"
/**
 * @since 0.1.0
 */
export * as Store from "./Store.js"
/**
 * @since 0.1.0
 */
export * as Workspace from "./Workspace.js"
/**
 * @since 0.2.0
 */
export * as EndOfSession from "./EndOfSession.js"
