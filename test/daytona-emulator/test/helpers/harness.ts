/**
 * Per-file test harness: one emulator and one real SDK client, both torn down after the file (the client disposed
 * with `Symbol.asyncDispose`, as the provider must), plus a raw HTTP helper for wire-level checks.
 */
import { Daytona } from "@daytonaio/sdk"
import { afterAll, beforeAll } from "vitest"
import { startEmulator } from "../../src/index.js"
import type { Emulator, EmulatorOptions } from "../../src/index.js"

export const API_KEY = "emulator-test-key"

export interface Harness {
  readonly emu: Emulator
  readonly daytona: Daytona
}

export const newClient = (emu: Emulator, apiKey = API_KEY): Daytona =>
  new Daytona({ apiKey, apiUrl: emu.url, target: "us" })

/** Runs `f` with a fresh client and always disposes it (otherwise Socket.IO timers keep the worker alive). */
export const withClient = async <A>(emu: Emulator, f: (d: Daytona) => Promise<A>, apiKey = API_KEY): Promise<A> => {
  const d = newClient(emu, apiKey)
  try {
    return await f(d)
  } finally {
    await d[Symbol.asyncDispose]()
  }
}

export const useHarness = (options: Omit<EmulatorOptions, "apiKey"> = {}): () => Harness => {
  let harness: Harness | undefined
  beforeAll(async () => {
    const emu = await startEmulator({ apiKey: API_KEY, ...options })
    harness = { emu, daytona: newClient(emu) }
  })
  afterAll(async () => {
    if (!harness) return
    await harness.daytona[Symbol.asyncDispose]()
    await harness.emu.close()
  })
  return () => {
    if (!harness) throw new Error("harness not started")
    return harness
  }
}

export interface RawReply {
  readonly status: number
  readonly headers: Headers
  readonly text: string
  readonly json: unknown
}

/** A plain fetch against the emulator origin; `path` includes `/api` or `/toolbox/{id}`. */
export const raw = async (
  emu: Emulator,
  method: string,
  path: string,
  options: { readonly body?: unknown; readonly apiKey?: string | null } = {}
): Promise<RawReply> => {
  const origin = emu.url.slice(0, -"/api".length)
  const headers: Record<string, string> = {}
  if (options.apiKey !== null) headers["Authorization"] = `Bearer ${options.apiKey ?? API_KEY}`
  if (options.body !== undefined) headers["Content-Type"] = "application/json"
  const res = await fetch(origin + path, {
    method,
    headers,
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {})
  })
  const text = await res.text()
  let json: unknown = undefined
  try {
    json = text === "" ? undefined : JSON.parse(text)
  } catch {
    json = undefined
  }
  return { status: res.status, headers: res.headers, text, json }
}
