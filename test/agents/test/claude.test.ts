/**
 * Claude Code's ACP adapter (@zed-industries/claude-code-acp, pinned) against a scripted Anthropic Messages API.
 */
import { startFakeAnthropic } from "./fakeAnthropic.js"
import { agentSuite } from "./suite.js"

agentSuite({
  name: "claude-code-acp",
  keyVariable: "ANTHROPIC_API_KEY",
  made: { "from-claude.txt": "written by claude\n", "ran-by-claude.txt": "written by claude\n" },
  model: async ({ hang, secretDir }) => {
    const model = await startFakeAnthropic(
      hang ? [{ hang: true }] : [
        // Its ACP tools: the file goes through fs/write_text_file, the command through a terminal.
        {
          tool: "mcp__acp__Write",
          input: (cwd) => ({ file_path: `${cwd}/from-claude.txt`, content: "written by claude\n" })
        },
        {
          tool: "mcp__acp__Bash",
          input: () => ({ command: "cat from-claude.txt > ran-by-claude.txt", description: "Copy", timeout: 60000 })
        },
        // Its own search tool, which runs wherever the agent runs.
        { tool: "Grep", input: () => ({ pattern: "TOKEN-[0-9]+", path: secretDir, output_mode: "content" }) },
        { text: "done" }
      ]
    )
    return {
      url: model.url,
      seen: () => JSON.stringify(model.requests),
      keys: () => model.keys,
      close: model.close
    }
  },
  package: "@zed-industries/claude-code-acp",
  command: (modules) => [process.execPath, `${modules}/node_modules/@zed-industries/claude-code-acp/dist/index.js`],
  env: ({ url }) => ({
    ANTHROPIC_BASE_URL: url,
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    DISABLE_AUTOUPDATER: "1"
  })
})
