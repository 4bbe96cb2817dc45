/**
 * `@example/sandbox-tmpdir`: an example third-party sandbox-cli provider in Promise form. Load it with
 *
 * ```toml
 * [providers]
 * tmpdir = "@example/sandbox-tmpdir"
 *
 * [sandboxes.scratch]
 * backend = "tmpdir"
 * ```
 *
 * @since 0.0.0
 */
export {
  backend,
  configSchema,
  contract_version,
  defaultRoot,
  provider,
  tmpdirModule as default
} from "./TmpdirBackend.js"
export type { TmpdirConfig } from "./TmpdirBackend.js"
export { makeTmpdirProvider } from "./TmpdirProvider.js"
export type { TmpdirOptions } from "./TmpdirProvider.js"
