/**
 * The vendored OpenAPI documents (openapi/README.md) as route tables and response validators. Ajv handles both:
 * OpenAPI 3.0 component schemas (with `nullable`) and Swagger 2.0 definitions, each document registered whole so
 * `#/components/schemas/...` and `#/definitions/...` refs resolve inside it.
 */
import { Ajv } from "ajv"
import type { ValidateFunction } from "ajv"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [k: string]: Json }
type JsonObject = { readonly [k: string]: Json }

const load = (name: string): JsonObject =>
  JSON.parse(readFileSync(fileURLToPath(new URL(`../../openapi/${name}`, import.meta.url)), "utf8")) as JsonObject

const isObj = (v: Json | undefined): v is JsonObject => typeof v === "object" && v !== null && !Array.isArray(v)

/**
 * A copy in which every object schema that lists `properties` forbids others. The published schemas allow extra
 * fields, which would let an emulator invent or misspell fields unnoticed; the emulator must send only real ones.
 */
const closeObjects = (node: Json): Json => {
  if (Array.isArray(node)) return node.map(closeObjects)
  if (!isObj(node)) return node
  const out: Record<string, Json> = {}
  for (const [k, v] of Object.entries(node)) out[k] = closeObjects(v)
  if (isObj(node["properties"]) && node["additionalProperties"] === undefined) out["additionalProperties"] = false
  return out
}

export const apiSpec = load("api.json")
export const toolboxSpec = load("toolbox.json")

const ajv = new Ajv({ strict: false, allErrors: true })
ajv.addFormat("date-time", /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/)
ajv.addSchema(closeObjects(apiSpec) as object, "api")
ajv.addSchema(closeObjects(toolboxSpec) as object, "toolbox")

export type Plane = "api" | "toolbox"

const paths = (plane: Plane): JsonObject => {
  const p = (plane === "api" ? apiSpec : toolboxSpec)["paths"]
  if (!isObj(p)) throw new Error("spec without paths")
  return p
}

/** `/sandbox/{sandboxIdOrName}/start` → `/sandbox/{}/start`: parameter names differ between documents and us. */
export const normalizeTemplate = (template: string): string => template.replace(/\{[^}]+\}/g, "{}")

/** Maps an emulator route template to the spec's plane and path. */
export const specLocation = (template: string): { plane: Plane; path: string } => {
  if (template.startsWith("/api/")) return { plane: "api", path: template.slice("/api".length) }
  const m = /^\/toolbox\/\{[^}]+\}(\/.*)$/.exec(template)
  if (m) return { plane: "toolbox", path: m[1]! }
  throw new Error(`route outside /api and /toolbox: ${template}`)
}

/** The spec operation for an emulator route template, or undefined if the spec lacks it. */
export const specOperation = (plane: Plane, method: string, path: string): JsonObject | undefined => {
  const wanted = normalizeTemplate(path)
  for (const [specPath, item] of Object.entries(paths(plane))) {
    if (normalizeTemplate(specPath) !== wanted || !isObj(item)) continue
    const op = item[method.toLowerCase()]
    if (isObj(op)) return op
  }
  return undefined
}

/** Finds the spec path template that a concrete request path instantiates. */
export const matchSpecPath = (plane: Plane, method: string, concrete: string): string | undefined => {
  const candidates = Object.entries(paths(plane))
    .filter(([, item]) => isObj(item) && isObj(item[method.toLowerCase()]))
    .map(([p]) => p)
  const hits = candidates.filter((p) =>
    new RegExp("^" + p.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\\?\{[^}]+\\?\}/g, "[^/]+") + "$").test(concrete)
  )
  // Prefer the template with the most literal characters (`/sandbox/ssh-access/validate` over `/sandbox/{id}/...`).
  return hits.sort((a, b) => b.replace(/\{[^}]+\}/g, "").length - a.replace(/\{[^}]+\}/g, "").length)[0]
}

const validators = new Map<string, ValidateFunction>()

/** The schema ref of a response: OpenAPI 3 puts it under `content`, Swagger 2 directly under `schema`. */
const responseSchema = (plane: Plane, op: JsonObject, status: number): Json | undefined => {
  const responses = op["responses"]
  if (!isObj(responses)) return undefined
  const r = responses[String(status)] ?? responses["default"]
  if (!isObj(r)) return undefined
  if (plane === "toolbox") return r["schema"]
  const content = r["content"]
  if (!isObj(content)) return undefined
  const json = content["application/json"]
  return isObj(json) ? json["schema"] : undefined
}

