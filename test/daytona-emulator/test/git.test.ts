/**
 * The toolbox's git routes through the SDK's `sandbox.git`: a repository made, committed to, branched, cloned
 * and inspected, with the daemon's shapes and error codes.
 */
import type { DaytonaError } from "@daytonaio/sdk"
import { describe, expect, it } from "vitest"
import { parseStatus } from "../src/git.js"
import { raw, useHarness } from "./helpers/harness.js"

const h = useHarness()

describe("git", () => {
  it("init, add, commit, status, history, branches, checkout, clone, remotes, config, reset, restore", async () => {
    const { daytona, emu } = h()
    const sb = await daytona.create({ labels: { app: "git" } })
    const home = (await sb.getUserHomeDir())!
    const repo = `${home}/origin`
    const init = await raw(emu, "POST", `/toolbox/${sb.id}/git/init`, { body: { path: repo, initial_branch: "main" } })
    expect(init.status).toBe(201)
    await sb.fs.uploadFile(Buffer.from("one\n"), `${repo}/a.txt`)
    let status = await sb.git.status(repo)
    expect(status.currentBranch).toBe("main")
    expect(status.fileStatus).toEqual([{ name: "a.txt", staging: "Untracked", worktree: "Untracked", extra: "" }])

    await sb.git.add(repo, ["a.txt"])
    expect((await sb.git.status(repo)).fileStatus[0]).toMatchObject({ staging: "Added", worktree: "Unmodified" })
    const first = await sb.git.commit(repo, "first", "Ada", "ada@example.com")
    expect(first.sha).toMatch(/^[0-9a-f]{40}$/)
    const empty = await sb.git.commit(repo, "again", "Ada", "ada@example.com").catch((e: unknown) => e)
    expect((empty as DaytonaError).statusCode).toBe(400)

    await sb.git.createBranch(repo, "feature")
    expect(((await sb.git.createBranch(repo, "feature").catch((e: unknown) => e)) as DaytonaError).statusCode).toBe(409)
    await sb.git.checkoutBranch(repo, "feature")
    const branches = await sb.git.branches(repo)
    expect(branches.branches.sort()).toEqual(["feature", "main"])
    await sb.fs.uploadFile(Buffer.from("two\n"), `${repo}/a.txt`)
    status = await sb.git.status(repo)
    expect(status).toMatchObject({ currentBranch: "feature", fileStatus: [{ name: "a.txt", worktree: "Modified" }] })
    await sb.git.add(repo, ["."])
    await sb.git.commit(repo, "second\n\nwith a body", "Bob", "bob@example.com")
    const history = await raw(emu, "GET", `/toolbox/${sb.id}/git/history?path=${encodeURIComponent(repo)}`)
    expect((history.json as Array<{ message: string; author: string }>).map((c) => [c.author, c.message])).toEqual([
      ["Bob", "second\n\nwith a body"],
      ["Ada", "first"]
    ])
    await sb.git.checkoutBranch(repo, "main")
    const missing = await sb.git.checkoutBranch(repo, "nope").catch((e: unknown) => e)
    expect((missing as DaytonaError).statusCode).toBe(404)

    const clone = `${home}/clone`
    await sb.git.clone(repo, clone, "feature")
    expect((await sb.fs.downloadFile(`${clone}/a.txt`)).toString()).toBe("two\n")
    const remotes = await raw(emu, "GET", `/toolbox/${sb.id}/git/remotes?path=${encodeURIComponent(clone)}`)
    expect(remotes.json).toEqual({ remotes: [{ name: "origin", url: repo }] })
    expect(await sb.git.status(clone)).toMatchObject({ currentBranch: "feature", upstream: "origin/feature", ahead: 0 })

    // Reset and restore: an unwanted change is unstaged, then dropped.
    await sb.fs.uploadFile(Buffer.from("oops\n"), `${clone}/a.txt`)
    await sb.git.add(clone, ["a.txt"])
    const reset = await raw(emu, "POST", `/toolbox/${sb.id}/git/reset`, { body: { path: clone, files: ["a.txt"] } })
    expect(reset.status).toBe(200)
    expect((await sb.git.status(clone)).fileStatus[0]).toMatchObject({ staging: "Unmodified", worktree: "Modified" })
    await raw(emu, "POST", `/toolbox/${sb.id}/git/restore`, { body: { path: clone, files: ["a.txt"] } })
    expect((await sb.git.status(clone)).fileStatus).toEqual([])

    await raw(emu, "POST", `/toolbox/${sb.id}/git/config/user`, { body: { name: "Cy", email: "cy@example.com" } })
    const name = await raw(emu, "GET", `/toolbox/${sb.id}/git/config?key=user.name`)
    expect(name.json).toEqual({ value: "Cy" })
    expect((await raw(emu, "GET", `/toolbox/${sb.id}/git/config?key=user.nothing`)).json).toEqual({ value: null })
    const notRepo = await raw(emu, "GET", `/toolbox/${sb.id}/git/status?path=${encodeURIComponent(home)}`)
    expect(notRepo.status).toBe(404)
    expect(notRepo.json).toMatchObject({ code: "GIT_REPO_NOT_FOUND" })
    await sb.delete()
  })

  it("reads porcelain status headers as the daemon reports them", () => {
    expect(parseStatus("## main...origin/main [ahead 2, behind 1]\0")).toMatchObject({
      currentBranch: "main",
      upstream: "origin/main",
      ahead: 2,
      behind: 1,
      branchPublished: true
    })
    expect(parseStatus("## No commits yet on trunk\0?? x\0")).toMatchObject({ currentBranch: "trunk", detached: false })
    expect(parseStatus("## HEAD (no branch)\0R  new\0old\0")).toMatchObject({
      detached: true,
      fileStatus: [{ name: "new", staging: "Renamed", worktree: "Unmodified", extra: "old" }]
    })
  })
})
