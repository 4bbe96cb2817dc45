#!/usr/bin/env node
// Reconciler benchmark: 1,000 sandboxes in the Daytona emulator, half of them orphans (250 with no session record,
// 250 left over by ended transient sessions), half owned (250 by sessions whose supervisor is alive, 250 kept by
// ended reuse sessions). Measures plan and act with the default concurrency and counts the requests sent.
//   targets: plan + act < 10 s · list requests <= 1 per 100 sandboxes · 1 action request per orphan
// Usage: npm run bench:reconcile [-- --sandboxes N] [--concurrency N] [--keep]
// The reconciler runs in this process against the built packages (dist/); the emulator is on loopback.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..")
const args = process.argv.slice(2)
const opt = (name, fallback) => {
  const i = args.indexOf(name)
  return i >= 0 ? args[i + 1] : fallback
}
const total = Number(opt("--sandboxes", "1000"))
const concurrency = opt("--concurrency", undefined)
const keep = args.includes("--keep")

const dist = (pkg, module) => import(path.join(root, pkg, "dist", `${module}.js`))
const { DateTime, Effect, Layer, Redacted } = await import("effect")
const { NodeContext } = await import("@effect/platform-node")
const { startEmulator } = await dist("test/daytona-emulator", "index")
const Store = await dist("packages/core", "Store")
const Supervision = await dist("packages/core", "Supervision")
const { Session, SandboxRecord, SyncStatus } = await dist("packages/core", "Session")
const { Profile, builtinLocal } = await dist("packages/core", "Profile")
const { makeSandboxId, makeSessionId, ProfileName } = await dist("packages/core", "Ids")
const { labelsFor } = await dist("packages/core", "SandboxProvider")
const { WorkspaceSync } = await dist("packages/core", "WorkspaceSync")
const Reconciler = await dist("packages/reconciler", "Reconciler")
const DaytonaProvider = await dist("packages/daytona", "DaytonaProvider")

const API_KEY = "bench-reconcile-key"
const OWNER = "bench@reconcile"
const work = fs.mkdtempSync(path.join(os.tmpdir(), "reconcile-bench-"))
const stateDir = path.join(work, "state")
const emu = await startEmulator({ apiKey: API_KEY, root: path.join(work, "emulator") })
const cleanup = async () => {
  await emu.close()
  if (!keep) fs.rmSync(work, { recursive: true, force: true })
}

const profile = (name, persistence) =>
  Profile.make({
    ...builtinLocal,
    name: ProfileName.make(name),
    backend: "daytona",
    sync_mode: "seed",
    persistence,
    backend_config: { api_url: emu.url },
    source: "<bench>"
  })
const transient = profile("bench", "transient")
const reuse = profile("bench-reuse", "reuse")

// ------------------------------------------------------------------------------------------------- setup
const post = async (body) => {
  for (let attempt = 0;; attempt++) {
    const res = await fetch(`${emu.url}/sandbox`, {
      method: "POST",
      headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
      body: JSON.stringify(body)
    })
    if (res.ok) return res.json()
    if (attempt > 5) throw new Error(`create failed: ${res.status} ${await res.text()}`)
  }
}

const kinds = ["orphan-no-record", "orphan-ended-transient", "live", "reuse"]
const plan = Array.from({ length: total }, (_, i) => ({
  kind: kinds[i % 4],
  sandbox_id: makeSandboxId(),
  session_id: makeSessionId(),
  workspace: `ws-${i % 50}`
}))
const setupStarted = Date.now()
for (let i = 0; i < plan.length; i += 32) {
  await Promise.all(
    plan.slice(i, i + 32).map(async (s) => {
      const sb = await post({ name: s.sandbox_id, labels: labelsFor({ ...s, owner: OWNER }) })
      s.instance_id = sb.id
    })
  )
}

const store = await Effect.runPromise(Store.makeFile(stateDir).pipe(Effect.provide(NodeContext.layer)))
const now = await Effect.runPromise(DateTime.now)
const record = (s) =>
  Session.make({
    id: s.session_id,
    workspace: s.workspace,
    agent: null,
    command: ["agent"],
    state: s.kind === "live" ? "running" : "stopped",
    created_at: now,
    updated_at: now,
    ended_at: s.kind === "live" ? null : now,
    exit_code: s.kind === "live" ? null : 0,
    reason: null,
    owner: OWNER,
    sandbox: SandboxRecord.make({
      sandbox_id: s.sandbox_id,
      backend: "daytona",
      profile: s.kind === "reuse" ? reuse.name : transient.name,
      instance_id: s.instance_id,
      state: "running",
      provider_state: null,
      sync: SyncStatus.make({ ...SyncStatus.empty, last_to_runtime_at: now }),
      last_error: null
    })
  })