/** Rewrites local refs so the schema can be compiled outside its document. */
const rebase = (node: Json, plane: Plane): Json => {
  if (Array.isArray(node)) return node.map((n) => rebase(n, plane))
  if (!isObj(node)) return node
  const out: Record<string, Json> = {}
  for (const [k, v] of Object.entries(node)) {
    out[k] = k === "$ref" && typeof v === "string" && v.startsWith("#/") ? `${plane}${v}` : rebase(v, plane)
  }
  return out
}

export interface Validation {
  readonly specPath: string
  readonly schema: boolean
  readonly errors: string
}

/**
 * Validates a JSON reply against the response schema the spec gives for that method, path and status. Throws if
 * the spec has no such operation; `schema: false` means the spec documents the status without a JSON schema.
 */
export const validateResponse = (
  plane: Plane,
  method: string,
  concretePath: string,
  status: number,
  body: unknown
): Validation => {
  const specPath = matchSpecPath(plane, method, concretePath)
  if (specPath === undefined) throw new Error(`no ${method} ${concretePath} in the ${plane} spec`)
  const op = specOperation(plane, method, specPath)!
  const schema = responseSchema(plane, op, status)
  if (schema === undefined) return { specPath, schema: false, errors: "" }
  const key = `${plane} ${method} ${specPath} ${status}`
  let validate = validators.get(key)
  if (!validate) {
    validate = ajv.compile(closeObjects(rebase(schema, plane)) as object)
    validators.set(key, validate)
  }
  const ok = validate(body)
  return { specPath, schema: true, errors: ok ? "" : ajv.errorsText(validate.errors, { separator: "; " }) }
}

/** Validates a value against a named component schema or definition. */
export const validateNamed = (plane: Plane, name: string, value: unknown): string => {
  const ref = plane === "api" ? `api#/components/schemas/${name}` : `toolbox#/definitions/${name}`
  const validate = ajv.getSchema(ref)
  if (!validate) throw new Error(`no schema ${ref}`)
  return validate(value) ? "" : ajv.errorsText(validate.errors, { separator: "; " })
}

/** The JSON request-body schema of an operation: OpenAPI 3 `requestBody`, Swagger 2 an `in: body` parameter. */
const requestSchema = (plane: Plane, op: JsonObject): Json | undefined => {
  if (plane === "api") {
    const rb = op["requestBody"]
    const content = isObj(rb) ? rb["content"] : undefined
    const json = isObj(content) ? content["application/json"] : undefined
    return isObj(json) ? json["schema"] : undefined
  }
  const params = op["parameters"]
  if (!Array.isArray(params)) return undefined
  const body = params.find((p) => isObj(p) && p["in"] === "body")
  return isObj(body) ? body["schema"] : undefined
}

/**
 * Validates a JSON request body against the operation's request schema, as published (open: a client may send
 * fields the document does not list, but every listed field must have its type and required ones must be there).
 */
export const validateRequest = (plane: Plane, method: string, concretePath: string, body: unknown): Validation => {
  const specPath = matchSpecPath(plane, method, concretePath)
  if (specPath === undefined) throw new Error(`no ${method} ${concretePath} in the ${plane} spec`)
  const op = specOperation(plane, method, specPath)!
  const schema = requestSchema(plane, op)
  if (schema === undefined) return { specPath, schema: false, errors: "" }
  const key = `request ${plane} ${method} ${specPath}`
  let validate = validators.get(key)
  if (!validate) {
    validate = ajv.compile(rebaseOpen(schema, plane) as object)
    validators.set(key, validate)
  }
  const ok = validate(body)
  return { specPath, schema: true, errors: ok ? "" : ajv.errorsText(validate.errors, { separator: "; " }) }
}

/** Like `rebase`, but against the documents as published (open objects), registered under `api-open`. */
const rebaseOpen = (node: Json, plane: Plane): Json => {
  if (Array.isArray(node)) return node.map((n) => rebaseOpen(n, plane))
  if (!isObj(node)) return node
  const out: Record<string, Json> = {}
  for (const [k, v] of Object.entries(node)) {
    out[k] = k === "$ref" && typeof v === "string" && v.startsWith("#/") ? `${plane}-open${v}` : rebaseOpen(v, plane)
  }
  return out
}

ajv.addSchema(apiSpec as object, "api-open")
ajv.addSchema(toolboxSpec as object, "toolbox-open")
