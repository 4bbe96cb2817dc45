import { NodeContext } from "@effect/platform-node"
import { describe, expect, it, layer } from "@effect/vitest"
import { Chunk, Effect, Either, Exit, Schema, Scope, Stream } from "effect"
import * as Ids from "../src/Ids.js"
import * as Profile from "../src/Profile.js"
import { fromPromiseProvider } from "../src/PromiseAdapter.js"
import { type PromiseInstance, type PromiseProvider, PromiseProviderError } from "../src/PromiseProvider.js"
import * as ProviderRegistry from "../src/ProviderRegistry.js"
import { ConfigError, ProviderError, UsageError } from "../src/SandboxError.js"
import { type CreateSpec, Instance } from "../src/SandboxProvider.js"

/** A tiny Promise-form provider that keeps instances and their files in maps. */
const memoryProvider = (options: { readonly capabilities?: PromiseProvider["capabilities"] } = {}) => {
  const instances = new Map<string, PromiseInstance>()
  const files = new Map<string, Uint8Array>()
  const calls: Array<string> = []
  let next = 1
  const find = (id: string) => {
    const found = instances.get(id)
    if (!found) throw new PromiseProviderError("NotFound", `no instance ${id}`)
    return found
  }
  const provider: PromiseProvider = {
    name: "memory",
    contract_version: 1,
    capabilities: options.capabilities ?? { exec: true, fs: true, labels: true },
    async create(spec) {
      calls.push("create")
      const instance: PromiseInstance = {
        instance_id: `mem-${next++}`,
        state: "running",
        provider_state_name: "UP",
        labels: { ...spec.labels },
        workdir: "/work",
        provider_state: null
      }
      instances.set(instance.instance_id, instance)
      return instance
    },
    async get(id) {
      calls.push("get")
      return find(id)
    },
    async list(filter) {
      return [...instances.values()].filter((i) => Object.entries(filter.labels).every(([k, v]) => i.labels[k] === v))
    },
    async start(i) {
      return { ...find(i.instance_id), state: "running" }
    },
    async stop(i) {
      return { ...find(i.instance_id), state: "stopped" }
    },
    async archive(i) {
      calls.push("archive")
      return { ...find(i.instance_id), state: "archived" }
    },
    async destroy(i) {
      instances.delete(i.instance_id)
    },
    async exec(_i, request) {
      if (request.argv?.[0] === "crash") throw new Error("socket hang up")
      if (request.argv?.[0] === "slow-down") throw new PromiseProviderError("RateLimited", "too many requests", 1500)
      return { exit_code: 0, stdout: (request.argv ?? []).join(" "), stderr: "" }
    },
    async readFile(i, path) {
      const data = files.get(`${i.instance_id}:${path}`)
      if (!data) throw new PromiseProviderError("NotFound", `no file ${path}`)
      return data
    },
    async writeFile(i, path, data) {
      files.set(`${i.instance_id}:${path}`, data)
    },
    async stat(_i, path) {
      return { path, kind: "file", size: 0, mode: 0o644, mtime_ms: 0 }
    },
    async listDir() {
      return []
    },
    async remove() {},
    async mkdir() {}
  }
  return { provider, instances, calls }
}

const spec: CreateSpec = {
  sandbox_id: Ids.SandboxId.make("sbx_0000000000aaaaaaaaaaa"),
  session_id: Ids.SessionId.make("ses_0000000000aaaaaaaaaaa"),
  workspace: "w",
  owner: "me",
  profile: Profile.builtinLocal,
  labels: { "managed-by": "sandbox-cli", workspace: "w" },
  env: {}
}

