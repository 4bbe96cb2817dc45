/**
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export * as DaytonaBackend from "./DaytonaBackend.js"
/**
 * @since 0.1.0
 */
export * as DaytonaConfig from "./DaytonaConfig.js"
/**
 * @since 0.1.0
 */
export * as DaytonaProvider from "./DaytonaProvider.js"
