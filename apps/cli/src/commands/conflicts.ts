/**
 * `sandbox-cli session conflicts ID | show ID PATH | resolve ID PATH --keep host|runtime|both`: the conflicts a
 * session's syncs found (both sides changed a path since the last sync). A sync keeps the host's version in place
 * and the sandbox's beside it as `<path>.sandbox-conflict-<session>`; these commands list them, show both sides and
 * settle one by making both sides agree, after which the next sync records the agreement and reports it no more.
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { UsageError } from "@org/sandbox-core/SandboxError"
import type { Instance, Service as ProviderService } from "@org/sandbox-core/SandboxProvider"
import { SandboxRecord, Session, SyncStatus } from "@org/sandbox-core/Session"
import * as Store from "@org/sandbox-core/Store"
import { Effect, Option, Schema } from "effect"
import * as AppConfig from "../AppConfig.js"
import { common, type Output } from "../CommonOptions.js"
import * as Render from "../Render.js"
import * as Sessions from "../Sessions.js"
import { textOf, unifiedDiff } from "../UnifiedDiff.js"

const USAGE = "sandbox-cli session conflicts ID | show ID PATH | resolve ID PATH --keep host|runtime|both"

const words = Args.text({ name: "ID | show ID PATH | resolve ID PATH" }).pipe(
  Args.repeated,
  Args.withDescription(
    "ID: list the session's unresolved conflicts; show ID PATH: both sides of one, with a diff; " +
      "resolve ID PATH --keep …: settle one (PATH relative to the workspace)"
  )
)

/** One unresolved conflict: its path and where the sandbox's version was kept on the host (if it had content). */
const ConflictEntry = Schema.Struct({ path: Schema.String, runtime_copy: Schema.NullOr(Schema.String) })

const Side = Schema.Struct({
  exists: Schema.Boolean,
  size: Schema.NullOr(Schema.Number),
  /** Where this version was read: the host file, the sandbox itself, or the copy kept on the host. */
  source: Schema.Literal("host", "sandbox", "copy", "none"),
  /** The content, when it is text. */
  text: Schema.NullOr(Schema.String)
})

const Shown = Schema.Struct({
  path: Schema.String,
  host: Side,
  runtime: Side,
  /** A unified diff from the host's version to the sandbox's, when both are text. */
  diff: Schema.NullOr(Schema.String)
})

const Resolved = Schema.Struct({
  path: Schema.String,
  kept: Schema.Literal("host", "runtime", "both"),
  /** With `both`: where the sandbox's version now lives on the host (a plain file, synced like any other). */
  runtime_version_at: Schema.NullOr(Schema.String),
  /** Whether the sandbox was reachable and now holds the kept version too. */
  sandbox_updated: Schema.Boolean
})

const COPY_MARK = ".sandbox-conflict-"

interface Context {
  readonly session: Session
  readonly root: string
  /** The sandbox, when it still exists and runs. */
  readonly runtime: Option.Option<{ readonly provider: ProviderService; readonly instance: Instance }>
}

/** The session, its workspace's directory and (where reachable) its sandbox. */
const contextOf = (config: Option.Option<string>, id: string) =>
  Effect.gen(function*() {
    const session = yield* Sessions.sessionById(id)
    const store = yield* Store.Store
    const workspace = yield* store.getWorkspace(session.workspace).pipe(
      Effect.mapError(() =>
        new UsageError({ detail: `the workspace ${session.workspace} of session ${id} is no longer registered` })
      )
    )
    const runtime = yield* Effect.gen(function*() {
      const loaded = yield* AppConfig.loadForSession(config, session)
      const profile = yield* Sessions.profileForSession(loaded, session)
      const provider = yield* Sessions.providerFor(loaded.registry, profile)
      const instance = yield* Sessions.instanceOf(provider, session)
      return instance.state === "running" ? Option.some({ provider, instance }) : Option.none()
    }).pipe(Effect.orElseSucceed(() => Option.none()))
    return { session, root: workspace.path, runtime } satisfies Context
  })

/** The copies of the sandbox's version of `path` this session left on the host, newest (highest `-n`) last. */
const copiesOf = (ctx: Context, path: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const p = yield* Path.Path
    const dir = p.dirname(path)
    const prefix = `${p.basename(path)}${COPY_MARK}${ctx.session.id}`
    const names = yield* fs.readDirectory(p.join(ctx.root, dir)).pipe(Effect.orElseSucceed(() => [] as Array<string>))
    const rank = (name: string) => name === prefix ? 0 : Number(name.slice(prefix.length + 1))
    return names
      .filter((n) => n === prefix || (n.startsWith(`${prefix}-`) && /^\d+$/.test(n.slice(prefix.length + 1))))
      .sort((a, b) => rank(a) - rank(b))
      .map((n) => (dir === "." ? n : `${dir}/${n}`))
  })

