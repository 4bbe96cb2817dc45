/**
 * Keeping secrets out of what we print. Credentials belong in the environment, but a URL in config may still
 * carry them as userinfo (`https://user:token@host/`); every rendering of config goes through here.
 *
 * @since 0.1.0
 */
import { Profile } from "./Profile.js"

/** `scheme://` then userinfo up to the last `@` before the host's path, query or fragment. */
const USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@]*(?:@[^\s/?#@]*)*@/gi

/**
 * Replace the userinfo of every URL in a text with `***`: `https://u:t@host/x` → `https://***@host/x`.
 *
 * @since 0.1.0
 * @category redaction
 */
export const urls = (text: string): string => text.replace(USERINFO, "$1***@")

const deep = (value: unknown): unknown =>
  typeof value === "string"
    ? urls(value)
    : Array.isArray(value)
    ? value.map(deep)
    : value !== null && typeof value === "object"
    ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, deep(v)]))
    : value

/**
 * A profile as it may be shown: credentials inside URLs (the backend table's `api_url`, a `setup` command, an
 * `env` value) redacted.
 *
 * @since 0.1.0
 * @category redaction
 */
export const profile = (p: Profile): Profile =>
  Profile.make({
    ...p,
    setup: deep(p.setup) as Profile["setup"],
    env: deep(p.env) as Profile["env"],
    backend_config: deep(p.backend_config) as Profile["backend_config"]
  })
