/** Pure parts of jit mcp: the single-flight token supply, the client config snippets, header sanitising. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { clientSnippet, jitLaunch, shellWord } from "../../src/mcp/config-snippet.ts";
import { headerSafe } from "../../src/mcp/server.ts";
import { singleFlight } from "../../src/mcp/token.ts";

describe("singleFlight", () => {
  test("concurrent callers share one call; the next caller after it settles starts a new one", async () => {
    let calls = 0;
    let release!: () => void;
    const get = singleFlight(() => new Promise<number>((resolve) => {
      calls++;
      release = () => resolve(calls);
    }));
    const both = Promise.all([get(), get(), get()]);
    release();
    assert.deepEqual(await both, [1, 1, 1]);
    const next = get();
    release();
    assert.equal(await next, 2);
  });

  test("a failure reaches every waiting caller and is not remembered", async () => {
    let fail = true;
    const get = singleFlight(async () => {
      if (fail) throw new Error("refresh failed");
      return "token";
    });
    const results = await Promise.allSettled([get(), get()]);
    assert.deepEqual(results.map((r) => r.status), ["rejected", "rejected"]);
    fail = false;
    assert.equal(await get(), "token");
  });
});

describe("config snippets", () => {
  const launch = jitLaunch({ nodePath: "/opt/node 24/bin/node", binPath: "/opt/jit/bin/jit.js", env: { JIT_CREDENTIAL_STORE: "file", HOME: "/home/x" } });

  test("node and bin/jit.js absolute, only jit's non-secret settings passed as env", () => {
    assert.deepEqual(launch, { name: "jit", command: "/opt/node 24/bin/node", args: ["/opt/jit/bin/jit.js", "mcp"], env: { JIT_CREDENTIAL_STORE: "file" } });
    assert.deepEqual(jitLaunch({ nodePath: "/n", binPath: "/b", broker: "https://jit.example.com" }).args, ["/b", "mcp", "--broker", "https://jit.example.com"]);
  });

  test("VS Code uses servers with type stdio; Claude Desktop and Cursor use mcpServers", () => {
    const vs = clientSnippet("vscode", launch).config as { servers: { jit: Record<string, unknown> } };
    assert.equal(vs.servers.jit.type, "stdio");
    for (const c of ["claude-desktop", "cursor"] as const) {
      const cfg = clientSnippet(c, launch).config as { mcpServers: { jit: Record<string, unknown> } };
      assert.equal(cfg.mcpServers.jit.command, "/opt/node 24/bin/node");
      assert.equal(clientSnippet(c, launch).command_line, undefined);
    }
  });

  test("Claude Code gets a shell-quoted claude mcp add line", () => {
    assert.equal(
      clientSnippet("claude-code", launch).command_line,
      "claude mcp add jit --env JIT_CREDENTIAL_STORE=file -- '/opt/node 24/bin/node' /opt/jit/bin/jit.js mcp",
    );
    assert.equal(shellWord("it's"), `'it'\\''s'`);
  });
});

test("headerSafe keeps header values printable ASCII and bounded", () => {
  assert.equal(headerSafe("Claude ✨ Desktop\r\nx-evil: 1", 100), "Claude ? Desktop??x-evil: 1");
  assert.equal(headerSafe("a".repeat(200), 100).length, 100);
  assert.equal(headerSafe(undefined, 10), "");
});
