/**
 * Bulk transfer in a constant number of requests, whatever the file count. `putArchive`: one upload of the
 * archive, one exec that extracts it into a staging directory beside the destination, checks the extraction
 * and moves it into place. `getArchive`: one exec that packs the paths, one download, one delete of the
 * remote archive (plus one upload when the path list is too long to travel inside the command).
 */
import * as FileSystem from "@effect/platform/FileSystem"
import type { ArchiveFormat, GetArchiveRequest, Instance, PutArchiveRequest } from "@org/sandbox-core/SandboxProvider"
import { Effect } from "effect"
import { homeDirOf, scratchOf } from "./client.js"
import { providerError } from "./errors.js"
import { executed, nonce, sdkBytes, type Toolbox } from "./exec.js"
import { INLINE_STDIN_LIMIT, normalizePosix, quote, relativePosix, resolvePosix, toBase64, viaSh } from "./shell.js"

const zip = (format: ArchiveFormat): string => (format === "tar.gz" ? " -z" : "")
const extension = (format: ArchiveFormat): string => (format === "tar.gz" ? "tar.gz" : "tar")

/** Transfer files left behind by an interrupted transfer are swept after a day. */
const sweep = (scratch: string) =>
  `find ${quote(scratch)} -maxdepth 1 -name 'xfer-*' -mmin +1440 -exec rm -rf {} + 2>/dev/null`

/** The extract-verify-move script; every path is relative to the directory it runs in. */
export const putScript = (p: {
  readonly archive: string
  readonly dest: string
  readonly staging: string
  readonly scratch: string
  readonly format: ArchiveFormat
}): string =>
  [
    `A=${quote(p.archive)}; D=${quote(p.dest)}; S=${quote(p.staging)}`,
    `fail() { printf 'sandbox-cli: %s\\n' "$1" >&2; rm -rf "$S"; rm -f "$A"; exit 1; }`,
    sweep(p.scratch),
    `mkdir -p "$S" || fail "cannot create the staging directory $S"`,
    // tar reads the whole archive: a truncated or corrupt one fails here, before anything is moved.
    `tar -x -p --no-same-owner${
      zip(p.format)
    } -f "$A" -C "$S" || fail "the archive did not extract (corrupt or truncated?)"`,
    `rm -f "$A"`,
    `if [ -d "$D" ]; then`,
    `  for e in "$S"/* "$S"/.[!.]* "$S"/..?*; do`,
    `    [ -e "$e" ] || [ -L "$e" ] || continue`,
    `    t="$D/\${e##*/}"`,
    `    if [ -d "$e" ] && [ ! -L "$e" ] && [ -d "$t" ] && [ ! -L "$t" ]; then`,
    // Merge into an existing directory: hard links (no copy) where the filesystem allows, else a copy.
    `      cp -a -l --remove-destination "$e/." "$t/" 2>/dev/null || cp -a --remove-destination "$e/." "$t/" || fail "cannot merge \${e##*/} into $D"`,
    `    else`,
    `      rm -rf "$t" && mv "$e" "$t" || fail "cannot move \${e##*/} into $D"`,
    `    fi`,
    `  done`,
    `  rm -rf "$S"`,
    `else`,
    `  mkdir -p "$(dirname "$D")" && rm -f "$D" && mv "$S" "$D" || fail "cannot move the staging directory to $D"`,
    `fi`
  ].join("\n")

/** The pack script: the NUL-separated path list (inline base64 or a file) into the archive, from `root`. */
export const getScript = (p: {
  readonly root: string
  readonly archive: string
  readonly list: { readonly _tag: "Inline"; readonly base64: string } | { readonly _tag: "File"; readonly path: string }
  readonly scratch: string
  readonly format: ArchiveFormat
}): string => {
  const list = p.list._tag === "File" ? p.list.path : `${p.archive}.list`
  return [
    `W=$(pwd); L="$W"/${quote(list)}; A="$W"/${quote(p.archive)}`,
    `mkdir -p ${quote(p.scratch)} || exit 1`,
    sweep(p.scratch),
    ...(p.list._tag === "Inline" ? [`printf '%s' ${quote(p.list.base64)} | base64 -d > "$L" || exit 1`] : []),
    `cd -- ${quote(p.root)} || { rm -f "$L"; printf 'sandbox-cli: No such file or directory: %s\\n' ${
      quote(p.root)
    } >&2; exit 3; }`,
    `tar -c${zip(p.format)} -f "$A" --null -T "$L"; c=$?`,
    `rm -f "$L"`,
    `[ "$c" -eq 0 ] || rm -f "$A"`,
    `exit $c`
  ].join("\n")
}

const hostArchive = (operation: string, instance: Instance, file: string) =>
  Effect.flatMap(FileSystem.FileSystem, (fs) =>
    fs.stat(file).pipe(
      Effect.mapError(() =>
        providerError(operation, "InvalidState", `${file}: no such archive on the host`, instance.instance_id)
      )
    ))

/** The staging directory for `dest`: a fresh sibling, so moving it into place never crosses filesystems. */
const stagingFor = (dest: string, id: string): string => {
  const norm = normalizePosix(dest)
  const parent = normalizePosix(`${norm}/..`)
  const base = norm === "/" ? "root" : norm.slice(norm.lastIndexOf("/") + 1)
  return `${parent === "/" ? "" : parent}/.${base}.sandbox-cli-${id}`
}

