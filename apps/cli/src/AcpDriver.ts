/**
 * The ACP client as the session lifecycle's agent driver. `@org/sandbox-acp` (and the ACP SDK under it) is
 * imported only when an ACP agent starts, so no other command pays for loading it.
 */
import * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Agent from "@org/sandbox-core/Agent"
import type * as AgentDriver from "@org/sandbox-core/AgentDriver"
import { HistoryEntry } from "@org/sandbox-core/History"
import { ExecError, UsageError } from "@org/sandbox-core/SandboxError"
import { Label } from "@org/sandbox-core/SandboxProvider"
import { DateTime, Effect, Option } from "effect"
import * as AgentReaper from "./AgentReaper.js"
import * as AgentSessions from "./AgentSessions.js"

/** A permission question as the relay carries it, and the chosen option id (none: cancelled). */
export type Ask = (request: {
  readonly tool_call_id: string
  readonly title: string
  readonly kind: string | null
  readonly input: unknown
  readonly options: ReadonlyArray<{ readonly option_id: string; readonly name: string; readonly kind: string }>
}) => Effect.Effect<Option.Option<string>>

/** `ask`: where `permissions = "ask"` questions go; absent when no terminal is attached to the session. */
export const make = (ask?: Ask) =>
  Effect.gen(function*() {
    const executor = yield* CommandExecutor.CommandExecutor
    const fs = yield* FileSystem.FileSystem
    const driver: AgentDriver.AgentDriver = {
      start: (options) =>
        Effect.gen(function*() {
          const [AcpClient, AgentProcess] = yield* Effect.promise(() =>
            Promise.all([import("@org/sandbox-acp/AcpClient"), import("@org/sandbox-acp/AgentProcess")])
          )
          const { agent, instance, profile, provider } = options
          const permissions = profile.permissions ?? "allow-in-sandbox"
          if (permissions === "ask" && ask === undefined) {
            // The supervisor runs detached: it can ask only through a terminal that `session new --attach` holds.
            return yield* new UsageError({
              detail:
                `profile ${profile.name} has permissions = "ask", which needs a terminal attached: start the session with \`session new --attach\` from a terminal, or use "allow-in-sandbox" or "deny"`
            })
          }
          const location = Agent.locationOf(profile)
          if (location === "sandbox" && !AgentProcess.canRunInSandbox(provider)) {
            // Never a silent fallback to the host: that would run the agent's own tools uncontained.
            return yield* new UsageError({
              detail:
                `the ${provider.name} backend cannot run agent ${agent.name} inside the sandbox (it offers no stdio stream both ways); set agent_location = "host" in profile ${profile.name} to run it unsandboxed on the host`
            })
          }
          if (location === "host") {
            yield* options.onHistory(
              HistoryEntry.make({ at: yield* DateTime.now, kind: "note", text: Agent.hostWarning(agent.name) })
            )
          }
          // Credentials named by pass_env: read from this process's environment now, handed to the agent process only.
          const passed = Agent.passedEnv(agent, (name) => process.env[name])
          if (passed._tag === "Left") {
            return yield* new UsageError({
              detail: `agent ${agent.name} has pass_env = [${
                agent.pass_env.map((n) => JSON.stringify(n)).join(", ")
              }], and ${passed.missing} is not set in the environment that started the session`
            })
          }
          // A host-side agent works in the sandbox's directory when the runtime is one on this machine (any provider
          // with hostPath: local, or a third party's); of a remote sandbox it gets an empty directory, never the host
          // workspace.
          const hostCwd = provider.hostPath !== undefined
            ? yield* provider.hostPath(instance).pipe(Effect.mapError(toExecError(agent.name)))
            : yield* fs.makeTempDirectoryScoped({ prefix: "sandbox-cli-acp-" }).pipe(Effect.orDie)
          // A sandbox kept for reuse continues the agent session it had, where the agent can.
          const resume = profile.persistence === "reuse"
            ? yield* AgentSessions.lastFor(instance.instance_id, agent.name)
            : Option.none()
          const session = yield* AcpClient.start({
            agent: agent.name,
            command: agent.command,
            env: { ...agent.env, ...passed.env },
            provider,
            instance,
            location,
            hostCwd,
            sandboxEnv: options.env,
            permissions,
            ...(ask !== undefined ? { ask } : {}),
            onHistory: options.onHistory,
            onEvent: options.onEvent,
            ...(Option.isSome(resume) ? { resume: resume.value } : {})
          }).pipe(Effect.mapError(toExecError(agent.name)))
          if (profile.persistence === "reuse") {
            yield* AgentSessions.keep(instance.instance_id, agent.name, session.session_id)
          }
          const sessionId = instance.labels[Label.sessionId]
          if (session.pid !== null && sessionId !== undefined) {
            yield* AgentReaper.record(sessionId, agent.name, session.pid)
          }
          const connection: AgentDriver.AgentConnection = {
            location: session.location,
            prompt: (text) => Effect.mapError(session.prompt(text), toExecError(agent.name)),
            exited: session.exited
          }
          return connection
        }).pipe(Effect.provideService(CommandExecutor.CommandExecutor, executor))
    }
    return driver
  })

const toExecError =
  (name: string) =>
  (e: { readonly reason: string; readonly message: string; readonly exit_code?: number | null | undefined }) => {
    const prefix = `agent ${name}: `
    return new ExecError({
      command: `agent ${name}`,
      reason: e.reason === "Spawn" ? "Spawn" : "Failed",
      ...(e.exit_code !== undefined && e.exit_code !== null ? { exit_code: e.exit_code } : {}),
      detail: e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message
    })
  }
