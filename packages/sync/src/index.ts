/**
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export * as Ancestor from "./Ancestor.js"
/**
 * @since 0.1.0
 */
export * as AncestorStore from "./AncestorStore.js"
/**
 * @since 0.1.0
 */
export * as Conflicts from "./Conflicts.js"
/**
 * @since 0.1.0
 */
export * as DirectRuntime from "./DirectRuntime.js"
/**
 * @since 0.1.0
 */
export * as DigestCache from "./DigestCache.js"
/**
 * @since 0.1.0
 */
export * as Filter from "./Filter.js"
/**
 * @since 0.1.0
 */
export * as GitSeed from "./GitSeed.js"
/**
 * @since 0.1.0
 */
export * as HostOps from "./HostOps.js"
/**
 * @since 0.1.0
 */
export * as HostScan from "./HostScan.js"

/**
 * @since 0.1.0
 */
export * as LiveSync from "./LiveSync.js"
/**
 * @since 0.1.0
 */
export * as Manifest from "./Manifest.js"
/**
 * @since 0.1.0
 */
export * as RuntimeScan from "./RuntimeScan.js"

/**
 * @since 0.1.0
 */
export * as RuntimeSide from "./RuntimeSide.js"

/**
 * @since 0.1.0
 */
export * as RuntimeWatch from "./RuntimeWatch.js"
/**
 * @since 0.1.0
 */
export * as Safety from "./Safety.js"
/**
 * @since 0.1.0
 */
export * as ScopedRuntimeScan from "./ScopedRuntimeScan.js"
/**
 * @since 0.1.0
 */
export * as SyncEngine from "./SyncEngine.js"
/**
 * @since 0.1.0
 */
export * as SyncPlan from "./SyncPlan.js"
/**
 * @since 0.1.0
 */
export * as TransferFromRuntime from "./TransferFromRuntime.js"
/**
 * @since 0.1.0
 */
export * as TransferToRuntime from "./TransferToRuntime.js"