await Effect.runPromise(
  Effect.forEach(plan.filter((s) => s.kind !== "orphan-no-record"), (s) => store.putSession(record(s)), {
    concurrency: 16
  })
)
// The live sessions' supervisor is this process: fresh locks with our pid.
const locks = path.join(stateDir, "supervisors")
fs.mkdirSync(locks, { recursive: true })
for (const s of plan.filter((s) => s.kind === "live")) {
  const at = new Date().toISOString()
  fs.writeFileSync(
    path.join(locks, `${s.session_id}.json`),
    JSON.stringify({ pid: process.pid, session_id: s.session_id, started_at: at, heartbeat_at: at })
  )
}
const setupMs = Date.now() - setupStarted

// ------------------------------------------------------------------------------------------------- run
let syncCalls = 0
const syncLayer = Layer.succeed(WorkspaceSync, {
  seed: () => Effect.die("no seed expected"),
  sync: () => Effect.sync(() => void syncCalls++).pipe(Effect.zipRight(Effect.die("no sync expected")))
})
const isAlive = (pid) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return e.code === "EPERM"
  }
}
const layer = Layer.mergeAll(
  Layer.succeed(Store.Store, store),
  Supervision.layerFile({ dir: locks, isAlive, pid: process.pid }),
  syncLayer
).pipe(Layer.provideMerge(NodeContext.layer))

const routes = () => ({ ...emu.stats().routes })
const diff = (after, before) =>
  Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]).filter(([, v]) => v > 0))

const program = Effect.gen(function*() {
  const reconciler = yield* Reconciler.make({
    owner: OWNER,
    profiles: [transient, reuse],
    providerFor: (p) => DaytonaProvider.make({ profile: p, apiKey: Redacted.make(API_KEY) }),
    syncStateDir: (id) => path.join(stateDir, "sync", id),
    claims: { dir: path.join(stateDir, "reconcile"), pid: process.pid },
    ...(concurrency !== undefined ? { concurrency: Number(concurrency) } : {})
  })
  emu.resetStats()
  const t0 = performance.now()
  const planned = yield* reconciler.plan()
  const t1 = performance.now()
  const planRoutes = routes()
  const report = yield* reconciler.act(planned)
  const t2 = performance.now()
  return { planned, report, planMs: t1 - t0, actMs: t2 - t1, planRoutes, actRoutes: diff(routes(), planRoutes) }
}).pipe(Effect.scoped, Effect.provide(layer))

let exitCode = 0
try {
  const { actMs, actRoutes, planMs, planRoutes, planned, report } = await Effect.runPromise(program)
  const orphans = plan.filter((s) => s.kind.startsWith("orphan")).length
  const byDecision = {}
  for (const a of planned.report.actions) byDecision[a.decision] = (byDecision[a.decision] ?? 0) + 1
  const byStatus = {}
  for (const a of report.actions) byStatus[a.status] = (byStatus[a.status] ?? 0) + 1
  const listRequests = (planRoutes["GET /api/sandbox"] ?? 0) + (actRoutes["GET /api/sandbox"] ?? 0)
  const deletes = actRoutes["DELETE /api/sandbox/{sandboxIdOrName}"] ?? 0
  const alive = emu.sandboxes().filter((sb) => sb.state !== "destroyed").length
  const totalMs = planMs + actMs
  const checks = [
    [`plan + act under 10 s`, totalMs < 10_000, `${(totalMs / 1000).toFixed(2)} s`],
    [
      `list requests <= 1 per 100 sandboxes (${Math.ceil(total / 100)})`,
      listRequests <= Math.ceil(total / 100),
      String(listRequests)
    ],
    [`one action request per orphan (${orphans})`, deletes === orphans, `${deletes} DELETE`],
    [`every orphan gone, every owned sandbox kept`, alive === total - orphans, `${alive} left`],
    [`no sync for seed-mode sessions`, syncCalls === 0, String(syncCalls)]
  ]
  console.log(
    `reconcile benchmark: ${total} sandboxes in the Daytona emulator (setup ${
      (setupMs / 1000).toFixed(1)
    } s, not timed)`
  )
  console.log(`  concurrency     ${concurrency ?? "default (8)"}`)
  console.log(
    `  plan            ${planMs.toFixed(0)} ms  decisions ${
      JSON.stringify(byDecision)
    } live ${planned.report.live} kept ${planned.report.kept}`
  )
  console.log(`  act             ${actMs.toFixed(0)} ms  results ${JSON.stringify(byStatus)}`)
  console.log(`  requests (plan) ${JSON.stringify(planRoutes)}`)
  console.log(`  requests (act)  ${JSON.stringify(actRoutes)}`)
  for (const [name, ok, value] of checks) {
    console.log(`  ${ok ? "PASS" : "FAIL"}  ${name}: ${value}`)
    if (!ok) exitCode = 1
  }
} catch (e) {
  console.error(e)
  exitCode = 1
} finally {
  await cleanup()
}
process.exit(exitCode)
