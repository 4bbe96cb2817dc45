#!/usr/bin/env node
// The one place the repository URL is set: `node scripts/set-repository.mjs <git URL>` writes
// `repository: { type: "git", url, directory }` into every published workspace's package.json (and the root's).
// Until the project has a public URL, published packages carry only their `directory`: no URL is claimed.
import { readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const url = process.argv[2]
if (url === undefined || !/^(git\+)?https:\/\/\S+$/.test(url)) {
  process.stderr.write("usage: node scripts/set-repository.mjs https://<host>/<owner>/<repo>.git\n")
  process.exit(2)
}
const root = process.env["SANDBOX_CLI_REPO_ROOT"] ?? fileURLToPath(new URL("..", import.meta.url))
const read = (dir) => JSON.parse(readFileSync(join(root, dir, "package.json"), "utf8"))
const write = (dir, manifest) =>
  writeFileSync(join(root, dir, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`)

const { workspaces } = read(".")
const published = []
for (const pattern of workspaces) {
  const parent = pattern.slice(0, -2)
  const dirs = pattern.endsWith("/*") ? readdirSync(join(root, parent)).map((d) => `${parent}/${d}`) : [pattern]
  for (const dir of dirs) {
    let manifest
    try {
      manifest = read(dir)
    } catch {
      continue
    }
    if (manifest.private) continue
    write(dir, { ...manifest, repository: { type: "git", url, directory: dir } })
    published.push(manifest.name)
  }
}
write(".", { ...read("."), repository: { type: "git", url } })
process.stdout.write(`repository ${url} set in ${published.join(", ")}\n`)
