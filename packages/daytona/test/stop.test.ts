/**
 * A streamed command stopped before its end gets the signal its caller asks for (SIGTERM, or SIGINT for a Ctrl-C)
 * and its grace to clean up, then SIGKILL, as a process group on the host does: the daemon has no signal call, so
 * the provider signals the command's processes itself.
 */
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import type { ExecRequest, Instance, Service, StopRequest } from "@org/sandbox-core/SandboxProvider"
import { Duration, Effect, Stream } from "effect"
import { makeProvider, spec, useEmulator } from "./helpers.js"

const emulator = useEmulator({ isolateProcesses: true })

const decoder = new TextDecoder()

/** Run `shell` until it prints `ready`, then stop it as asked; what it printed is returned. */
const runUntilReady = (provider: Service, instance: Instance, shell: string, stop: StopRequest) => {
  let out = ""
  const request: ExecRequest = { shell, stop: Effect.succeed(stop) }
  return provider.execStream(instance, request).pipe(
    Stream.takeUntil((chunk) => {
      if (chunk._tag === "Stdout") out += decoder.decode(chunk.data)
      return out.includes("ready")
    }),
    Stream.runDrain,
    Effect.as(out)
  )
}

const text = (provider: Service, instance: Instance, path: string) =>
  Effect.map(provider.readFile(instance, path), (b) => decoder.decode(b))

describe("stopping a streamed command", () => {
  it.scopedLive("its trap runs on SIGTERM, or SIGINT when asked, within the grace", () =>
    Effect.gen(function*() {
      const provider = yield* makeProvider(emulator())
      const instance = yield* provider.create(spec())
      const trapping = (file: string) =>
        `trap 'sleep 1; echo term > ${file}; exit 0' TERM; trap 'sleep 1; echo int > ${file}; exit 0' INT; ` +
        `echo ready; while :; do sleep 0.1; done`
      yield* runUntilReady(provider, instance, trapping("a.txt"), { signal: "SIGTERM", grace: Duration.seconds(20) })
      // the stop waited for the trap: its file is there as soon as the stream has ended
      expect(yield* text(provider, instance, "a.txt")).toBe("term\n")
      yield* runUntilReady(provider, instance, trapping("b.txt"), { signal: "SIGINT", grace: Duration.seconds(20) })
      expect(yield* text(provider, instance, "b.txt")).toBe("int\n")
      yield* provider.destroy(instance)
    }).pipe(Effect.provide(NodeContext.layer)), 120_000)

  it.scopedLive("a command that ignores its signal is killed once the grace is over", () =>
    Effect.gen(function*() {
      const provider = yield* makeProvider(emulator())
      const instance = yield* provider.create(spec())
      yield* runUntilReady(
        provider,
        instance,
        `trap '' TERM; echo ready; n=0; while :; do n=$((n+1)); echo $n > beat.txt; sleep 0.1; done`,
        { signal: "SIGTERM", grace: Duration.seconds(1) }
      )
      const first = yield* text(provider, instance, "beat.txt")
      yield* Effect.sleep("600 millis")
      expect(yield* text(provider, instance, "beat.txt")).toBe(first)
      yield* provider.destroy(instance)
    }).pipe(Effect.provide(NodeContext.layer)), 120_000)
})
