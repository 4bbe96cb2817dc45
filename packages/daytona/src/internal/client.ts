/**
 * The SDK seen through a small, decoded surface: sandbox views, file info, and one way to call the SDK that
 * turns every rejection into a `ProviderError`.
 */
import type { Sandbox } from "@daytonaio/sdk"
import type { ProviderError } from "@org/sandbox-core/SandboxError"
import type { FileStat } from "@org/sandbox-core/SandboxProvider"
import { Instance } from "@org/sandbox-core/SandboxProvider"
import { Effect, Schema } from "effect"
import { fromSdk, providerError, type SdkClasses } from "./errors.js"
import { normalizePosix, resolvePosix } from "./shell.js"
import { isDeleted, toSandboxState } from "./state.js"

/** One SDK call; its rejection becomes a `ProviderError` for `operation`. It is sent once: retries are the caller's. */
export type Call = <A>(
  operation: string,
  instance_id: string | undefined,
  f: () => Promise<A>
) => Effect.Effect<A, ProviderError>

/** The call for an SDK module whose error classes classify failures that carry no reply (see `SdkClasses`). */
export const makeCall = (classes?: SdkClasses): Call => (operation, instance_id, f) =>
  Effect.tryPromise({ try: f, catch: fromSdk(operation, instance_id, classes) })

/** The fields of a sandbox (full or list DTO) the provider reads. */
export const SandboxView = Schema.Struct({
  id: Schema.String,
  name: Schema.optional(Schema.String),
  user: Schema.optional(Schema.String),
  state: Schema.optional(Schema.String),
  desiredState: Schema.optional(Schema.String),
  autoStopInterval: Schema.optional(Schema.Number),
  errorReason: Schema.optional(Schema.NullOr(Schema.String)),
  labels: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String })),
  target: Schema.optional(Schema.String),
  sandboxClass: Schema.optional(Schema.String),
  snapshot: Schema.optional(Schema.NullOr(Schema.String))
})
export type SandboxView = typeof SandboxView.Type

export const view = (operation: string, sandbox: Sandbox): Effect.Effect<SandboxView, ProviderError> =>
  Schema.decodeUnknown(SandboxView)(sandbox).pipe(
    Effect.mapError((e) =>
      providerError(operation, "Unknown", `unexpected sandbox from the API: ${e.message}`, sandbox.id, e)
    )
  )

/** The sandbox user's home, as Linux images lay it out. */
export const homeOf = (user: string | undefined): string =>
  user === "root" ? "/root" : `/home/${user === undefined || user === "" ? "daytona" : user}`

/** Where the workspace lives: `runtime_root` (absolute, or relative to the home) or `<home>/workspace`. */
export const workdirOf = (home: string, runtimeRoot: string | undefined): string =>
  runtimeRoot === undefined ? `${home}/workspace` : resolvePosix(home, runtimeRoot)

export const PROVIDER_STATE_VERSION = 1

export const toInstance = (sb: SandboxView, runtimeRoot: string | undefined): Instance => {
  const home = homeOf(sb.user)
  return Instance.make({
    instance_id: sb.id,
    state: isDeleted(sb.state, sb.desiredState) ? "gone" : toSandboxState(sb.state),
    provider_state_name: sb.state ?? "unknown",
    labels: { ...sb.labels },
    workdir: workdirOf(home, runtimeRoot),
    provider_state: {
      version: PROVIDER_STATE_VERSION,
      data: {
        name: sb.name ?? sb.id,
        home,
        ...(sb.target !== undefined ? { target: sb.target } : {}),
        ...(sb.sandboxClass !== undefined ? { sandbox_class: sb.sandboxClass } : {}),
        ...(sb.errorReason ? { error_reason: sb.errorReason } : {})
      }
    }
  })
}

/** The sandbox user's home for an instance (recorded in its provider state). */
export const homeDirOf = (instance: Instance): string => {
  const home = instance.provider_state?.data["home"]
  return typeof home === "string" && home.startsWith("/") ? home : normalizePosix(`${instance.workdir}/..`)
}

/** Directory in the sandbox for the provider's own transfer files, beside (not inside) the workspace. */
export const scratchOf = (instance: Instance): string => `${homeDirOf(instance)}/.sandbox-cli`

/** `FileInfo` of the toolbox API: `mode` is Go's mode string (`drwxr-xr-x`, `Lrwxrwxrwx`). */
export const FileInfo = Schema.Struct({
  name: Schema.String,
  isDir: Schema.Boolean,
  size: Schema.Number,
  mode: Schema.optional(Schema.String),
  permissions: Schema.optional(Schema.String),
  modTime: Schema.optional(Schema.String),
  modifiedAt: Schema.optional(Schema.String)
})
export type FileInfo = typeof FileInfo.Type

const kindOf = (info: FileInfo): FileStat["kind"] => {
  const type = info.mode?.[0]
  if (type === "d" || (type === undefined && info.isDir)) return "directory"
  if (type === "L") return "symlink"
  if (type === "-") return "file"
  return type === undefined ? "file" : "other"
}

const typeBits: Record<FileStat["kind"], number> = {
  file: 0o100000,
  directory: 0o040000,
  symlink: 0o120000,
  other: 0
}

const permissionsOf = (info: FileInfo): number => {
  if (info.permissions !== undefined && /^[0-7]{1,4}$/.test(info.permissions)) return parseInt(info.permissions, 8)
  // Fall back on the mode string's last nine characters.
  const bits = info.mode?.slice(-9) ?? ""
  return bits.length === 9 ? [...bits].reduce((acc, c) => (acc << 1) | (c === "-" ? 0 : 1), 0) : 0
}

const mtimeOf = (info: FileInfo): number => {
  const iso = info.modifiedAt !== undefined ? Date.parse(info.modifiedAt) : Number.NaN
  if (!Number.isNaN(iso)) return iso
  // Go's time.String(): "2006-01-02 15:04:05.999999999 +0000 UTC"
  const m = info.modTime !== undefined ? /^(\S+) (\d\d:\d\d:\d\d(?:\.\d+)?) ([+-]\d{4})/.exec(info.modTime) : null
  if (m === null) return 0
  const parsed = Date.parse(`${m[1]}T${m[2]!.slice(0, 12)}${m[3]!.slice(0, 3)}:${m[3]!.slice(3)}`)
  return Number.isNaN(parsed) ? 0 : parsed
}

export const toFileStat = (path: string, info: FileInfo): FileStat => {
  const kind = kindOf(info)
  return { path, kind, size: info.size, mode: typeBits[kind] | permissionsOf(info), mtime_ms: mtimeOf(info) }
}

export const fileInfo = (operation: string, instance_id: string, u: unknown) =>
  Schema.decodeUnknown(FileInfo)(u).pipe(
    Effect.mapError((e) => providerError(operation, "Unknown", `unexpected file info: ${e.message}`, instance_id, e))
  )