const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined"

/** @internal */
export const putArchive = (tb: Toolbox, instance: Instance, request: PutArchiveRequest) =>
  Effect.gen(function*() {
    const operation = "putArchive"
    const id = instance.instance_id
    const fs = yield* FileSystem.FileSystem
    yield* hostArchive(operation, instance, request.archive_path)
    const sb = yield* tb.sandboxFor(operation, instance)
    const token = nonce()
    const scratch = scratchOf(instance)
    const remote = `${scratch}/xfer-${token}.${extension(request.format)}`
    // Under Deno the SDK sends a file given by path as a non-file form field (and does not check the reply), so
    // there the archive goes as bytes; on Node it streams from the file.
    const source: string | Buffer = isDeno
      ? sdkBytes(
        yield* Effect.mapError(
          fs.readFile(request.archive_path),
          (e) => providerError(operation, "Unknown", `reading ${request.archive_path}: ${e.message}`, id, e)
        )
      )
      : request.archive_path
    yield* tb.retry(
      tb.call(operation, id, () =>
        typeof source === "string" ? sb.fs.uploadFile(source, remote) : sb.fs.uploadFile(source, remote))
    )
    // The transfer runs from the home directory, which always exists (the destination may not yet).
    const home = homeDirOf(instance)
    const dest = resolvePosix(instance.workdir, request.dest)
    const script = putScript({
      archive: relativePosix(home, remote),
      dest: relativePosix(home, dest),
      staging: relativePosix(home, stagingFor(dest, token)),
      scratch: relativePosix(home, scratch),
      format: request.format
    })
    const reply = yield* tb.retryRejected(tb.call(operation, id, () =>
      sb.process.executeCommand(viaSh(script), home, undefined, 0)))
      .pipe(Effect.flatMap((u) =>
        executed(operation, id, u)
      ))
    if (reply.exit_code !== 0) {
      return yield* providerError(
        operation,
        reply.exit_code === -1 ? "InvalidState" : "Unknown",
        `extracting into ${dest} failed (exit ${reply.exit_code}): ${reply.result.trim().slice(0, 500)}`,
        id
      )
    }
  }).pipe(Effect.withSpan("DaytonaProvider.putArchive"))

const encoder = new TextEncoder()

/** @internal */
export const getArchive = (tb: Toolbox, instance: Instance, request: GetArchiveRequest) =>
  Effect.gen(function*() {
    const operation = "getArchive"
    const id = instance.instance_id
    const fs = yield* FileSystem.FileSystem
    for (const p of request.paths) {
      if (p === "" || p.startsWith("/") || p.split("/").includes("..")) {
        return yield* providerError(operation, "InvalidState", `${p}: give paths relative to root`, id)
      }
    }
    if (request.paths.length === 0) {
      return yield* providerError(operation, "InvalidState", "getArchive needs at least one path", id)
    }
    const sb = yield* tb.sandboxFor(operation, instance)
    const token = nonce()
    const scratch = scratchOf(instance)
    const home = homeDirOf(instance)
    const remote = `${scratch}/xfer-${token}.${extension(request.format)}`
    // A name starting with "-" would be read as an option from the list by GNU tar; "./" keeps it a name.
    const names = request.paths.map((p) => (p.startsWith("-") ? `./${p}` : p))
    const list = encoder.encode(names.map((p) => `${p}\0`).join(""))
    const base64 = toBase64(list)
    const listPlan = base64.length <= INLINE_STDIN_LIMIT
      ? { _tag: "Inline" as const, base64 }
      : yield* Effect.as(
        tb.retry(tb.call(operation, id, () => sb.fs.uploadFile(sdkBytes(list), `${remote}.list`))),
        { _tag: "File" as const, path: relativePosix(home, `${remote}.list`) }
      )
    const script = getScript({
      root: relativePosix(home, resolvePosix(instance.workdir, request.root)),
      archive: relativePosix(home, remote),
      list: listPlan,
      scratch: relativePosix(home, scratch),
      format: request.format
    })
    const reply = yield* tb.retryRejected(
      tb.call(operation, id, () => sb.process.executeCommand(viaSh(script), home, undefined, 0))
    )
      .pipe(Effect.flatMap((u) => executed(operation, id, u)))
    if (reply.exit_code !== 0) {
      const detail = reply.result.trim().slice(0, 500)
      const reason = reply.exit_code === 3 || /Cannot stat|No such file/.test(detail) ? "NotFound" : "Unknown"
      return yield* providerError(operation, reason, `packing failed (exit ${reply.exit_code}): ${detail}`, id)
    }
    const tmp = `${request.archive_path}.tmp-${token}`
    const download = tb.retry(tb.call(operation, id, () => sb.fs.downloadFile(remote, tmp))).pipe(
      Effect.zipRight(
        fs.rename(tmp, request.archive_path).pipe(
          Effect.mapError((e) => providerError(operation, "Unknown", `${request.archive_path}: ${e.message}`, id, e))
        )
      ),
      Effect.onError(() => Effect.ignore(fs.remove(tmp, { force: true })))
    )
    yield* Effect.ensuring(download, Effect.ignore(tb.call(operation, id, () => sb.fs.deleteFile(remote))))
  }).pipe(Effect.withSpan("DaytonaProvider.getArchive"))
