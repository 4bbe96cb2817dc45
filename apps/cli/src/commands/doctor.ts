/**
 * `sandbox-cli doctor`: what this machine can run, and what is missing.
 */
import * as Command from "@effect/cli/Command"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Locations from "@org/sandbox-core/Locations"
import * as Redaction from "@org/sandbox-core/Redaction"
import { Config, Effect, Option, Schema } from "effect"
import { delimiter } from "node:path"
import * as AppConfig from "../AppConfig.js"
import { common } from "../CommonOptions.js"
import { CommandFailed } from "../Failure.js"
import * as Render from "../Render.js"

const Check = Schema.Struct({
  name: Schema.String,
  status: Schema.Literal("ok", "warn", "fail"),
  detail: Schema.String
})
type Check = typeof Check.Type

const Report = Schema.Struct({ ok: Schema.Boolean, checks: Schema.Array(Check) })

const check = (name: string, status: Check["status"], detail: string): Check => ({ name, status, detail })

const onPath = (binary: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const dirs = (yield* Config.string("PATH").pipe(Config.withDefault(""))).split(delimiter).filter((d) => d !== "")
    for (const dir of dirs) {
      const candidate = path.join(dir, binary)
      if (yield* fs.exists(candidate).pipe(Effect.orElseSucceed(() => false))) {
        return Option.some(candidate)
      }
    }
    return Option.none<string>()
  })

const runtimeCheck = (): Check => {
  const deno = (globalThis as { Deno?: { version?: { deno?: string } } }).Deno
  if (deno?.version?.deno) return check("runtime", "ok", `Deno ${deno.version.deno}`)
  const major = Number(process.versions.node.split(".")[0])
  return check(
    "runtime",
    major >= 20 ? "ok" : "fail",
    `Node ${process.versions.node}${major >= 20 ? "" : " (needs 20 or later)"}`
  )
}

export const command = Command.make("doctor", common, ({ config, output }) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const checks: Array<Check> = [runtimeCheck()]

    const stateDir = yield* Locations.stateDir
    const writable = yield* Effect.gen(function*() {
      yield* fs.makeDirectory(stateDir, { recursive: true })
      const probe = path.join(stateDir, `.doctor-${process.pid}`)
      yield* fs.writeFileString(probe, "ok")
      yield* fs.remove(probe)
    }).pipe(Effect.either)
    checks.push(
      writable._tag === "Right"
        ? check("state_dir", "ok", `${stateDir} (writable)`)
        : check("state_dir", "fail", `${stateDir} is not writable: ${writable.left.message}; set SANDBOX_CLI_HOME`)
    )

    const loaded = yield* AppConfig.load(config).pipe(Effect.either)
    if (loaded._tag === "Right") {
      const files = loaded.right.config.files
      checks.push(
        check("config", "ok", files.length === 0 ? "no config file (built-in profiles only)" : files.join(", "))
      )
      for (const [name, backend] of loaded.right.registry.backends) {
        const definition = yield* loaded.right.registry.get(name).pipe(Effect.either)
        checks.push(
          definition._tag === "Right"
            ? check(`backend.${name}`, "ok", `available (${backend.source})`)
            : check(`backend.${name}`, "fail", definition.left.message)
        )
      }
      // A third-party provider loads fine and may still fail when built: build it once per profile that uses it.
      for (const profile of loaded.right.config.profiles.values()) {
        const backend = loaded.right.registry.backends.get(profile.backend)
        if (backend === undefined || backend.source === "built-in") continue
        const built = yield* loaded.right.registry.get(profile.backend).pipe(
          Effect.flatMap((definition) => Effect.scoped(definition.make({ profile }))),
          Effect.either
        )
        checks.push(
          built._tag === "Right"
            ? check(`profile.${profile.name}`, "ok", `provider ${profile.backend} starts`)
            : check(
              `profile.${profile.name}`,
              "fail",
              `provider ${profile.backend} fails to start: ${built.left.message}`
            )
        )
      }
    } else {
      checks.push(check("config", "fail", loaded.left.message))
    }

    const apiKey = yield* Config.option(Config.redacted("DAYTONA_API_KEY"))
    const apiUrl = yield* Config.option(Config.string("DAYTONA_API_URL"))
    checks.push(
      Option.isSome(apiKey)
        ? check("daytona.api_key", "ok", "DAYTONA_API_KEY is set")
        : check("daytona.api_key", "warn", "DAYTONA_API_KEY is not set (needed only for daytona profiles)")
    )
    checks.push(check(
      "daytona.api_url",
      "ok",
      Option.match(apiUrl, {
        onNone: () => "default (profile api_url or https://app.daytona.io/api)",
        onSome: Redaction.urls
      })
    ))

    const bwrap = yield* onPath("bwrap")
    checks.push(
      Option.isSome(bwrap)
        ? check("bubblewrap", "ok", bwrap.value)
        : check(
          "bubblewrap",
          "warn",
          "bwrap not found (needed only for isolation = \"bubblewrap\"; apt-get install bubblewrap)"
        )
    )
    const tar = yield* onPath("tar")
    checks.push(
      Option.isSome(tar) ? check("tar", "ok", tar.value) : check("tar", "fail", "tar not found on PATH (sync needs it)")
    )
    const git = yield* onPath("git")
    checks.push(
      Option.isSome(git)
        ? check("git", "ok", git.value)
        : check("git", "warn", "git not found (needed only for seed = \"git\")")
    )

    const report = {
      ok: checks.every((c) => c.status !== "fail"),
      checks
    }
    yield* Render.by(output, Report, report, (r) =>
      Render.table(["check", "status", "detail"], r.checks.map((c) => [c.name, c.status, c.detail])))
    if (!report.ok) {
      return yield* new CommandFailed({
        message: `doctor found ${
          checks.filter((c) => c.status === "fail").length
        } problem(s)`
      })
    }
  })).pipe(Command.withDescription("Check this machine: runtime, state dir, config, backends, credentials, tools"))