const normalize = (path: string) => path.replace(/^(\.\/)+/, "").replace(/\/+$/, "")

/** `path` must be one of the session's unresolved conflicts. */
const recorded = (ctx: Context, path: string) => {
  const wanted = normalize(path)
  return ctx.session.sandbox.sync.conflicts.includes(wanted)
    ? Effect.succeed(wanted)
    : Effect.fail(
      new UsageError({
        detail: `no unresolved conflict at ${JSON.stringify(path)} in session ${ctx.session.id} ` +
          `(see: sandbox-cli session conflicts ${ctx.session.id})`
      })
    )
}

type Version = { readonly bytes: Uint8Array | null; readonly source: typeof Side.Type["source"]; mode: number }

/** A regular file (or nothing) at `rel` under the workspace; anything else is settled by hand. */
const hostVersion = (ctx: Context, rel: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const p = yield* Path.Path
    const full = p.join(ctx.root, rel)
    const info = yield* fs.stat(full).pipe(Effect.option)
    if (Option.isNone(info)) return { bytes: null, source: "none", mode: 0o644 } as Version
    if (info.value.type !== "File") return yield* byHand(ctx, rel, `the host's ${rel} is not a regular file`)
    return { bytes: yield* fs.readFile(full), source: "host", mode: info.value.mode & 0o777 } as Version
  })

const byHand = (ctx: Context, path: string, why: string) =>
  Effect.fail(
    new UsageError({
      detail: `${why}: settle ${path} by hand (the sandbox's version is beside it as ${path}${COPY_MARK}` +
        `${ctx.session.id}), then run sandbox-cli session sync ${ctx.session.id}`
    })
  )

/** The sandbox's version: from the sandbox while it runs, else the newest copy kept on the host. */
const runtimeVersion = (ctx: Context, path: string) =>
  Effect.gen(function*() {
    if (Option.isSome(ctx.runtime)) {
      const { instance, provider } = ctx.runtime.value
      const stat = yield* provider.stat(instance, path).pipe(Effect.option)
      if (Option.isNone(stat)) return { bytes: null, source: "sandbox", mode: 0o644 } as Version
      if (stat.value.kind !== "file") return yield* byHand(ctx, path, `the sandbox's ${path} is not a regular file`)
      const bytes = yield* provider.readFile(instance, path)
      return { bytes, source: "sandbox", mode: stat.value.mode & 0o777 } as Version
    }
    const copies = yield* copiesOf(ctx, path)
    if (copies.length === 0) return { bytes: null, source: "none", mode: 0o644 } as Version
    const copy = yield* hostVersion(ctx, copies[copies.length - 1]!)
    return { ...copy, source: "copy" } as Version
  })

const side = (v: Version): typeof Side.Type => ({
  exists: v.bytes !== null,
  size: v.bytes?.length ?? null,
  source: v.source,
  text: v.bytes === null ? null : textOf(v.bytes) ?? null
})

const list = (config: Option.Option<string>, id: string, output: Output) =>
  Effect.gen(function*() {
    const ctx = yield* contextOf(config, id)
    const entries: Array<typeof ConflictEntry.Type> = []
    for (const path of ctx.session.sandbox.sync.conflicts) {
      const copies = yield* copiesOf(ctx, path)
      entries.push({ path, runtime_copy: copies[copies.length - 1] ?? null })
    }
    yield* Render.by(output, Schema.Array(ConflictEntry), entries, (es) =>
      es.length === 0
        ? Render.line(`session ${id} has no unresolved conflicts`)
        : Render.table(["path", "sandbox's version"], es.map((e) => [e.path, e.runtime_copy ?? "(deleted there)"])))
  })

const show = (config: Option.Option<string>, id: string, path: string, output: Output) =>
  Effect.gen(function*() {
    const ctx = yield* contextOf(config, id)
    const rel = yield* recorded(ctx, path)
    const host = yield* hostVersion(ctx, rel)
    const runtime = yield* runtimeVersion(ctx, rel)
    const [h, r] = [side(host), side(runtime)]
    const diff = h.text !== null || r.text !== null
      ? (host.bytes === null || h.text !== null) && (runtime.bytes === null || r.text !== null)
        ? unifiedDiff(h.text ?? "", r.text ?? "", { from: `host/${rel}`, to: `sandbox/${rel}` }) ?? null
        : null
      : null
    const shown = { path: rel, host: h, runtime: r, diff }
    yield* Render.by(output, Shown, shown, (s) => {
      const describe = (x: typeof Side.Type, where: string) =>
        x.exists ? `${x.size} bytes${x.text === null ? ", binary" : ""} (${where})` : `deleted (${where})`
      return Effect.zipRight(
        Render.fields([
          ["path", s.path],
          ["host", describe(s.host, "the host file")],
          ["sandbox", describe(s.runtime, s.runtime.source === "copy" ? "the copy kept on the host" : "the sandbox")]
        ]),
        s.diff !== null ? Render.line(s.diff) : Render.line("(no text diff: a side is binary or too long)")
      )
    })
  })

