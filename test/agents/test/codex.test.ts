/**
 * Codex's ACP adapter (@zed-industries/codex-acp, pinned; its prebuilt binary ships in the npm package) against a
 * scripted OpenAI Responses API. Codex's own sandbox is switched off: the sandbox around it is ours.
 */
import { startFakeOpenAI } from "./fakeOpenAI.js"
import { agentSuite } from "./suite.js"

agentSuite({
  name: "codex-acp",
  keyVariable: "OPENAI_API_KEY",
  made: { "from-codex.txt": "written by codex\n", "ran-by-codex.txt": "written by codex\n" },
  package: "@zed-industries/codex-acp-linux-x64",
  model: async ({ hang, secretDir }) => {
    const model = await startFakeOpenAI(
      hang ? [{ hang: true }] : [
        { call: "exec_command", args: { cmd: "printf 'written by codex\\n' > from-codex.txt" } },
        { call: "exec_command", args: { cmd: "cat from-codex.txt > ran-by-codex.txt" } },
        // Its own shell, which runs wherever the agent runs.
        { call: "exec_command", args: { cmd: `grep -r TOKEN ${secretDir}` } },
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
  command: (modules, url) => [
    `${modules}/node_modules/@zed-industries/codex-acp-linux-x64/bin/codex-acp`,
    "-c",
    `model_provider="fake"`,
    "-c",
    `model_providers.fake={name="fake",base_url="${url}/v1",env_key="OPENAI_API_KEY",wire_api="responses"}`,
    "-c",
    `model="gpt-5"`,
    "-c",
    `sandbox_mode="danger-full-access"`,
    "-c",
    `approval_policy="never"`
  ],
  env: () => ({})
})
