/**
 * What the CLI loads for `[providers] tmpdir = "@example/sandbox-tmpdir"`: the backend name, the contract version,
 * a schema for the `[sandboxes.<profile>.tmpdir]` table and a `provider` factory. The schema is a hand-written
 * Standard Schema (the interface zod, valibot and arktype implement), so the package needs no schema library.
 *
 * @since 0.0.0
 */
import type { PromiseProfile, PromiseProvider, PromiseProviderModule } from "@org/sandbox-core/PromiseProvider"
import { tmpdir } from "node:os"
import * as nodePath from "node:path"
import { makeTmpdirProvider } from "./TmpdirProvider.js"

/**
 * The backend name profiles use: `backend = "tmpdir"`.
 *
 * @since 0.0.0
 * @category constants
 */
export const backend = "tmpdir"

/**
 * The provider contract version this package implements.
 *
 * @since 0.0.0
 * @category constants
 */
export const contract_version = 1 as const

/**
 * The decoded `[sandboxes.<profile>.tmpdir]` table.
 *
 * @since 0.0.0
 * @category models
 */
export interface TmpdirConfig {
  /** Where sandboxes live. Default: `$TMPDIR/sandbox-tmpdir`. */
  readonly root?: string
}

interface Issue {
  readonly message: string
  readonly path?: ReadonlyArray<PropertyKey>
}

const validate = (value: unknown): { readonly value: TmpdirConfig } | { readonly issues: ReadonlyArray<Issue> } => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { issues: [{ message: "expected a table" }] }
  }
  for (const [key, v] of Object.entries(value)) {
    if (key !== "root") return { issues: [{ message: `unknown key (known: root)`, path: [key] }] }
    if (typeof v !== "string" || v === "") return { issues: [{ message: "expected a non-empty path", path: [key] }] }
  }
  return { value: value as TmpdirConfig }
}

/**
 * A Standard Schema (v1) for the backend table.
 *
 * @since 0.0.0
 * @category schemas
 */
export const configSchema = {
  "~standard": { version: 1, vendor: "sandbox-tmpdir", validate }
} as const

/**
 * The default root when the profile names none.
 *
 * @since 0.0.0
 * @category constants
 */
export const defaultRoot = (): string => nodePath.join(tmpdir(), "sandbox-tmpdir")

/**
 * Builds the provider for one profile. The CLI wraps it with core's `fromPromiseProvider` and calls `close()`
 * when done.
 *
 * @since 0.0.0
 * @category constructors
 */
export const provider = (options: { readonly profile: PromiseProfile }): Promise<PromiseProvider> => {
  const root = options.profile.backend_config["root"]
  return makeTmpdirProvider({ root: typeof root === "string" ? root : defaultRoot() })
}

/**
 * The module as one value (also the package's default export).
 *
 * @since 0.0.0
 * @category constructors
 */
export const tmpdirModule: PromiseProviderModule = { backend, contract_version, configSchema, provider }
