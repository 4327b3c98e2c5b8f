/** `jit mcp config --client X -- SERVER ARGS`: the snippet that runs another BigQuery MCP server under `jit proxy --`. */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { clientSnippet, jitLaunch } from "../../src/mcp/config-snippet.ts";
import { JIT_BIN, runJit, userEnv } from "../e2e/harness.ts";

describe("jit mcp config for a server under jit proxy", () => {
  test("the launch line is jit proxy [--broker URL] -- SERVER ARGS, named bigquery-via-jit", () => {
    const launch = jitLaunch({ nodePath: "/n", binPath: "/b", broker: "https://jit.example.com", proxied: ["npx", "-y", "@toolbox-sdk/server", "--stdio"] });
    assert.deepEqual(launch, { name: "bigquery-via-jit", command: "/n", args: ["/b", "proxy", "--broker", "https://jit.example.com", "--", "npx", "-y", "@toolbox-sdk/server", "--stdio"] });
    const cursor = clientSnippet("cursor", launch).config as { mcpServers: Record<string, { args: string[] }> };
    assert.deepEqual(Object.keys(cursor.mcpServers), ["bigquery-via-jit"]);
    assert.equal(
      clientSnippet("claude-code", { ...launch, env: { JIT_CREDENTIAL_STORE: "file" } }).command_line,
      "claude mcp add bigquery-via-jit --env JIT_CREDENTIAL_STORE=file -- /n /b proxy --broker https://jit.example.com -- npx -y @toolbox-sdk/server --stdio",
      "the name comes before --env, which swallows the next word",
    );
  });

  test("through the binary", async () => {
    const home = mkdtempSync(join(tmpdir(), "jit-mcp-config-"));
    try {
      const r = await runJit(["mcp", "config", "--client", "vscode", "--", "toolbox", "--config", "tools.yaml", "--stdio"], userEnv(home, undefined));
      assert.equal(r.code, 0, r.stderr);
      const cfg = JSON.parse(r.stdout) as { servers: Record<string, { type: string; args: string[] }> };
      assert.equal(cfg.servers["bigquery-via-jit"]!.type, "stdio");
      assert.deepEqual(cfg.servers["bigquery-via-jit"]!.args, [JIT_BIN, "proxy", "--", "toolbox", "--config", "tools.yaml", "--stdio"]);
      assert.match(r.stderr, /BIGQUERY_EMULATOR_HOST/);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
