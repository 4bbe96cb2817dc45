/**
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export * as ReconcilePlan from "./ReconcilePlan.js"
/**
 * @since 0.1.0
 */
export * as Reconciler from "./Reconciler.js"