describe("fromPromiseProvider", () => {
  it.effect("adapts the operations and decodes instances", () =>
    Effect.gen(function*() {
      const { provider } = memoryProvider()
      const service = fromPromiseProvider(provider)
      expect(service.name).toBe("memory")
      expect(service.contract_version).toBe(1)
      expect(service.capabilities.exec).toBe(true)
      expect(service.capabilities.archive).toBe(false)
      expect(service.capabilities.idle_model).toBe("none")
      const created = yield* service.create(spec)
      expect(created).toBeInstanceOf(Instance)
      expect(created.instance_id).toBe("mem-1")
      const stopped = yield* service.stop(created)
      expect(stopped.state).toBe("stopped")
      const listed = yield* Stream.runCollect(service.list({ labels: { workspace: "w" } }))
      expect(Chunk.toReadonlyArray(listed).map((i) => i.instance_id)).toEqual(["mem-1"])
      yield* service.writeFile(created, "a.txt", new TextEncoder().encode("hi"))
      expect(new TextDecoder().decode(yield* service.readFile(created, "a.txt"))).toBe("hi")
      expect(yield* service.exec(created, { argv: ["echo", "x"] })).toEqual({
        exit_code: 0,
        stdout: "echo x",
        stderr: ""
      })
    }))

  it.effect("a thrown PromiseProviderError keeps its reason", () =>
    Effect.gen(function*() {
      const service = fromPromiseProvider(memoryProvider().provider)
      const error = yield* Effect.flip(service.get("mem-404"))
      expect(error).toBeInstanceOf(ProviderError)
      expect(error).toMatchObject({
        provider: "memory",
        operation: "get",
        reason: "NotFound",
        retryable: false,
        instance_id: "mem-404",
        detail: "no instance mem-404"
      })
      expect(error.message).toBe("memory: get on mem-404 failed (NotFound): no instance mem-404")
    }))

  it.effect("a thrown RateLimited error is retryable and keeps retry_after_ms", () =>
    Effect.gen(function*() {
      const service = fromPromiseProvider(memoryProvider().provider)
      const instance = yield* service.create(spec)
      const error = yield* Effect.flip(service.exec(instance, { argv: ["slow-down"] }))
      expect(error).toMatchObject({ reason: "RateLimited", retryable: true, retry_after_ms: 1500, operation: "exec" })
    }))

  it.effect("a plain thrown Error becomes Unknown", () =>
    Effect.gen(function*() {
      const service = fromPromiseProvider(memoryProvider().provider)
      const instance = yield* service.create(spec)
      const error = yield* Effect.flip(service.exec(instance, { argv: ["crash"] }))
      expect(error).toMatchObject({
        provider: "memory",
        operation: "exec",
        reason: "Unknown",
        retryable: false,
        detail: "socket hang up",
        instance_id: "mem-1"
      })
    }))

  it.effect("an undeclared capability fails with Unsupported without calling the provider", () =>
    Effect.gen(function*() {
      const { calls, provider } = memoryProvider()
      const service = fromPromiseProvider(provider)
      const instance = yield* service.create(spec)
      const error = yield* Effect.flip(service.archive(instance))
      expect(error).toMatchObject({ reason: "Unsupported", operation: "archive", retryable: false })
      expect(calls).not.toContain("archive")
      const streamError = yield* Effect.flip(Stream.runDrain(service.execStream(instance, { argv: ["ls"] })))
      expect(streamError).toMatchObject({ reason: "Unsupported", operation: "execStream" })
      const putError = yield* Effect.flip(
        service.putArchive(instance, { archive_path: "/tmp/a.tar", format: "tar", dest: "." })
      )
      expect(putError).toMatchObject({ reason: "Unsupported", operation: "putArchive" })
    }))

  it.effect("a declared capability with an implementation is called", () =>
    Effect.gen(function*() {
      const { calls, provider } = memoryProvider({ capabilities: { exec: true, archive: true } })
      const service = fromPromiseProvider(provider)
      const instance = yield* service.create(spec)
      const archived = yield* service.archive(instance)
      expect(archived.state).toBe("archived")
      expect(calls).toContain("archive")
    }))

  it.effect("an invalid instance from the provider becomes Unknown", () =>
    Effect.gen(function*() {
      const { provider } = memoryProvider()
      const service = fromPromiseProvider({
        ...provider,
        get: async () => ({ instance_id: "x", state: "exploded" }) as unknown as PromiseInstance
      })
      const error = yield* Effect.flip(service.get("x"))
      expect(error.reason).toBe("Unknown")
      expect(error.detail).toMatch(/^returned an invalid instance: /)
    }))
})

const promiseModule = (contract_version: number, onClose?: () => Promise<void>) => ({
  backend: "memory",
  contract_version,
  provider: async () => ({ ...memoryProvider().provider, ...(onClose ? { close: onClose } : {}) })
})

