import { describe, expect, it } from "@effect/vitest"
import { builtinLocal, Profile } from "../src/Profile.js"
import * as Redaction from "../src/Redaction.js"

describe("Redaction", () => {
  it("removes the userinfo of every URL in a text and nothing else", () => {
    expect(Redaction.urls("https://alice:tok@daytona.example/api")).toBe("https://***@daytona.example/api")
    expect(Redaction.urls("https://tok@h")).toBe("https://***@h")
    expect(Redaction.urls("git clone http://u:p@ss@git.example/r.git && curl ftp://x:y@z/")).toBe(
      "git clone http://***@git.example/r.git && curl ftp://***@z/"
    )
    for (const plain of ["https://app.daytona.io/api", "https://h/a@b", "https://h?q=u@v", "mail me@example.com"]) {
      expect(Redaction.urls(plain)).toBe(plain)
    }
  })

  it("a profile for display keeps no credentials in its backend table, setup or env", () => {
    const p = Profile.make({
      ...builtinLocal,
      setup: ["git clone https://u:s3cret@git.example/r.git", ["curl", "https://s3cret@x.example"]],
      env: { MIRROR: "https://u:s3cret@m.example" },
      backend_config: { api_url: "https://u:s3cret@d.example/api", nested: { urls: ["http://s3cret@n"] }, n: 1 }
    })
    const shown = Redaction.profile(p)
    expect(JSON.stringify(shown)).not.toContain("s3cret")
    expect(shown.backend_config).toEqual({
      api_url: "https://***@d.example/api",
      nested: { urls: ["http://***@n"] },
      n: 1
    })
    expect(shown.name).toBe(p.name)
  })
})
