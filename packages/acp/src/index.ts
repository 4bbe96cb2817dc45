/**
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export * as AcpClient from "./AcpClient.js"
/**
 * @since 0.1.0
 */
export * as AcpError from "./AcpError.js"
/**
 * @since 0.1.0
 */
export * as AgentProcess from "./AgentProcess.js"
/**
 * @since 0.1.0
 */
export * as Permission from "./Permission.js"
/**
 * @since 0.1.0
 */
export * as ToolHost from "./ToolHost.js"
