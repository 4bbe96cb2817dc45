import * as FileSystem from "@effect/platform/FileSystem"
import { Profile } from "@org/sandbox-core/Profile"
import { builtinLocal } from "@org/sandbox-core/Profile"
import type { CreateSpec, Instance, Service } from "@org/sandbox-core/SandboxProvider"
import { makeSpec } from "@org/sandbox-core/testing"
import { Effect, Option } from "effect"
import { spawnSync } from "node:child_process"
import type { LocalConfigInput } from "../src/LocalConfig.js"
import * as LocalProvider from "../src/LocalProvider.js"

/** The built-in profile with `overrides`; `isolation` and `network` go to its local table, where they belong. */
export const localProfile = (overrides: Partial<typeof Profile.Type> & typeof LocalConfigInput.Type = {}) => {
  const { isolation, network, ...rest } = overrides
  return Profile.make({
    ...builtinLocal,
    ...rest,
    backend_config: {
      ...rest.backend_config,
      ...(isolation !== undefined ? { isolation } : {}),
      ...(network !== undefined ? { network } : {})
    }
  })
}

/** A provider over a fresh state directory that lives as long as the test's scope. */
export const provider = (
  profile: Partial<typeof Profile.Type> & typeof LocalConfigInput.Type = {},
  options: { readonly hostEnv?: Readonly<Record<string, string>> } = {}
) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const stateDir = yield* fs.makeTempDirectoryScoped({ prefix: "sandbox-local-test-" })
    const local = yield* LocalProvider.make({
      profile: localProfile(profile),
      stateDir,
      ...(options.hostEnv ? { hostEnv: options.hostEnv } : {})
    })
    return { local, stateDir }
  })

export const spec = (labels: Record<string, string> = {}): CreateSpec => {
  const base = makeSpec("local")
  return { ...base, labels: { ...base.labels, ...labels } }
}

/** A sandbox destroyed with the test's scope. */
export const sandbox = (local: Service, s: CreateSpec = spec()) =>
  Effect.acquireRelease(local.create(s), (i) => Effect.ignore(local.destroy(i)))

export const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)
export const bytes = (s: string) => new TextEncoder().encode(s)

/** A host process is alive; a zombie (killed, not yet reaped by a non-reaping init) counts as gone. */
export const isAlive = (pid: number) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const stat = yield* Effect.option(fs.readFileString(`/proc/${pid}/stat`))
    return Option.match(stat, { onNone: () => false, onSome: (s) => !/^\d+ \(.*\) Z /.test(s) })
  })

/** Wait (bounded) until a process is gone: SIGKILL lands asynchronously. */
export const awaitGone = (pid: number) =>
  Effect.gen(function*() {
    for (let attempt = 0; attempt < 60; attempt++) {
      if (!(yield* isAlive(pid))) return true
      yield* Effect.sleep("50 millis")
    }
    return false
  })

export const readPid = (local: Service, instance: Instance, file: string) =>
  Effect.map(local.readFile(instance, file), (b) => Number(text(b).trim()))

/** Whether bubblewrap is installed and can create namespaces here (it cannot in some containers). */
export const bwrapUsable: boolean = (() => {
  const probe = spawnSync("bwrap", ["--ro-bind", "/", "/", "true"], { stdio: "ignore" })
  return probe.error === undefined && probe.status === 0
})()
