/**
 * `sandbox rm` of a `sync_mode = "none"` sandbox whose runtime was the workspace itself needs no `--discard`,
 * whichever provider ran it: the built-in local one, or a third party's loaded from `[providers]` whose
 * `hostPath` is the workspace (issue 14, item 8). A runtime elsewhere still holds work that never came home.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import type { Fixture } from "./helpers.js"
import { expectError, expectOk, fixture, json } from "./helpers.js"

const TIMEOUT = 90_000

/**
 * A Promise provider as an outside author writes it: commands are host processes run in the directory the
 * `workspace-path` label names (the workspace, when the profile never syncs), or in a directory of its own when
 * `inPlace` is false; `hostPath` says which.
 */
const providerSource = (dir: string, inPlace: boolean) =>
  `import { spawnSync } from "node:child_process"
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
const dir = ${JSON.stringify(dir)}
const inPlace = ${inPlace}
const unsupported = async () => { throw Object.assign(new Error("unsupported"), { reason: "Unsupported" }) }
const read = (id) => {
  try { return JSON.parse(readFileSync(join(dir, id + ".json"), "utf8")) }
  catch { throw Object.assign(new Error("no sandbox " + id), { reason: "NotFound" }) }
}
const save = (instance) => (writeFileSync(join(dir, instance.instance_id + ".json"), JSON.stringify(instance)), instance)
const run = (instance, request) => {
  const argv = request.argv ?? ["sh", "-c", request.shell]
  const r = spawnSync(argv[0], argv.slice(1), { cwd: request.cwd ?? instance.workdir, env: { ...process.env, ...request.env } })
  return { exit_code: r.status ?? 1, stdout: r.stdout ?? new Uint8Array(), stderr: r.stderr ?? new Uint8Array() }
}
export const backend = "inplace"
export const contract_version = 1
export const provider = async () => ({
  name: "inplace", contract_version: 1, capabilities: { labels: true, exec: true, exec_stream: true, reuse: true },
  async create(spec) {
    const id = "ip-" + spec.sandbox_id
    const own = join(dir, id)
    mkdirSync(own, { recursive: true })
    const workdir = inPlace && spec.labels["workspace-path"] ? spec.labels["workspace-path"] : own
    return save({ instance_id: id, state: "running", provider_state_name: "running", labels: spec.labels, workdir,
      provider_state: null })
  },
  async get(id) { return read(id) },
  async list(filter) {
    return readdirSync(dir).filter((f) => f.endsWith(".json")).map((f) => read(f.slice(0, -5)))
      .filter((i) => Object.entries(filter.labels).every(([k, v]) => i.labels[k] === v))
  },
  async start(i) { return save({ ...read(i.instance_id), state: "running", provider_state_name: "running" }) },
  async stop(i) { return save({ ...read(i.instance_id), state: "stopped", provider_state_name: "stopped" }) },
  async destroy(i) { rmSync(join(dir, i.instance_id + ".json"), { force: true }) },
  async exec(i, request) {
    const r = run(i, request)
    return { exit_code: r.exit_code, stdout: r.stdout.toString(), stderr: r.stderr.toString() }
  },
  async *execStream(i, request) {
    const r = run(i, request)
    if (r.stdout.length > 0) yield { _tag: "Stdout", data: new Uint8Array(r.stdout) }
    if (r.stderr.length > 0) yield { _tag: "Stderr", data: new Uint8Array(r.stderr) }
    yield { _tag: "Exit", exit_code: r.exit_code }
  },
  async hostPath(i) { return read(i.instance_id).workdir },
  readFile: unsupported, writeFile: unsupported, stat: unsupported, listDir: unsupported,
  remove: unsupported, mkdir: unsupported
})
`

/** A workspace whose config registers both forms of the provider and a never-syncing profile on each backend. */
const setup = Effect.gen(function*() {
  const cli = yield* fixture()
  const instances = yield* cli.mkdir("instances")
  const inPlace = yield* cli.write("inplace-provider.mjs", providerSource(instances, true))
  const elsewhere = yield* cli.write("elsewhere-provider.mjs", providerSource(instances, false))
  const profile = (backend: string) => `backend = "${backend}"\nsync_mode = "none"\npersistence = "reuse"\n`
  yield* cli.write(
    "cwd/.sandbox-cli.toml",
    `[providers]\ninplace = "${inPlace}"\nelsewhere = "${elsewhere}"\n\n` +
      `[sandboxes.onlocal]\n${profile("local")}\n[sandboxes.inplace]\n${profile("inplace")}\n` +
      `[sandboxes.elsewhere]\n${profile("elsewhere")}`
  )
  return cli
})

/** Run a command that writes a file on `profile`; the id of the sandbox it leaves. */
const ranOn = (cli: Fixture, profile: string) =>
  Effect.gen(function*() {
    expectOk(yield* cli.run(["run", "-p", profile, "--", "sh", "-c", `echo ${profile} > ${profile}.txt`]))
    const listed = json<ReadonlyArray<{ sandbox_id: string; profile: string }>>(
      yield* cli.run(["sandbox", "list", "-o", "json"])
    )
    const sandbox = listed.find((s) => s.profile === profile)
    expect(sandbox).toBeDefined()
    return sandbox!.sandbox_id
  })

layer(NodeContext.layer)("sandbox rm of a runtime that is the workspace", (it) => {
  for (const profile of ["onlocal", "inplace"]) {
    it.scoped(`${profile}: the work is home already, so rm needs no --discard`, () =>
      Effect.gen(function*() {
        const cli = yield* setup
        const id = yield* ranOn(cli, profile)
        expect(readFileSync(join(cli.cwd, `${profile}.txt`), "utf8")).toBe(`${profile}\n`)
        const removed = json<{ state: string; discarded: boolean }>(
          yield* cli.run(["sandbox", "rm", id, "-o", "json"])
        )
        expect(removed).toEqual({ sandbox_id: id, state: "gone", discarded: false })
        expect(readFileSync(join(cli.cwd, `${profile}.txt`), "utf8")).toBe(`${profile}\n`)
      }), TIMEOUT)
  }

  it.scoped(
    "a third party's runtime elsewhere never brings its work home: rm wants --discard",
    () =>
      Effect.gen(function*() {
        const cli = yield* setup
        const id = yield* ranOn(cli, "elsewhere")
        expect(expectError(yield* cli.run(["sandbox", "rm", id]), 2)).toContain("--discard")
        expectOk(yield* cli.run(["sandbox", "rm", id, "--discard"]))
      }),
    TIMEOUT
  )
})
