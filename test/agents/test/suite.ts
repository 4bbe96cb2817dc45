/**
 * One scenario for a real ACP agent, run through `sandbox-cli session new --agent` on the local backend under
 * bubblewrap and on the Daytona emulator: the agent writes a file and runs a command (both in the runtime, the
 * file comes home at stop), tries its own search tool on a host file outside the sandbox (it must not see it),
 * gets its API key through `pass_env` (the key appears nowhere but in the agent's environment), and survives no
 * supervisor crash (after `reconcile`, none of its processes is left on the host).
 */
import type { Emulator } from "@org/daytona-emulator"
import { startEmulator } from "@org/daytona-emulator"
import { execFileSync } from "node:child_process"
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync } from "node:fs"
import { dirname, join, relative, sep } from "node:path"
import { fileURLToPath } from "node:url"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { type Cli, history, json, makeCli, poll, status } from "./helpers.js"

/** What the scripted model makes the agent do, and how to see it happened. */
export interface Scenario {
  /** The agent's name in the tests. */
  readonly name: string
  /** The fake model server, scripted for a turn (`hang`: the model never answers, to crash mid-turn). */
  readonly model: (script: { readonly secretDir: string; readonly hang: boolean }) => Promise<{
    readonly url: string
    /** Every request body the model received, as text. */
    readonly seen: () => string
    /** The API keys the model was called with. */
    readonly keys: () => ReadonlyArray<string>
    readonly close: () => Promise<void>
  }>
  /** The agent's npm package (installed in this workspace's devDependencies). */
  readonly package: string
  /** The agent's argv, given the directory holding the `node_modules` it runs from and the model's URL. */
  readonly command: (modules: string, url: string) => ReadonlyArray<string>
  /** The agent's `env` table for a model at `url` (`local`: under bubblewrap, where the host's HOME is read-only). */
  readonly env: (options: { readonly url: string; readonly local: boolean }) => Record<string, string>
  /** The variable that carries the API key (given through pass_env). */
  readonly keyVariable: string
  /** The files the turn leaves in the workspace, with their content. */
  readonly made: Readonly<Record<string, string>>
}

const SECRET_TOKEN = "TOKEN-4242"

/** This repository's root, whose node_modules holds the pinned agents. */
const root = fileURLToPath(new URL("../../../", import.meta.url))

/**
 * Install a package into `dir/node_modules` from this repository's: its dependency closure as Node resolves it
 * (optional native extras left out), hard-linked.
 */
const installInto = (name: string, dir: string): void => {
  const top = new Set<string>()
  const seen = new Set<string>()
  const visit = (pkgDir: string) => {
    if (seen.has(pkgDir)) return
    seen.add(pkgDir)
    const rel = relative(join(root, "node_modules"), pkgDir).split(sep)
    top.add(rel[0]!.startsWith("@") ? `${rel[0]}/${rel[1]}` : rel[0]!)
    const pkg = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8")) as { dependencies?: object }
    for (const dep of Object.keys(pkg.dependencies ?? {})) {
      for (let at = pkgDir; at !== dirname(at); at = dirname(at)) {
        const candidate = join(at, "node_modules", dep)
        if (existsSync(join(candidate, "package.json"))) {
          visit(realpathSync(candidate))
          break
        }
      }
    }
  }
  visit(realpathSync(join(root, "node_modules", name)))
  for (const pkg of top) {
    mkdirSync(dirname(join(dir, "node_modules", pkg)), { recursive: true })
    execFileSync("cp", ["-al", join(root, "node_modules", pkg), join(dir, "node_modules", pkg)])
  }
}
const DAYTONA_KEY = "agents-test-daytona-key"

/** Processes on this host whose environment carries the marker (zombies left out). */
const markedProcesses = (marker: string): Array<number> =>
  readdirSync("/proc").filter((d) => /^\d+$/.test(d)).map(Number).filter((pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
      if (stat.slice(stat.lastIndexOf(")") + 2)[0] === "Z") return false
      return readFileSync(`/proc/${pid}/environ`, "utf8").includes(marker)
    } catch {
      return false
    }
  })

/** Files under `dirs` holding `text`. */
const holders = (text: string, dirs: ReadonlyArray<string>): string => {
  try {
    return execFileSync("grep", ["-rlF", text, ...dirs], { encoding: "utf8" })
  } catch {
    return "" // grep exits 1 when nothing matches
  }
}