describe("ProviderRegistry.definitionFromModule", () => {
  it.effect("refuses another contract version with a ConfigError", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(ProviderRegistry.definitionFromModule(promiseModule(2), "@acme/sandbox-memory"))
      expect(error).toBeInstanceOf(ConfigError)
      expect(error).toMatchObject({
        file: "<providers>",
        key_path: "providers.@acme/sandbox-memory",
        got: "a provider for contract version 2",
        hint: "this sandbox-cli speaks contract version 1"
      })
    }))

  it.effect("refuses a module without a provider", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        ProviderRegistry.definitionFromModule({ default: { backend: "x", contract_version: 1 } }, "./x.js")
      )
      expect(error).toMatchObject({ key_path: "providers../x.js", got: "neither make nor provider" })
    }))

  it.effect("accepts an Effect-form module as is", () =>
    Effect.gen(function*() {
      const definition = {
        name: "fx",
        contract_version: 1,
        configSchema: Schema.Struct({}),
        make: () => Effect.dieMessage("unused")
      }
      expect(yield* ProviderRegistry.definitionFromModule({ definition }, "built-in")).toBe(definition)
      expect(yield* ProviderRegistry.definitionFromModule({ default: definition }, "built-in")).toBe(definition)
    }))

  layer(NodeContext.layer)((it) => {
    it.effect("accepts a Promise-form module and builds a working provider, closed with its scope", () =>
      Effect.gen(function*() {
        let closed = 0
        const definition = yield* ProviderRegistry.definitionFromModule(
          promiseModule(1, async () => {
            closed++
          }),
          "@acme/sandbox-memory"
        )
        expect(definition.name).toBe("memory")
        expect(definition.contract_version).toBe(1)
        // no configSchema: any table is accepted
        expect(yield* ProviderRegistry.decodeTable(definition, { region: "eu" })).toEqual({ region: "eu" })
        const scope = yield* Scope.make()
        const service = yield* definition.make({ profile: Profile.builtinLocal }).pipe(Scope.extend(scope))
        const instance = yield* service.create(spec)
        expect((yield* service.get(instance.instance_id)).instance_id).toBe("mem-1")
        expect(closed).toBe(0)
        yield* Scope.close(scope, Exit.void)
        expect(closed).toBe(1)
      }))

    it.effect("a Promise-form provider whose close rejects does not break scope closing", () =>
      Effect.gen(function*() {
        const definition = yield* ProviderRegistry.definitionFromModule(
          promiseModule(1, () => Promise.reject(new Error("close failed"))),
          "@acme/sandbox-memory"
        )
        const scope = yield* Scope.make()
        yield* definition.make({ profile: Profile.builtinLocal }).pipe(Scope.extend(scope))
        const exit = yield* Effect.exit(Scope.close(scope, Exit.void))
        expect(Exit.isSuccess(exit)).toBe(true)
      }))

    it.effect("a Promise-form configSchema that is an Effect Schema validates backend tables", () =>
      Effect.gen(function*() {
        const definition = yield* ProviderRegistry.definitionFromModule(
          { ...promiseModule(1), configSchema: Schema.Struct({ region: Schema.optional(Schema.String) }) },
          "@acme/sandbox-memory"
        )
        expect(yield* ProviderRegistry.decodeTable(definition, { region: "eu" })).toEqual({ region: "eu" })
        const refused = yield* Effect.either(ProviderRegistry.decodeTable(definition, { regoin: "eu" }))
        expect(Either.isLeft(refused)).toBe(true)
      }))
  })
})

describe("ProviderRegistry.make", () => {
  it.effect("loads a backend lazily and at most once", () =>
    Effect.gen(function*() {
      const loads: Array<string> = []
      const registry = ProviderRegistry.make([
        {
          name: "memory",
          source: "@acme/sandbox-memory",
          load: async () => {
            loads.push("memory")
            return promiseModule(1)
          }
        },
        {
          name: "heavy",
          source: "@acme/heavy",
          load: async () => {
            loads.push("heavy")
            return promiseModule(1)
          }
        }
      ])
      expect(loads).toEqual([])
      const first = yield* registry.get("memory")
      const second = yield* registry.get("memory")
      expect(first).toBe(second)
      expect(loads).toEqual(["memory"])
    }))

  it.effect("an unknown backend is a UsageError listing the known ones", () =>
    Effect.gen(function*() {
      const registry = ProviderRegistry.make([{ name: "memory", source: "x", load: async () => promiseModule(1) }])
      const error = yield* Effect.flip(registry.get("e2b"))
      expect(error).toBeInstanceOf(UsageError)
      expect(error.message).toBe(`unknown backend "e2b" (known: memory; add others under [providers])`)
    }))

  it.effect("a module that fails to load, or is built for another contract, is a ConfigError", () =>
    Effect.gen(function*() {
      const registry = ProviderRegistry.make([
        { name: "broken", source: "@acme/broken", load: () => Promise.reject(new Error("Cannot find module")) },
        { name: "future", source: "@acme/future", load: async () => promiseModule(2) }
      ])
      expect(yield* Effect.flip(registry.get("broken"))).toMatchObject({
        _tag: "ConfigError",
        key_path: "providers.broken",
        got: "a module that failed to load: Cannot find module"
      })
      expect(yield* Effect.flip(registry.get("future"))).toMatchObject({
        _tag: "ConfigError",
        got: "a provider for contract version 2"
      })
    }))

  it.effect("a load error is one line naming the config file and line, and a missing package says to install it", () =>
    Effect.gen(function*() {
      const missing = Object.assign(new Error("Cannot find package '@acme/gone'\nRequire stack:\n- /x/noop.js"), {
        code: "ERR_MODULE_NOT_FOUND"
      })
      const registry = ProviderRegistry.make([
        {
          name: "gone",
          source: "@acme/gone",
          file: "/p/.sandbox-cli.toml",
          line: 7,
          load: () => Promise.reject(missing)
        }
      ])
      const error = yield* Effect.flip(registry.get("gone"))
      expect(error.message).toBe(
        "/p/.sandbox-cli.toml:7: key providers.gone: expected a sandbox-cli provider module at \"@acme/gone\", " +
          "got a module that failed to load: Cannot find package '@acme/gone' " +
          "(install it beside the config file: npm install @acme/gone)"
      )
      expect(error.message).not.toContain("\n")
    }))
})
