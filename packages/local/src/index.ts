/**
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export * as LocalBackend from "./LocalBackend.js"
/**
 * @since 0.1.0
 */
export * as LocalConfig from "./LocalConfig.js"
/**
 * @since 0.1.0
 */
export * as LocalProvider from "./LocalProvider.js"