export const agentSuite = (scenario: Scenario) => {
  for (const backend of ["local", "daytona"] as const) {
    describe(`${scenario.name} on ${backend}`, () => {
      let cli: Cli
      let emu: Emulator | undefined
      let closeModel: (() => Promise<void>) | undefined
      const env: Record<string, string> = {}

      beforeEach(async () => {
        cli = makeCli()
        cli.write("project/input.txt", "from the host\n")
        cli.write(`host-secret/notes.txt`, `${SECRET_TOKEN}\n`)
        if (backend === "daytona") {
          emu = await startEmulator({ apiKey: DAYTONA_KEY, isolateProcesses: true })
          env["DAYTONA_API_KEY"] = DAYTONA_KEY
        }
      })
      afterEach(async () => {
        await closeModel?.()
        await emu?.close()
        cli.close()
      })

      const configure = async (hang: boolean) => {
        const secretDir = join(cli.tmp, "host-secret")
        const model = await scenario.model({ secretDir, hang })
        closeModel = model.close
        const marker = `agent-test-${Math.random().toString(36).slice(2)}`
        // A registered workspace's config is found from the workspace's own directory: it sits below the file.
        const ws = join(cli.tmp, "cwd", "project")
        mkdirSync(ws, { recursive: true })
        // Under bubblewrap the sandbox sees only the system directories and its runtime: the agent travels in the
        // workspace (hard links: the copy costs nothing here), installed there as a user could, and starts from the
        // runtime's copy. The emulator's sandboxes see the host's tree: there it runs from this repository.
        const modules = backend === "local" ? (installInto(scenario.package, join(ws, ".agent")), ".agent") : root
        const profile = backend === "local"
          // The agent reaches its model over loopback: the network stays shared.
          ? `[sandboxes.box]\nbackend = "local"\nisolation = "bubblewrap"\nnetwork = true\n` +
            `include = [".agent/**"]\n`
          : `[sandboxes.box]\nbackend = "daytona"\n[sandboxes.box.daytona]\napi_url = "${emu!.url}"\n`
        const agentEnv = { ...scenario.env({ url: model.url, local: backend === "local" }), AGENT_TEST_MARKER: marker }
        cli.write(
          "cwd/.sandbox-cli.toml",
          `${profile}\n[agents.agent]\nprotocol = "acp"\ncommand = ${
            JSON.stringify(scenario.command(modules, model.url))
          }\n` +
            `pass_env = [${JSON.stringify(scenario.keyVariable)}]\n[agents.agent.env]\n` +
            Object.entries(agentEnv).map(([k, v]) => `${k} = ${JSON.stringify(v)}\n`).join("")
        )
        json(await cli.run(["workspace", "add", ws, "--name", "proj", "-o", "json"]))
        const key = `sk-test-${Math.random().toString(36).slice(2)}${Date.now()}`
        Object.assign(env, { [scenario.keyVariable]: key })
        return { model, marker, ws, key, secretDir }
      }

      const start = async (prompt: string) => {
        const created = await cli.run(
          [
            "session",
            "new",
            "--workspace",
            "proj",
            "--sandbox",
            "box",
            "--agent",
            "agent",
            "--prompt",
            prompt,
            "-o",
            "json"
          ],
          env
        )
        expect(created.stderr).toBe("")
        return { id: json<{ id: string }>(created).id, stdout: created.stdout }
      }

      it("writes a file and runs a command in the runtime; its own search cannot see the host; the key stays with it", async () => {
        const { key, model, ws } = await configure(false)
        const { id, stdout } = await start("do the scripted task")
        const h = await poll(
          () => history(cli, id, env),
          (h) => h.some((e) => e.kind === "turn_end" || e.kind === "error")
        )
        const end = h.find((e) => e.kind === "turn_end")
        expect(end?.data, JSON.stringify(h.filter((e) => e.kind === "error" || e.kind === "stderr").slice(-5)))
          .toMatchObject({ stop_reason: "end_turn" })
        // The turn and each tool call once.
        expect(h.filter((e) => e.kind === "turn").map((e) => e.text)).toEqual(["do the scripted task"])
        const calls = h.filter((e) => e.kind === "tool_call").map((e) => e.data?.["tool_call_id"])
        expect(calls.length).toBeGreaterThanOrEqual(3)
        expect(new Set(calls).size).toBe(calls.length)
        // Nothing reached the host workspace before the stop; then everything did.
        for (const file of Object.keys(scenario.made)) expect(existsSync(join(ws, file))).toBe(false)
        const stopped = json<{ state: string }>(await cli.run(["session", "stop", id, "-o", "json"], env))
        expect(stopped.state).toBe("stopped")
        const told = () =>
          JSON.stringify(h.filter((e) => !["message", "thought"].includes(e.kind)).map((e) => [e.kind, e.text, e.data]))
        for (const [file, content] of Object.entries(scenario.made)) {
          expect(existsSync(join(ws, file)) ? readFileSync(join(ws, file), "utf8") : told()).toBe(content)
        }
        // The agent's own search tool ran in the runtime, where the host's secret does not exist: under bubblewrap on
        // local, in the emulator's sandbox (its own /tmp over the host's) on Daytona.
        expect(model.seen()).not.toContain(SECRET_TOKEN)
        // The key reached the model (through the agent) and nothing of ours.
        expect(model.keys()).toContain(key)
        const outputs = [
          stdout,
          (await cli.run(["session", "status", id, "-o", "json"], env)).stdout,
          (await cli.run(["session", "events", id, "-o", "json"], env)).stdout,
          (await cli.run(["session", "history", id, "-o", "json"], env)).stdout
        ]
        for (const out of outputs) expect(out).not.toContain(key)
        expect(holders(key, [cli.home, join(cli.tmp, "cwd"), join(cli.tmp, "config")])).toBe("")
      })

      it("a supervisor killed mid-turn leaves no agent process behind after reconcile", async () => {
        const { marker } = await configure(true)
        const { id } = await start("do the scripted task")
        // Mid-turn: the agent has asked the model, which never answers.
        await poll(() => Promise.resolve(markedProcesses(marker)), (p) => p.length > 0)
        await poll(() => history(cli, id, env), (h) => h.some((e) => e.kind === "turn"))
        const lock = JSON.parse(readFileSync(join(cli.home, "supervisors", `${id}.json`), "utf8")) as { pid: number }
        process.kill(lock.pid, "SIGKILL")
        await poll(() => Promise.resolve(existsSync(`/proc/${lock.pid}`)), (alive) => !alive)
        const reconciled = await cli.run(["reconcile", "-o", "json"], env)
        expect(reconciled.code, reconciled.stderr).toBe(0)
        await poll(() => Promise.resolve(markedProcesses(marker)), (p) => p.length === 0, 30_000)
        expect((await status(cli, id, env)).state).not.toBe("running")
      })
    })
  }
}