const keepOption = Options.choice("keep", ["host", "runtime", "both"]).pipe(
  Options.optional,
  Options.withDescription(
    "host: the host's version on both sides; runtime: the sandbox's version on both sides; both: the host's " +
      "version stays and the sandbox's is kept beside it as PATH.from-sandbox"
  )
)

const resolve = (
  config: Option.Option<string>,
  id: string,
  path: string,
  keep: "host" | "runtime" | "both",
  output: Output
) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const p = yield* Path.Path
    const store = yield* Store.Store
    const ctx = yield* contextOf(config, id)
    const rel = yield* recorded(ctx, path)
    const host = yield* hostVersion(ctx, rel)
    const runtime = yield* runtimeVersion(ctx, rel)
    const full = p.join(ctx.root, rel)
    // Host writes go through a temp file and a rename, as the sync's do.
    const writeHost = (target: string, v: Version) =>
      v.bytes === null
        ? fs.remove(target).pipe(
          Effect.catchIf((e) => e._tag === "SystemError" && e.reason === "NotFound", () => Effect.void)
        )
        : Effect.gen(function*() {
          const temp = `${target}.sandbox-cli-resolve-${process.pid}`
          yield* fs.writeFile(temp, v.bytes!, { mode: v.mode })
          yield* fs.rename(temp, target)
        })
    const writeRuntime = (v: Version) =>
      Option.match(ctx.runtime, {
        onNone: () => Effect.succeed(false),
        onSome: ({ instance, provider }) =>
          Effect.as(
            v.bytes === null
              ? provider.remove(instance, rel).pipe(Effect.catchIf((e) => e.reason === "NotFound", () => Effect.void))
              : provider.writeFile(instance, rel, v.bytes, { mode: v.mode }),
            true
          )
      })
    let runtime_version_at: string | null = null
    let sandbox_updated = false
    if (keep === "runtime") {
      yield* writeHost(full, runtime)
      sandbox_updated = Option.isSome(ctx.runtime)
    } else {
      sandbox_updated = yield* writeRuntime(host)
      if (keep === "both" && runtime.bytes !== null) {
        let name = `${rel}.from-sandbox`
        for (let n = 2; yield* fs.exists(p.join(ctx.root, name)); n++) name = `${rel}.from-sandbox-${n}`
        yield* writeHost(p.join(ctx.root, name), runtime)
        runtime_version_at = name
      }
    }
    // Settled: the copies go, and the record no longer lists it (the next sync sees both sides agree).
    for (const copy of yield* copiesOf(ctx, rel)) yield* fs.remove(p.join(ctx.root, copy), { recursive: true })
    yield* store.updateSession(id, (s) =>
      Session.make({
        ...s,
        sandbox: SandboxRecord.make({
          ...s.sandbox,
          sync: SyncStatus.make({ ...s.sandbox.sync, conflicts: s.sandbox.sync.conflicts.filter((c) => c !== rel) })
        })
      }))
    const result = { path: rel, kept: keep, runtime_version_at, sandbox_updated }
    yield* Render.by(output, Resolved, result, (r) =>
      Render.line(
        `resolved ${r.path}: kept ${
          r.kept === "both"
            ? `both (the sandbox's version is ${r.runtime_version_at ?? "deleted"})`
            : `the ${r.kept === "host" ? "host's" : "sandbox's"} version`
        }${
          r.sandbox_updated || r.kept === "runtime"
            ? ""
            : "; the sandbox is not running, so only the host was changed"
        }`
      ))
  })

const usage = (detail: string) => Effect.fail(new UsageError({ detail: `${detail}: ${USAGE}` }))

export const command = Command.make(
  "conflicts",
  { ...common, words, keep: keepOption },
  ({ config, keep, output, words }) =>
    Effect.gen(function*() {
      const [first, id, path, ...extra] = words
      if (first === "show" || first === "resolve") {
        if (id === undefined || path === undefined || extra.length > 0) {
          return yield* usage(`${first} takes a session id and one path`)
        }
        if (first === "show") {
          if (Option.isSome(keep)) return yield* usage("--keep goes with resolve")
          return yield* show(config, id, path, output)
        }
        if (Option.isNone(keep)) return yield* usage("resolve needs --keep host, runtime or both")
        return yield* resolve(config, id, path, keep.value, output)
      }
      if (first === undefined || id !== undefined) return yield* usage("give one session id")
      if (Option.isSome(keep)) return yield* usage("--keep goes with resolve")
      return yield* list(config, first, output)
    }).pipe(Effect.scoped)
).pipe(
  Command.withDescription(
    "A session's unresolved conflicts (both sides changed a path): list them, show one with a diff, or resolve " +
      "one by keeping the host's version, the sandbox's, or both"
  )
)
