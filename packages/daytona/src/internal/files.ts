/**
 * Files and access: single files through the toolbox's file API, whole trees as archives, preview URLs and
 * SSH access.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import type { ProviderError } from "@org/sandbox-core/SandboxError"
import type { Instance, Service } from "@org/sandbox-core/SandboxProvider"
import { Duration, Effect, Schema } from "effect"
import type { SshAccess } from "../DaytonaProvider.js"
import { fileInfo, toFileStat } from "./client.js"
import type { Context } from "./context.js"
import { providerError } from "./errors.js"
import { sdkBytes } from "./exec.js"
import { resolvePosix } from "./shell.js"
import { getArchive, putArchive } from "./transfer.js"

const SshAccessDto = Schema.Struct({ token: Schema.String, expiresAt: Schema.String, sshCommand: Schema.String })
const SignedPreview = Schema.Struct({ url: Schema.String })

export type Files =
  & Pick<
    Service,
    "readFile" | "writeFile" | "stat" | "listDir" | "remove" | "mkdir" | "putArchive" | "getArchive" | "previewUrl"
  >
  & {
    readonly sshAccess: (
      instance: Instance,
      options?: { readonly expires?: Duration.DurationInput }
    ) => Effect.Effect<SshAccess, ProviderError>
  }

export const makeFiles = (
  ctx: Context,
  options: { readonly hostFs: FileSystem.FileSystem; readonly previewSeconds: number }
): Files => {
  const { retry, sdk, toolbox } = ctx
  const { hostFs, previewSeconds } = options
  return {
    readFile: Effect.fn("DaytonaProvider.readFile")(function*(instance, p) {
      const sb = yield* toolbox.sandboxFor("readFile", instance)
      const path = resolvePosix(instance.workdir, p)
      const data = yield* retry(sdk("readFile", instance.instance_id, () => sb.fs.downloadFile(path)))
      return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    }),
    writeFile: Effect.fn("DaytonaProvider.writeFile")(function*(instance, p, data, options) {
      const sb = yield* toolbox.sandboxFor("writeFile", instance)
      const path = resolvePosix(instance.workdir, p)
      yield* retry(sdk("writeFile", instance.instance_id, () => sb.fs.uploadFile(sdkBytes(data), path)))
      const mode = options?.mode
      if (mode !== undefined) {
        const octal = (mode & 0o7777).toString(8).padStart(3, "0")
        yield* retry(sdk("writeFile", instance.instance_id, () => sb.fs.setFilePermissions(path, { mode: octal })))
      }
    }),
    stat: Effect.fn("DaytonaProvider.stat")(function*(instance, p) {
      const sb = yield* toolbox.sandboxFor("stat", instance)
      const path = resolvePosix(instance.workdir, p)
      const info = yield* retry(sdk("stat", instance.instance_id, () => sb.fs.getFileDetails(path)))
      return toFileStat(path, yield* fileInfo("stat", instance.instance_id, info))
    }),
    listDir: Effect.fn("DaytonaProvider.listDir")(function*(instance, p) {
      const sb = yield* toolbox.sandboxFor("listDir", instance)
      const path = resolvePosix(instance.workdir, p)
      const infos = yield* retry(sdk("listDir", instance.instance_id, () => sb.fs.listFiles(path)))
      return yield* Effect.forEach(infos, (u) =>
        Effect.map(
          fileInfo("listDir", instance.instance_id, u),
          (info) => toFileStat(`${path === "/" ? "" : path}/${info.name}`, info)
        ))
    }),
    remove: Effect.fn("DaytonaProvider.remove")(function*(instance, p, options) {
      const sb = yield* toolbox.sandboxFor("remove", instance)
      const path = resolvePosix(instance.workdir, p)
      yield* retry(sdk("remove", instance.instance_id, () => sb.fs.deleteFile(path, options?.recursive ?? false)))
    }),
    mkdir: Effect.fn("DaytonaProvider.mkdir")(function*(instance, p) {
      const sb = yield* toolbox.sandboxFor("mkdir", instance)
      const path = resolvePosix(instance.workdir, p)
      yield* retry(sdk("mkdir", instance.instance_id, () => sb.fs.createFolder(path, "755")))
    }),
    putArchive: (instance, request) =>
      Effect.provideService(putArchive(toolbox, instance, request), FileSystem.FileSystem, hostFs),
    getArchive: (instance, request) =>
      Effect.provideService(getArchive(toolbox, instance, request), FileSystem.FileSystem, hostFs),
    previewUrl: Effect.fn("DaytonaProvider.previewUrl")(function*(instance, port) {
      if (!Number.isInteger(port) || port < 1 || port > 65_535) {
        return yield* providerError("previewUrl", "InvalidState", `${port} is not a port`, instance.instance_id)
      }
      const sb = yield* toolbox.sandboxFor("previewUrl", instance)
      const signed = yield* retry(
        sdk("previewUrl", instance.instance_id, () => sb.getSignedPreviewUrl(port, previewSeconds))
      )
      const decoded = yield* Schema.decodeUnknown(SignedPreview)(signed).pipe(
        Effect.mapError((e) =>
          providerError("previewUrl", "Unknown", `unexpected preview URL: ${e.message}`, instance.instance_id)
        )
      )
      return decoded.url
    }),
    sshAccess: Effect.fn("DaytonaProvider.sshAccess")(function*(instance, options) {
      const sb = yield* toolbox.sandboxFor("sshAccess", instance)
      const minutes = Math.max(1, Math.ceil(Duration.toMinutes(Duration.decode(options?.expires ?? "1 hour"))))
      const dto = yield* sdk("sshAccess", instance.instance_id, () => sb.createSshAccess(minutes))
      const access = yield* Schema.decodeUnknown(SshAccessDto)(dto).pipe(
        Effect.mapError((e) =>
          providerError("sshAccess", "Unknown", `unexpected SSH access: ${e.message}`, instance.instance_id)
        )
      )
      return { command: access.sshCommand, token: access.token, expires_at: access.expiresAt }
    })
  }
}
